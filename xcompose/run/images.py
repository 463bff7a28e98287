"""The images of services that `build:` them, made on their hosts before anything runs.

As Compose's `up` does: an image is built when it is missing on its host, every time with
`pull_policy: build` or `--build`, and never pulled unless `pull_policy: always` says so
(a failed pull then falls back to building). Builds run in parallel, bounded per host;
afterwards the id each image has on its host is pinned into the plan, so a container made
from an older image under the same name is re-created.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Literal, Protocol

from xcompose.engines.base import Executor
from xcompose.engines.context import build_context
from xcompose.engines.fleet import Fleet
from xcompose.errors import DockerError, StepFailed
from xcompose.plan.steps import Plan, ServiceStep, StepId
from xcompose.run.walk import walk

ImageAction = Literal["build", "pull", "none"]


class BuildReporter(Protocol):
    def note(self, text: str) -> None: ...
    def build_output(self, service: str, host: str, line: str) -> None: ...


def image_action(policy: str, present: bool, force: bool) -> ImageAction:
    """What a service with `build:` needs before it runs: `force` is `--build` (or the
    `build` command)."""
    if force or policy == "build":
        return "build"
    if policy == "always":
        return "pull"
    return "none" if present else "build"


def built_steps(plan: Plan) -> dict[str, ServiceStep]:
    """The service steps of the plan whose image is built, by service (in no order)."""
    return {step.service: step for step in plan.unordered()
            if isinstance(step, ServiceStep) and step.build is not None}


def build_images(
    plan: Plan,
    fleet: Fleet,
    reporter: BuildReporter,
    *,
    build: Collection[str] = (),
    force: bool = False,
    no_cache: bool = False,
    pull: bool = False,
) -> dict[str, str | None]:
    """Build the images of the services in `build` that need it (all of them with `force`)
    and read the id every built image of the plan has on its host (None: not there), for
    the hosts the fleet reached. A failed build raises StepFailed naming each service and
    host that failed."""
    steps = {name: step for name, step in built_steps(plan).items() if step.host in fleet.executors}
    ids: dict[str, str | None] = {}

    def run(service: str) -> None:
        step = steps[service]
        executor = fleet.executors[step.host]
        if service in build:
            ids[service] = ensure_built(executor, step, reporter, force=force, no_cache=no_cache, pull=pull)
        else:
            ids[service] = executor.image_id(step.container.image)

    if not steps:
        return ids
    limits = {name: target.max_parallel for name, target in plan.hosts.items()}
    result = walk(dict.fromkeys(sorted(steps), ()), run, lambda s: steps[s].host, limits)
    if not result.ok:
        lines = [f"building {f.step_id} on host {steps[f.step_id].host}: {f.error}" for f in result.failed]
        if result.not_started:
            lines.append(f"not built: {', '.join(sorted(result.not_started))}")
        raise StepFailed("\n".join(lines))
    return ids


def ensure_built(
    executor: Executor, step: ServiceStep, reporter: BuildReporter, *,
    force: bool = False, no_cache: bool = False, pull: bool = False,
) -> str:
    """The id of the service's image on its host, built (or pulled) first when due."""
    assert step.build is not None
    image, service, host = step.container.image, step.service, step.host
    present = executor.image_id(image)
    action = image_action(step.container.pull_policy, present is not None, force)
    if action == "none" and present is not None:
        return present
    if action == "pull":
        try:
            executor.pull(image)
        except DockerError as error:
            reporter.note(f"pulling {image} for {service} failed ({error.message}); building it instead")
        else:
            pulled = executor.image_id(image)
            if pulled is not None:
                return pulled
    spec = replace(step.build, no_cache=step.build.no_cache or no_cache, pull=step.build.pull or pull)
    started = time.monotonic()
    with build_context(spec) as context:
        size = f", context {context.size / 1e6:.1f} MB" if context.archive is not None else ""
        reporter.note(f"building {image} for {service} on {host}{size}")
        image_id = executor.build(context.spec, context.archive,
                                  lambda line: reporter.build_output(service, host, line))
    reporter.note(f"built {image} for {service} on {host} in {time.monotonic() - started:.1f}s")
    return image_id


def pin_images(plan: Plan, ids: Mapping[str, str | None]) -> Plan:
    """The plan with the id of each built image in its service's container spec: part of
    the config hash, so a container of an older image under the same name is re-created."""
    pinned = []
    for service, image_id in ids.items():
        step = plan.step(StepId.service(service))
        if image_id is not None and isinstance(step, ServiceStep):
            pinned.append(step.with_container(replace(step.container, image_id=image_id)))
    return plan.replacing(pinned) if pinned else plan
