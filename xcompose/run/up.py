"""`up`: converge every host to the plan. Reads the live state, lets `decide` choose what to
do per step, then runs the steps through the executors in graph order and reports.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from xcompose.alloc import paused_gc
from xcompose.engines.base import Executor
from xcompose.engines.fleet import Fleet
from xcompose.errors import DockerError, HostError, StepFailed
from xcompose.live import LiveContainer, Placed
from xcompose.plan.converge import Convergence, Recreate, StepAction, decide
from xcompose.plan.naming import LABEL_TLS_CERT, applied_labels, aside_name, containers_of
from xcompose.plan.specs import ContainerSpec, Hook
from xcompose.plan.steps import (
    AMBASSADOR_STEPS,
    CONTAINER_STEPS,
    ContainerStep,
    NetworkStep,
    Plan,
    ServiceStep,
    Step,
    StepId,
)
from xcompose.run.images import ensure_built
from xcompose.run.walk import StepResult, WalkResult, walk

DEFAULT_TIMEOUT = 120.0


class Reporter(Protocol):
    def step_started(self, step: Step, action: StepAction) -> None: ...
    def step_finished(self, step: Step, action: StepAction, result: StepResult[StepId]) -> None: ...
    def note(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def build_output(self, service: str, host: str, line: str) -> None: ...


@dataclass(frozen=True)
class UpOptions:
    """What `up` is asked for beyond the plan, as Compose's `up` flags say it."""

    services: tuple[str, ...] = ()  # only these and what they need (no orphan removal)
    no_deps: bool = False  # only these, not what they need
    without: tuple[str, ...] = ()  # what these need, but not they (`run`: its service's needs)
    recreate: Recreate = "changed"
    remove_orphans: bool = False  # containers of services no longer in the file
    wait_timeout: float = DEFAULT_TIMEOUT  # for each step to become ready
    no_start: bool = False  # create the containers, start none
    stop_timeout: int | None = None  # for a replaced container to stop (None: its own)
    applied_by: str | None = None  # who runs it, labelled on each container made (None: no label)


@dataclass
class UpResult:
    walk: WalkResult[StepId]
    convergence: Convergence
    removed_orphans: list[str] = field(default_factory=list)
    kept_orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.walk.ok


@paused_gc()
def up(plan: Plan, fleet: Fleet, reporter: Reporter, options: UpOptions | None = None,
       may_work_on: Callable[[str], bool] = lambda _host: True) -> UpResult:
    """Carry the plan out, as `options` say. `may_work_on(host)` is asked before each step
    (the project lock: False once this run can no longer prove it holds it there).

    Without the cyclic collector, as planning: the live state and the walk's records grow
    a heap that holds the plan already, and each full collection rescanned all of it (8 s
    of a 10,000-service `up`). Reference counting frees as usual."""
    options = options or UpOptions()
    services, timeout = options.services, options.wait_timeout
    unsigned = sorted(str(s.id) for s in plan.unordered() if isinstance(s, AMBASSADOR_STEPS) and s.relay.tls
                      and LABEL_TLS_CERT not in dict(s.container.labels))
    if unsigned:
        raise ValueError(f"planned without the project's credentials: {', '.join(unsigned)}")
    live, failures = fleet.read_live(plan.project)
    if failures:
        raise failures[0]
    convergence = decide(plan, live, options.recreate)
    chosen = [StepId.service(name) for name in services]
    todo = (plan.alone(chosen) if options.no_deps else plan.needed_for(chosen)) if services else plan
    if options.without:
        todo = todo.without(StepId.service(name) for name in options.without)
    result = UpResult(WalkResult(), convergence)
    if not services:
        # Orphans go first: a replaced client ambassador must not keep answering for an
        # alias that the moved service now carries on the same host. Ambassadors are
        # xcompose's own and always go; a service's container only with --remove-orphans,
        # as Compose has it (a forgotten -f must not delete that file's services).
        for orphan in convergence.orphans:
            container = orphan.placed.container
            if orphan.id.kind == "service" and not options.remove_orphans:
                result.kept_orphans.append(f"{container.name} on {orphan.host}")
                continue
            where = f"removing orphan {container.name} on host {orphan.host}"
            try:
                _stop_and_remove(fleet.executors[orphan.host], container)
            except DockerError as error:
                raise StepFailed(f"{where}: {error.message}") from error
            result.removed_orphans.append(f"{container.name} on {orphan.host}")
            reporter.note(f"removed orphan {container.name} on {orphan.host}")

    images: set[tuple[str, str]] = set()  # (host, image) found there during this run

    def asks_no_engine(step_id: StepId) -> bool:
        """Whether the step needs nothing of its host: a network or container kept as it is
        (a volume is ensured each time)."""
        step = plan.step(step_id)
        if isinstance(step, NetworkStep):
            return convergence.actions[step_id].action == "keep"
        return (isinstance(step, CONTAINER_STEPS) and not convergence.remake.get(step_id)
                and not convergence.replaced.get(step_id))

    def run(step_id: StepId) -> None:
        step = plan.step(step_id)
        if not may_work_on(step.host):
            raise StepFailed(f"not started on host {step.host}: this run could not renew the project lock there "
                             "in time, so another run may hold it now")
        if asks_no_engine(step_id):
            return
        executor = fleet.executors[step.host]
        if isinstance(step, NetworkStep):
            executor.ensure_network(step.network)
        elif isinstance(step, CONTAINER_STEPS):
            _converge_container(step, convergence.remake.get(step_id, ()), convergence.replaced.get(step_id, []),
                                fleet, reporter, timeout, options.stop_timeout, start=not options.no_start,
                                applied_by=options.applied_by, images=images)
        else:
            executor.ensure_volume(step.volume)

    def started(step_id: StepId) -> None:
        reporter.step_started(plan.step(step_id), convergence.actions[step_id])

    def finished(outcome: StepResult[StepId]) -> None:
        reporter.step_finished(plan.step(outcome.step_id), convergence.actions[outcome.step_id], outcome)

    limits = {name: target.max_parallel for name, target in plan.hosts.items()}
    result.walk = walk(todo.dependencies(), run, lambda s: plan.step(s).host, limits, started, finished,
                       host_lost=lambda error: isinstance(error, HostError), at_once=asks_no_engine)
    if result.kept_orphans:
        reporter.note(f"orphan containers (their services are not in the file): {', '.join(result.kept_orphans)}; "
                      "`up --remove-orphans` removes them")
    if result.walk.ok and not services:
        for host, networks in convergence.stale_networks.items():
            for network in networks:
                try:
                    fleet.executors[host].remove_network(network.name)
                except DockerError as error:  # in use by a container that is not ours: leave it
                    reporter.note(f"kept network {network.name} on host {host}: {error.message}")
    return result


