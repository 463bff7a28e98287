"""Carrying a plan out: `up` converges every host to the plan, `down` removes the project.

Deciding lives in planner.py and converge.py; this module only reads the live state, runs
the steps through the executors in graph order and reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import networkx as nx

from xcompose.ambassador import secure_plan, upload_for
from xcompose.converge import Convergence, LiveState, Placed, decide, step_id_for
from xcompose.errors import HostError
from xcompose.executors.base import DockerError, EngineInfo, Executor, LiveContainer
from xcompose.plan import LABEL_ROLE, HostTarget, Plan, Step, StepAction
from xcompose.walk import StepResult, WalkResult, walk

DEFAULT_TIMEOUT = 120.0


class Reporter(Protocol):
    def step_started(self, step: Step, action: StepAction) -> None: ...
    def step_finished(self, step: Step, action: StepAction, result: StepResult) -> None: ...
    def note(self, text: str) -> None: ...


class StepFailed(Exception):
    """A step could not be carried out; the message is what the user needs to act."""


@dataclass
class Hosts:
    """Executors of the hosts that answered pre-flight, and the errors of those that did not."""

    executors: dict[str, Executor] = field(default_factory=dict)
    info: dict[str, EngineInfo] = field(default_factory=dict)
    errors: list[HostError] = field(default_factory=list)

    def close(self) -> None:
        for executor in self.executors.values():
            executor.close()


def reach_hosts(
    targets: Iterable[HostTarget], make: Callable[[HostTarget], Executor] | None = None
) -> Hosts:
    """Connect to every host at once; a host that fails is reported, never skipped silently."""
    if make is None:
        from xcompose.executors import connect as make
    targets = list(targets)
    hosts = Hosts()

    def check(target: HostTarget) -> tuple[HostTarget, Executor | None, EngineInfo | HostError]:
        executor = make(target)
        try:
            return target, executor, executor.preflight()
        except HostError as error:
            executor.close()
            return target, None, error
        except Exception as error:  # an unexpected transport error is still a host error
            executor.close()
            return target, None, HostError(target.name, target.docker or "local", str(error))

    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        for target, executor, outcome in pool.map(check, targets):
            if isinstance(outcome, HostError):
                hosts.errors.append(outcome)
            else:
                assert executor is not None
                hosts.executors[target.name] = executor
                hosts.info[target.name] = outcome
    return hosts


def read_live(project: str, hosts: Hosts) -> LiveState:
    # Containers and networks of every host at once: over ssh each listing is a round
    # trip or two, and a no-op `up` is little else.
    live = LiveState()
    with ThreadPoolExecutor(max_workers=max(1, 2 * len(hosts.executors))) as pool:
        containers = {n: pool.submit(e.containers, project) for n, e in hosts.executors.items()}
        networks = {n: pool.submit(e.networks, project) for n, e in hosts.executors.items()}
        for name in hosts.executors:
            live.containers[name] = containers[name].result()
            live.networks[name] = networks[name].result()
    return live


def select(plan: Plan, services: Iterable[str]) -> nx.DiGraph:
    """The steps that `up SERVICE…` needs: those services and everything before them."""
    wanted = {f"service:{name}" for name in services}
    keep = set(wanted)
    for step_id in wanted:
        keep |= nx.ancestors(plan.graph, step_id)
    return plan.graph.subgraph(keep).copy()


@dataclass
class UpResult:
    walk: WalkResult
    convergence: Convergence
    removed_orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.walk.ok


def up(
    plan: Plan,
    hosts: Hosts,
    reporter: Reporter,
    *,
    services: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> UpResult:
    services = list(services)
    # Ambassadors: the relay, its TLS credentials and config files (xcompose/ambassador.py).
    plan = secure_plan(plan)
    live = read_live(plan.project, hosts)
    convergence = decide(plan, live)
    graph = select(plan, services) if services else plan.graph

    def run(step_id: str) -> None:
        step = plan.step(step_id)
        executor = hosts.executors[step.host]
        action = convergence.actions[step_id]
        if step.kind == "network":
            assert step.network is not None
            if action.action != "keep":
                executor.ensure_network(step.network)
        elif step.kind == "volume":
            assert step.volume is not None
            executor.ensure_volume(step.volume)
        else:
            stale = convergence.replaced.get(step_id, [])
            _converge_container(step, action, stale, executor, hosts, timeout,
                                upload=upload_for(plan, step_id))

    def started(step_id: str) -> None:
        reporter.step_started(plan.step(step_id), convergence.actions[step_id])

    def finished(result: StepResult) -> None:
        step = plan.step(result.step_id)
        reporter.step_finished(step, convergence.actions[result.step_id], result)

    result = UpResult(WalkResult(), convergence)
    if not services:
        # Orphans go first: a replaced client ambassador must not keep answering for an
        # alias that the moved service now carries on the same host.
        for orphan in convergence.orphans:
            executor = hosts.executors[orphan.step.host]
            executor.stop(orphan.container.id)
            executor.remove(orphan.container.id)
            result.removed_orphans.append(f"{orphan.container.name} on {orphan.step.host}")
            reporter.note(f"removed orphan {orphan.container.name} on {orphan.step.host}")
    limits = {name: target.max_parallel for name, target in plan.hosts.items()}
    result.walk = walk(graph, run, lambda s: plan.step(s).host, limits, started, finished)
    if result.walk.ok and not services:
        for host, networks in convergence.stale_networks.items():
            for network in networks:
                hosts.executors[host].remove_network(network.name)
    return result


def _converge_container(
    step: Step,
    action: StepAction,
    stale: list[Placed],
    executor: Executor,
    hosts: Hosts,
    timeout: float,
    upload: bytes | None = None,
) -> None:
    spec = step.container
    assert spec is not None
    if action.action == "keep":
        for placed in stale:  # duplicates left by an interrupted run
            hosts.executors[placed.host].remove(placed.container.id)
        return
    _ensure_image(executor, spec.image, spec.pull_policy)
    here = [p for p in stale if p.host == step.host]
    for placed in stale:
        if placed.host != step.host:  # the service moved: its old place goes first
            other = hosts.executors[placed.host]
            other.stop(placed.container.id)
            other.remove(placed.container.id)
    # As Compose does: the old container steps aside (stopped, renamed) until the new one
    # runs, so a failed create can put it back.
    for placed in here:
        executor.stop(placed.container.id)
        executor.rename(placed.container.id, f"{spec.name}_old_{placed.container.id[:12]}")
    try:
        container_id = executor.create(spec)
        if upload is not None:  # ambassador config and certificates: files, before start
            executor.put_archive(container_id, "/", upload)
        executor.start(container_id)
    except DockerError as error:
        if here:  # put the old container back where it was
            executor.remove(spec.name)
            executor.rename(here[0].container.id, spec.name)
            executor.start(here[0].container.id)
        raise StepFailed(f"{step.id} on {step.host}: {error}") from error
    for placed in here:
        executor.remove(placed.container.id)
    wait_ready(step, container_id, executor, timeout)


def _ensure_image(executor: Executor, image: str, policy: str) -> None:
    if policy == "always" or (policy == "missing" and executor.image_id(image) is None):
        try:
            executor.pull(image)
        except DockerError as error:
            raise StepFailed(f"pulling {image}: {error}") from error
    elif policy == "never" and executor.image_id(image) is None:
        raise StepFailed(f"image {image} is not on the host and pull_policy is never")


def wait_ready(step: Step, container_id: str, executor: Executor, timeout: float) -> None:
    """Running, healthy where a healthcheck exists, and for ambassadors relaying: the
    dependents of a step start only after this returns."""
    spec = step.container
    assert spec is not None
    deadline = time.monotonic() + timeout
    pause = 0.05
    waiting_for = "to run"
    while True:
        current = executor.inspect(container_id)
        if current.state == "running":
            if spec.healthcheck is not None:
                waiting_for = f"to become healthy (health: {current.health or 'none yet'})"
                if current.health == "healthy":
                    return
                if current.health == "unhealthy":
                    raise StepFailed(f"{step.id} on {step.host}: container is unhealthy")
            elif step.probe is not None:
                waiting_for = "to accept connections on its relayed ports"
                code, _ = executor.exec(container_id, step.probe, timeout=5)
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


# Down removes consumers before what they consume, on every host at once.
_ROLE_ORDER = {"service": 0, "ambassador-client": 1, "ambassador-server": 2}


@dataclass
class DownResult:
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def down(
    project: str,
    hosts: Hosts,
    reporter: Reporter | None = None,
    *,
    plan: Plan | None = None,
    volumes: bool = False,
) -> DownResult:
    """Remove the project's containers and networks (and volumes with `volumes`), found by
    label on every reachable host; a host that fails is reported, the others still cleaned."""
    order = _reverse_order(plan)
    result = DownResult(errors=[str(e) for e in hosts.errors])

    def clean(item: tuple[str, Executor]) -> tuple[list[str], list[str]]:
        host, executor = item
        removed: list[str] = []
        try:
            containers = executor.containers(project)
            for group in _removal_groups(containers, order):
                with ThreadPoolExecutor(max_workers=4) as pool:
                    list(pool.map(lambda c: _stop_and_remove(executor, c), group))
                removed += [f"{c.name} on {host}" for c in group]
            for network in executor.networks(project):
                executor.remove_network(network.name)
            if volumes:
                for volume in executor.volumes(project):
                    executor.remove_volume(volume.name)
                    removed.append(f"volume {volume.name} on {host}")
        except (DockerError, HostError, OSError) as error:
            return removed, [f"host {host}: {error}"]
        return removed, []

    with ThreadPoolExecutor(max_workers=max(1, len(hosts.executors))) as pool:
        for removed, errors in pool.map(clean, hosts.executors.items()):
            result.removed += removed
            result.errors += errors
    if reporter is not None:
        for line in result.removed:
            reporter.note(f"removed {line}")
    return result


def _stop_and_remove(executor: Executor, container: LiveContainer) -> None:
    if container.state in ("running", "restarting", "paused"):
        executor.stop(container.id)
    executor.remove(container.id)


def _reverse_order(plan: Plan | None) -> Mapping[str, int]:
    if plan is None:
        return {}
    ordered = list(nx.lexicographical_topological_sort(plan.graph))
    return {step_id: len(ordered) - index for index, step_id in enumerate(ordered)}


def _removal_groups(
    containers: list[LiveContainer], order: Mapping[str, int]
) -> list[list[LiveContainer]]:
    """Containers grouped so that consumers go before what they consume; containers the
    plan does not know (orphans, an edited file) go first."""

    def rank(container: LiveContainer) -> tuple[int, int]:
        step_id = step_id_for(container)
        if step_id in order:
            return (1, order[step_id])
        if step_id is None or not order:
            return (0, _ROLE_ORDER.get(container.labels.get(LABEL_ROLE, ""), 0))
        return (0, 0)

    groups: dict[tuple[int, int], list[LiveContainer]] = {}
    for container in containers:
        groups.setdefault(rank(container), []).append(container)
    return [groups[key] for key in sorted(groups)]

