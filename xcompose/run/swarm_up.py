"""`up` on a swarm: pre-flight (the manager is one, every host is a node, labelled), then
the decided steps through the manager, each as soon as what it needs is ready (run/walk.py),
waiting for a service's tasks to run, which Swarm says only once they are healthy where a
healthcheck is set."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from xcompose.engines.swarm import SwarmState, TaskFacts
from xcompose.errors import XcomposeError
from xcompose.plan.converge import Recreate, StepAction
from xcompose.plan.swarm_converge import LiveService, LiveSwarm, SwarmConvergence, decide_swarm
from xcompose.plan.swarm_nodes import LabelChange, NodeFacts, NodeMatch, match_nodes
from xcompose.plan.swarm_steps import OverlaySpec, SwarmObjectSpec, SwarmPlan, SwarmServiceSpec, SwarmStep
from xcompose.run.walk import StepResult, WalkResult, walk

POLL_S = 0.25
# Failed tasks of one service, in one wait, after which Swarm's retrying is not waited out:
# a missing image or a command that exits at once fails every retry the same way.
FAILED_TASKS_GIVE_UP = 3
MANAGER_CALLS = 4  # steps carried out at once through the manager


class Manager(Protocol):
    """What `up` asks of a swarm's manager (engines/swarm.py: SwarmManager)."""

    def state(self) -> SwarmState: ...
    def nodes(self) -> list[NodeFacts]: ...
    def relabel(self, change: LabelChange) -> None: ...
    def read_live(self, project: str) -> LiveSwarm: ...
    def tasks(self, service: str | None = None, project: str | None = None) -> list[TaskFacts]: ...
    def create_overlay(self, spec: OverlaySpec) -> None: ...
    def create_object(self, spec: SwarmObjectSpec) -> None: ...
    def object_ids(self, project: str) -> dict[str, str]: ...
    def find_objects(self, wanted: set[tuple[str, str]]) -> dict[str, str]: ...
    def create_service(self, spec: SwarmServiceSpec, project: str, object_ids: dict[str, str]) -> None: ...
    def update_service(self, live: LiveService, spec: SwarmServiceSpec, project: str,
                       object_ids: dict[str, str], force_update: int = 0) -> None: ...
    def remove_service(self, name: str) -> None: ...
    def remove_network(self, name: str) -> None: ...
    def remove_object(self, kind: str, name: str) -> None: ...


