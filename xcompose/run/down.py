"""`down`: remove the project's containers and networks (and volumes with `volumes`), found
by label on every host that answers; a host that fails is reported, the others cleaned."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from xcompose.engines.base import Executor
from xcompose.engines.fleet import Fleet
from xcompose.errors import DockerError, HostError, StepFailed
from xcompose.live import LiveContainer
from xcompose.plan.naming import role_of, step_id_of
from xcompose.plan.steps import Plan, ServiceStep, StepId
from xcompose.run.up import DEFAULT_TIMEOUT, Reporter, run_hooks

HOOK_TIMEOUT_S = DEFAULT_TIMEOUT
# Consumers go before what they consume, on every host at once.
_ROLE_ORDER = {"service": 0, "ambassador-client": 1, "ambassador-server": 2}


@dataclass
class DownResult:
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # pre_stop hooks that failed: the stop went on

    @property
    def ok(self) -> bool:
        return not self.errors


def down(
    project: str,
    fleet: Fleet,
    reporter: Reporter | None = None,
    *,
    plan: Plan | None = None,
    volumes: bool = False,
) -> DownResult:
    order = _reverse_order(plan)
    hooks = {step.id: step.pre_stop for step in plan.steps() if isinstance(step, ServiceStep)} if plan else {}
    result = DownResult(errors=[str(e) for e in fleet.errors])

    def stop_and_remove(executor: Executor, container: LiveContainer) -> None:
        step_id = step_id_of(container.labels)
        if container.state == "running" and step_id in hooks:
            try:
                run_hooks(executor, container.id, hooks[step_id], "pre_stop", container.name, HOOK_TIMEOUT_S)
            except StepFailed as failed:
                result.notes.append(str(failed))
        _stop_and_remove(executor, container)

    def clean(item: tuple[str, Executor]) -> tuple[list[str], list[str]]:
        host, executor = item
        removed: list[str] = []
        try:
            containers = executor.containers(project)
            for group in _removal_groups(containers, order):
                with ThreadPoolExecutor(max_workers=4) as pool:
                    list(pool.map(lambda c: stop_and_remove(executor, c), group))
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

    with ThreadPoolExecutor(max_workers=max(1, len(fleet.executors))) as pool:
        for removed, errors in pool.map(clean, fleet.executors.items()):
            result.removed += removed
            result.errors += errors
    if reporter is not None:
        for line in result.notes:
            reporter.note(f"note: {line}; stopped all the same")
        for line in result.removed:
            reporter.note(f"removed {line}")
    return result


def _stop_and_remove(executor: Executor, container: LiveContainer) -> None:
    if container.state in ("running", "restarting", "paused"):
        executor.stop(container.id, container.stop_timeout)
    executor.remove(container.id)


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