def _stop_and_remove(executor: Executor, container: LiveContainer, timeout: int | None = None) -> None:
    """Within `timeout`, else the container's own grace period (`stop_grace_period`)."""
    executor.stop(container.id, container.stop_timeout if timeout is None else timeout)
    executor.remove(container.id)


def _converge_container(
    step: ContainerStep, remake: tuple[int, ...], stale: list[Placed], fleet: Fleet, reporter: Reporter,
    timeout: float, stop_timeout: int | None = None, *, start: bool = True, applied_by: str | None = None,
    images: set[tuple[str, str]] | None = None,
) -> None:
    """Make the step's containers in `remake` (by position in `containers_of`) and remove
    the `stale` ones: those replaced, moved, or beyond the planned replicas."""
    executor = fleet.executors[step.host]
    if not remake:
        for placed in stale:  # replicas no longer planned, duplicates left by an interrupted run
            _stop_and_remove(fleet.executors[placed.host], placed.container, stop_timeout)
        return
    ensure_image(executor, step, reporter, images)
    here = [p for p in stale if p.host == step.host]
    for placed in stale:
        if placed.host != step.host:  # the service moved: its old place goes first
            _stop_and_remove(fleet.executors[placed.host], placed.container, stop_timeout)
    # As Compose does: the old containers step aside (stopped, renamed) until the new ones
    # run, so a failed create can put them back.
    for placed in here:
        if isinstance(step, ServiceStep) and placed.container.state == "running":
            run_hooks(executor, placed.container.id, step.pre_stop, "pre_stop", placed.container.name, timeout)
        executor.stop(placed.container.id, placed.container.stop_timeout if stop_timeout is None else stop_timeout)
        executor.rename(placed.container.id, aside_name(placed.container.name, placed.container.id))
    specs = containers_of(step)
    made: list[tuple[ContainerSpec, str, LiveContainer | None]] = []
    # Before start: an ambassador's config and certificates, a service's secrets and configs.
    files = step.files if isinstance(step, ServiceStep) else step.relay.files
    hooks = step.post_start if isinstance(step, ServiceStep) else ()
    try:
        for index in remake:
            spec = stamped(specs[index], applied_by)
            container_id = executor.create(spec)
            if not start:  # `up --no-start`: nothing to wait for
                if files:
                    executor.upload(container_id, files)
                continue
            # A service is then waited for by inspecting it: the first inspect comes with its
            # start (unless hooks run between); an ambassador is waited for by its probe.
            state = executor.launch(container_id, files, inspect=isinstance(step, ServiceStep) and not hooks)
            made.append((spec, container_id, state))
            run_hooks(executor, container_id, hooks, "post_start", spec.name, timeout)
    except (DockerError, StepFailed) as error:
        for index in remake:  # put the old containers back where they were
            executor.remove(specs[index].name)
        for placed in here:
            executor.rename(placed.container.id, placed.container.name)
            executor.start(placed.container.id)
        raise StepFailed(f"{step.id} on {step.host}: {error}") from error
    for placed in here:
        executor.remove(placed.container.id)
    for spec, container_id, state in made:
        wait_ready(step, spec, container_id, executor, timeout, state)