class SwarmReporter(Protocol):
    def step_started(self, step: SwarmStep, action: StepAction) -> None: ...
    def step_finished(self, step: SwarmStep, action: StepAction, result: StepResult[str]) -> None: ...
    def note(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...


@dataclass(frozen=True)
class SwarmUpOptions:
    wait_timeout: float = 120.0  # for each service's tasks to run
    remove_orphans: bool = False  # services of the project no longer in the file
    recreate: Recreate = "changed"  # when a service's tasks are replaced
    # The plan is the whole project: what it no longer has may go. Not so for `up SERVICE…`,
    # whose plan leaves the other services and their secrets out.
    whole: bool = True


@dataclass
class SwarmUpResult:
    walk: WalkResult[str]
    convergence: SwarmConvergence
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.walk.ok


class NotASwarm(XcomposeError):
    pass


def require_manager(manager: Manager, host: str) -> SwarmState:
    """The manager's swarm state; raises, saying how to make one, when its engine is none."""
    state = manager.state()
    if state.local_state != "active" or not state.is_manager:
        where = "a worker" if state.local_state == "active" else f"not in a swarm ({state.local_state})"
        raise NotASwarm(f"host {host} is {where}, and engine: swarm needs the swarm's manager there: run "
                        "`docker swarm init` on it (the lab: `xcompose lab up --swarm`), or name the manager "
                        "with `swarm: {manager: HOST}`")
    return state


def preflight(manager: Manager, plan: SwarmPlan) -> NodeMatch:
    """Stops before anything changes when the manager is none, or a host is not a node of
    its swarm; labels each host's node so that services can be pinned to it."""
    state = require_manager(manager, plan.manager)
    match = match_nodes(plan.hosts, plan.manager, state.node_id, manager.nodes())
    if match.problems:
        raise NotASwarm("\n".join(match.problems))
    for change in match.changes:
        manager.relabel(change)
    return match


def up_swarm(manager: Manager, plan: SwarmPlan, reporter: SwarmReporter,
             options: SwarmUpOptions) -> SwarmUpResult:
    live = manager.read_live(plan.project)
    decided = decide_swarm(plan, live, recreate=options.recreate)
    stuck = [f"{step_id}: {a.reason}" for step_id, a in decided.actions.items()
             if a.action == "recreate" and step_id.startswith("overlay:")]
    if stuck:
        raise XcomposeError("\n".join(stuck))
    object_ids = {**live.secrets, **live.configs, **external_object_ids(manager, plan)}

    def run(step_id: str) -> None:
        step = plan.step(step_id)
        action = decided.actions[step_id]
        spec = step.spec
        if action.action == "keep":
            return
        if isinstance(spec, OverlaySpec):
            manager.create_overlay(spec)
        elif isinstance(spec, SwarmObjectSpec):
            manager.create_object(spec)
            object_ids.update(manager.object_ids(plan.project))
        elif isinstance(spec, SwarmServiceSpec):
            found = live.services.get(spec.name)
            counter = 0
            if found is None:
                manager.create_service(spec, plan.project, object_ids)
            else:
                # Raised only to replace unchanged tasks: a changed spec replaces them anyway.
                counter = found.force_update + 1 if found.digest == spec.digest() else found.force_update
                manager.update_service(found, spec, plan.project, object_ids, counter)
            wait_for_tasks(manager, spec, options.wait_timeout, plan.encrypted, counter)

    def started(step_id: str) -> None:
        if decided.actions[step_id].action != "keep":
            reporter.step_started(plan.step(step_id), decided.actions[step_id])

    def finished(result: StepResult[str]) -> None:
        if decided.actions[result.step_id].action != "keep" or result.outcome != "done":
            reporter.step_finished(plan.step(result.step_id), decided.actions[result.step_id], result)

    dependencies = {step.id: plan.after(step.id) for step in plan.steps()}
    result = walk(dependencies, run, lambda _step: plan.manager, {plan.manager: MANAGER_CALLS},
                  on_start=started, on_finish=finished)
    removed: list[str] = []
    if result.ok and options.whole:
        if options.remove_orphans:
            for name in decided.orphan_services:
                manager.remove_service(name)
                removed.append(name)
        _drop_unused_objects(manager, decided, reporter)
    return SwarmUpResult(result, decided, removed)


def external_object_ids(manager: Manager, plan: SwarmPlan) -> dict[str, str]:
    """Docker name -> id of the external secrets and configs the plan's services are given:
    the swarm's own, made outside the file. One that is missing stops `up` before anything
    is made, with the command that makes it."""
    made = {step.spec.name for step in plan.steps() if isinstance(step.spec, SwarmObjectSpec)}
    services = [step.spec for step in plan.steps() if isinstance(step.spec, SwarmServiceSpec)]
    wanted: set[tuple[str, str]] = {(grant.kind, grant.object_name) for spec in services
                                    for grant in spec.files if grant.object_name not in made}
    if not wanted:
        return {}
    found = manager.find_objects(wanted)
    missing = sorted((kind, name) for kind, name in wanted if name not in found)
    if missing:
        raise XcomposeError("\n".join(
            f"external {kind} '{name}' is not on the swarm: make it first, on the manager "
            f"(`docker {kind} create {name} FILE`), or give it a source in the file" for kind, name in missing))
    return found


def _drop_unused_objects(manager: Manager, decided: SwarmConvergence, reporter: SwarmReporter) -> None:
    """Secrets and configs the plan replaced: removed once no service uses them (Swarm
    refuses to remove one in use, which is then left for a later `up`)."""
    for kind, name in decided.unused_objects:
        try:
            manager.remove_object(kind, name)
        except XcomposeError as error:
            reporter.note(f"note: {kind} {name} kept: {error}")


def wait_for_tasks(manager: Manager, spec: SwarmServiceSpec, timeout_s: float, encrypted: bool,
                   force_update: int = 0, clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> None:
    """Until `spec.replicas` tasks of the service run (healthy, where a healthcheck is set:
    Swarm holds a task in `starting` until then), or a task that finished on its own is
    complete; raises with what Swarm last said when that does not happen in time."""
    deadline = clock() + timeout_s
    failed: set[str] = set()
    last = ""
    while True:
        tasks = manager.tasks(service=spec.name)
        verdict = tasks_verdict(tasks, spec.replicas, spec.digest(), force_update)
        if verdict is None:
            return
        last = verdict
        failed |= {t.id for t in tasks if t.state in ("failed", "rejected")}
        if len(failed) >= FAILED_TASKS_GIVE_UP:
            raise XcomposeError(f"{len(failed)} tasks of {spec.name} failed on node {spec.host}: {last}")
        if clock() >= deadline:
            # Tasks that started but never became healthy: on an encrypted overlay whose
            # nodes lack ESP, what a healthcheck asks of another node never answers.
            unhealthy = any(t.state == "starting" for t in tasks)
            hint = ("; if the nodes' kernels cannot carry ESP, encrypted overlays carry no traffic between nodes: "
                    "set `swarm: {encrypted: false}`") if encrypted and unhealthy else ""
            raise XcomposeError(f"{spec.name} was not running after {timeout_s:g}s on node {spec.host}: {last}{hint}")
        sleep(POLL_S)


def tasks_verdict(tasks: list[TaskFacts], replicas: int, digest: str, force_update: int = 0) -> str | None:
    """None when the service is ready, else what it is still waiting for. Only tasks of
    the spec with this digest (and ForceUpdate counter) count: right after an update the
    old ones still run."""
    current = [t for t in tasks if t.desired in ("running", "complete") and t.digest == digest
               and t.force_update == force_update]
    running = [t for t in current if t.state == "running"]
    done = [t for t in current if t.state == "complete"]
    if len(running) + len(done) >= replicas and len(running) <= replicas:
        return None
    failure = next((t for t in tasks if t.message and t.state in ("failed", "rejected")), None)
    waiting = next((t for t in current if t.message and t.state not in ("running", "complete")), None)
    states = ", ".join(sorted(t.state for t in current)) or "no task yet"
    said = (f" (last failure: {failure.message})" if failure
            else f" ({waiting.state}: {waiting.message})" if waiting else "")
    return f"{len(running)} of {replicas} task(s) running, tasks: {states}{said}"
