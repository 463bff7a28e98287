"""`down`: remove the project's containers and networks (and volumes with `volumes`), found
by label on every host that answers; a host that fails is reported, the others cleaned."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from xcompose.engines.base import Executor
from xcompose.engines.fleet import Fleet
from xcompose.errors import DockerError, HostError, StepFailed
from xcompose.live import LiveContainer
from xcompose.plan.images import image_of
from xcompose.plan.naming import role_of, step_id_of
from xcompose.plan.steps import Plan, ServiceStep, StepId
from xcompose.run.statebox import StateBox
from xcompose.run.up import DEFAULT_TIMEOUT, Reporter, run_hooks

HOOK_TIMEOUT_S = DEFAULT_TIMEOUT
# Consumers go before what they consume, on every host at once.
_ROLE_ORDER = {"service": 0, "ambassador-client": 1, "ambassador-server": 2}


@dataclass(frozen=True)
class DownOptions:
    volumes: bool = False  # the project's named volumes too, and its PKI copies
    remove_orphans: bool = False  # containers of services no longer in the file too
    stop_timeout: int | None = None  # None: each container's own grace period
    rmi: Literal["all", "local"] | None = None  # the services' images (local: those built unnamed)


@dataclass
class DownResult:
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # failed pre_stop hooks, kept orphans and networks

    @property
    def ok(self) -> bool:
        return not self.errors


def down(
    project: str,
    fleet: Fleet,
    reporter: Reporter | None = None,
    *,
    plan: Plan | None = None,
    options: DownOptions | None = None,
) -> DownResult:
    """Remove the project from every host; without a plan (the file is not known), all
    that carries the project's label."""
    options = options or DownOptions()
    order = _reverse_order(plan)
    steps = [step for step in plan.steps() if isinstance(step, ServiceStep)] if plan else []
    hooks = {step.id: step.pre_stop for step in steps}
    services = {step.service for step in steps}
    result = DownResult(errors=[str(e) for e in fleet.errors])

    def orphan(container: LiveContainer) -> bool:
        """A service's container whose service the file no longer has: kept unless asked,
        as Compose keeps it. Ambassadors are xcompose's own and always go."""
        step_id = step_id_of(container.labels)
        return plan is not None and not options.remove_orphans and step_id is not None \
            and step_id.kind == "service" and step_id.name not in services

    def stop_and_remove(executor: Executor, container: LiveContainer) -> None:
        step_id = step_id_of(container.labels)
        if container.state == "running" and step_id in hooks:
            try:
                run_hooks(executor, container.id, hooks[step_id], "pre_stop", container.name, HOOK_TIMEOUT_S)
            except StepFailed as failed:
                result.notes.append(f"{failed}; stopped all the same")
        _stop_and_remove(executor, container, options.stop_timeout)

    def clean(item: tuple[str, Executor]) -> tuple[list[str], list[str]]:
        host, executor = item
        removed: list[str] = []
        try:
            containers = executor.containers(project)
            kept = [c for c in containers if orphan(c)]
            if kept:
                result.notes.append(f"kept orphan containers (their services are not in the file): "
                                    f"{', '.join(f'{c.name} on {host}' for c in kept)}; "
                                    "`down --remove-orphans` removes them")
            for group in _removal_groups([c for c in containers if c not in kept], order):
                with ThreadPoolExecutor(max_workers=4) as pool:
                    list(pool.map(lambda c: stop_and_remove(executor, c), group))
                removed += [f"{c.name} on {host}" for c in group]
            for network in executor.networks(project):
                try:
                    executor.remove_network(network.name)
                except DockerError as error:
                    if not kept:
                        raise
                    result.notes.append(f"kept network {network.name} on host {host}: {error}")
            removed += _remove_images(executor, project, host, [s for s in steps if s.host == host], options.rmi,
                                      result)
            if options.volumes:
                for volume in executor.volumes(project):
                    executor.remove_volume(volume.name)
                    removed.append(f"volume {volume.name} on {host}")
                # The project's data, all of it: the next `up` makes a new CA.
                pki = StateBox(executor, project, "pki")
                if pki.labels_and_id() is not None:
                    executor.remove(pki.name)
                    removed.append(f"the project's PKI copy on {host}")
        except (DockerError, HostError, OSError) as error:
            return removed, [f"host {host}: {error}"]
        return removed, []

    with ThreadPoolExecutor(max_workers=max(1, len(fleet.executors))) as pool:
        for removed, errors in pool.map(clean, fleet.executors.items()):
            result.removed += removed
            result.errors += errors
    if reporter is not None:
        for line in result.notes:
            reporter.note(f"note: {line}")
        for line in result.removed:
            reporter.note(f"removed {line}")
    return result


def _stop_and_remove(executor: Executor, container: LiveContainer, timeout: int | None = None) -> None:
    if container.state in ("running", "restarting", "paused"):
        executor.stop(container.id, container.stop_timeout if timeout is None else timeout)
    executor.remove(container.id)


def _remove_images(
    executor: Executor, project: str, host: str, steps: list[ServiceStep], rmi: str | None, result: DownResult
) -> list[str]:
    """`--rmi`: the images of the host's services (`local`: only those built without an
    `image:` name). One still used elsewhere stays, with a note."""
    if rmi is None:
        return []
    removed = []
    for step in steps:
        image = step.container.image
        unnamed = step.build is not None and image == image_of(project, step.service, None)
        if rmi == "local" and not unnamed:
            continue
        try:
            executor.remove_image(image)
        except DockerError as error:
            result.notes.append(f"kept image {image} on host {host}: {error}")
            continue
        removed.append(f"image {image} on {host}")
    return list(dict.fromkeys(removed))


def _reverse_order(plan: Plan | None) -> Mapping[StepId, int]:
    if plan is None:
        return {}
    ordered = [step.id for step in plan.steps()]
    return {step_id: len(ordered) - index for index, step_id in enumerate(ordered)}


def _removal_groups(containers: list[LiveContainer], order: Mapping[StepId, int]) -> list[list[LiveContainer]]:
    """Containers grouped so that consumers go before what they consume; containers the
    plan does not know (orphans, an edited file) go first."""

    def rank(container: LiveContainer) -> tuple[int, int]:
        step_id = step_id_of(container.labels)
        if step_id is not None and step_id in order:
            return (1, order[step_id])
        if step_id is None or not order:
            return (0, _ROLE_ORDER.get(role_of(container.labels) or "", 0))
        return (0, 0)

    groups: dict[tuple[int, int], list[LiveContainer]] = {}
    for container in containers:
        groups.setdefault(rank(container), []).append(container)
    return [groups[key] for key in sorted(groups)]