def stamped(spec: ContainerSpec, applied_by: str | None) -> ContainerSpec:
    """The spec with who makes its container, and now, as labels (its hash unchanged)."""
    if applied_by is None:
        return spec
    return spec.stamped(_stamp(applied_by, int(time.time())))


@functools.lru_cache(maxsize=2)
def _stamp(operator: str, second: int) -> tuple[tuple[str, str], ...]:
    """The labels are to the second: made once a second, not for each of the containers
    made in it (1.6 us each, 0.06 s of a fresh `up` of 10,000 services)."""
    return applied_labels(operator, datetime.fromtimestamp(second, timezone.utc))


def run_hooks(executor: Executor, container_id: str, hooks: tuple[Hook, ...], kind: str, name: str,
              timeout: float) -> None:
    """Each hook in turn; one that fails fails the step, with its exit code and output."""
    for hook in hooks:
        code, output = executor.exec(container_id, hook.command, timeout, options=hook.options)
        if code != 0:
            tail = "\n".join(output.strip().splitlines()[-5:])
            raise StepFailed(f"{kind} hook {shlex.join(hook.command)} in {name} exited with code {code}"
                             + (f"; last output:\n{tail}" if tail else ""))


def ensure_image(executor: Executor, step: ContainerStep, reporter: Reporter,
                 present: set[tuple[str, str]] | None = None) -> None:
    """The step's image on its host, pulled or built as its policy says. `present`: the
    (host, image) pairs found during this run, each asked of its host once rather than
    once per container (a round trip each: 36,000 for 10,000 services). Adding to and
    reading a set are atomic under the GIL: two steps may both ask, nothing worse."""
    spec = step.container
    if isinstance(step, ServiceStep) and step.build is not None:
        # Built before the walk (run/images.py): built here only if it is missing all the
        # same (removed meanwhile, or `up` called without that phase). Never pulled here.
        if executor.image_id(spec.image) is None:
            try:
                ensure_built(executor, step, reporter)
            except DockerError as error:
                raise StepFailed(f"building {spec.image}: {error}") from error
        return
    policy = spec.pull_policy
    found = (executor.target.name, spec.image)
    if policy in ("missing", "never") and present is not None and found in present:
        return
    if policy == "always" or (policy == "missing" and executor.image_id(spec.image) is None):
        try:
            executor.pull(spec.image, spec.platform)
        except DockerError as error:
            raise StepFailed(f"pulling {spec.image}: {error}") from error
    elif policy == "never" and executor.image_id(spec.image) is None:
        raise StepFailed(f"image {spec.image} is not on the host and pull_policy is never")
    if present is not None:
        present.add(found)


def wait_ready(step: ContainerStep, spec: ContainerSpec, container_id: str, executor: Executor, timeout: float,
               started: LiveContainer | None = None) -> None:
    """Running, healthy where a healthcheck exists, and for ambassadors relaying: the
    dependents of a step start only after this returns (for each of its containers).
    `started`: the container as inspected right after its start, taken as the first look."""
    probe = None if isinstance(step, ServiceStep) else step.relay.probe
    if probe is not None and spec.healthcheck is None:
        # Only a running container that relays passes the probe: asked first, it spares an
        # inspect per ambassador (a round trip each, 26,000 of them for 10,000 services).
        # An engine refuses an exec into a container that is not running: then as below.
        with contextlib.suppress(DockerError):
            if executor.exec(container_id, probe, timeout=5)[0] == 0:
                return
    deadline = time.monotonic() + timeout
    pause = 0.05
    waiting_for = "to run"
    while True:
        current = started if started is not None else executor.inspect(container_id)
        started = None  # looked at once: from now on, asked
        if current.state == "running":
            if spec.healthcheck is not None:
                waiting_for = f"to become healthy (health: {current.health or 'none yet'})"
                if current.health == "healthy":
                    return
                if current.health == "unhealthy":
                    raise StepFailed(f"{step.id} on {step.host}: container is unhealthy")
            elif probe is not None:
                waiting_for = "to accept connections on its relayed ports"
                code, _ = executor.exec(container_id, probe, timeout=5)
                if code == 0:
                    return
            else:
                return
        elif current.state in ("exited", "dead"):
            one_shot = spec.restart in (None, "no") and current.exit_code == 0
            if one_shot:
                return
            tail = "\n".join(list(executor.logs(container_id, tail=5)))
            raise StepFailed(
                f"{step.id} on {step.host}: container exited with code {current.exit_code}"
                + (f"; last output:\n{tail}" if tail else "")
            )
        if time.monotonic() > deadline:
            raise StepFailed(
                f"{step.id} on {step.host}: timed out after {timeout:g}s waiting for "
                f"{spec.name} {waiting_for}"
            )
        time.sleep(pause)
        pause = min(pause * 2, 1.0)

