"""The commands of a project with `engine: swarm`: the commands in commands.py parse and
hand over here; this connects to the manager, calls run/swarm_*.py and prints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from xcompose.cli.main import Options, err, fail, print_text
from xcompose.errors import UsageError, XcomposeError

if TYPE_CHECKING:
    from xcompose.config.project import Project
    from xcompose.engines.dockerapi import ApiExecutor
    from xcompose.engines.fleet import Fleet
    from xcompose.engines.swarm import SwarmManager
    from xcompose.plan.converge import Recreate
    from xcompose.plan.swarm_converge import LiveSwarm
    from xcompose.plan.swarm_steps import SwarmPlan


@contextmanager
def engines(project: Project, options: Options, hosts: list[str]) -> Iterator[Fleet]:
    """The engines of these hosts, through docker-py (the swarm is driven by its API)."""
    from xcompose.engines.dockerapi import ApiExecutor
    from xcompose.engines.fleet import reach
    from xcompose.plan.build import host_targets

    targets = [replace(t, executor="api") for name, t in host_targets(project).items() if name in hosts]
    with reach(targets, ApiExecutor, lost_after=options.host_timeout) as fleet:
        yield fleet


@contextmanager
def swarm_manager(project: Project, options: Options) -> Iterator[SwarmManager]:
    """The swarm's manager, which must answer. The other hosts' engines are reached only
    when a command needs them (`auto`'s first probe, `down -v`): each connection costs."""
    from xcompose.engines.dockerapi import ApiExecutor
    from xcompose.engines.swarm import SwarmManager
    from xcompose.plan.swarm import manager_of

    manager = manager_of(project)
    with engines(project, options, [manager]) as fleet:
        executor = fleet.executors.get(manager)
        if executor is None:
            fail(1, [*(f"error: {e}" for e in fleet.errors),
                     f"the swarm's manager is host {manager}: nothing was changed"])
        assert isinstance(executor, ApiExecutor)
        yield SwarmManager(executor)


def planned(project: Project, options: Options, manager: SwarmManager) -> tuple[SwarmPlan, LiveSwarm]:
    """The plan with the endpoint mode decided, and what the project has on the swarm."""
    from xcompose.engines.dockerapi import ApiExecutor
    from xcompose.plan.swarm import build_swarm_plan
    from xcompose.run.swarm_endpoint import known_mode, probed_mode
    from xcompose.run.swarm_up import require_manager

    require_manager(manager, manager.host)  # before asking it what only a manager knows
    live = manager.read_live(project.name)
    mode = known_mode(project, live)
    notes: list[str] = []
    if mode is None:
        others = [h for h in project.host_names() if h != manager.host]
        with engines(project, options, others) as fleet:
            found = {host: e for host, e in fleet.executors.items() if isinstance(e, ApiExecutor)}
            mode, notes = probed_mode(project, {**found, manager.host: manager.executor}, manager.host)
    return build_swarm_plan(project, mode, tuple(notes)), live


def plan(options: Options, project: Project, offline: bool, fmt: str) -> None:
    """`xcompose plan` on a swarm: the steps, and with the manager asked, what up does."""
    from xcompose.plan.swarm import build_swarm_plan
    from xcompose.plan.swarm_converge import decide_swarm
    from xcompose.plan.swarm_render import render_swarm_plan

    first = build_swarm_plan(project)  # a mistake in the file is said before any host is asked
    if offline:
        print_text(render_swarm_plan(first, fmt))
        return
    with swarm_manager(project, options) as manager:
        the_plan, live = planned(project, options, manager)
    print_text(render_swarm_plan(the_plan, fmt, decide_swarm(the_plan, live)))


def require_esp(project: Project, options: Options, manager: SwarmManager) -> None:
    """Stops `up` before anything is made when a host's kernel is known to lack ESP: the
    encrypted overlay would be made, and would drop the traffic between nodes."""
    from xcompose.engines.dockerapi import ApiExecutor
    from xcompose.run.swarm_endpoint import hosts_without_esp

    others = [h for h in project.host_names() if h != manager.host]
    with engines(project, options, others) as fleet:
        found = {host: e for host, e in fleet.executors.items() if isinstance(e, ApiExecutor)}
        lacking = hosts_without_esp(project, {**found, manager.host: manager.executor}, manager.host)
    if lacking:
        raise XcomposeError(f"the kernel of {', '.join(lacking)} cannot carry ESP (IPsec), which encrypted overlay "
                            "networks need between nodes: their traffic would be dropped. Set "
                            "`swarm: {encrypted: false}` where the network between the nodes is trusted; nothing "
                            "was changed")


def up(options: Options, project: Project, *, services: tuple[str, ...], no_deps: bool, unsupported: list[str],
       remove_orphans: bool, recreate: Recreate, wait_timeout: float, quiet: bool, fmt: str, progress: str,
       lock_wait: float) -> None:
    """`xcompose up` on a swarm."""
    from xcompose.cli.hosts import locked
    from xcompose.cli.output import make_reporter
    from xcompose.plan.swarm import build_swarm_plan
    from xcompose.run.swarm_up import SwarmUpOptions, preflight, up_swarm

    if unsupported:
        raise UsageError(f"{', '.join(unsupported)}: not supported with engine: swarm")
    first = build_swarm_plan(project)  # a mistake in the file is said before any host is asked
    unknown = [s for s in services if f"service:{s}" not in first]
    if unknown:
        raise UsageError(f"no such service: {', '.join(unknown)}")
    reporter = make_reporter(fmt, quiet, err, progress)
    executors: dict[str, ApiExecutor] = {}
    try:
        with swarm_manager(project, options) as manager:
            executors[manager.host] = manager.executor
            with locked(executors, project.name, lock_wait, reporter):
                the_plan, live = planned(project, options, manager)
                if the_plan.encrypted and not live.networks:  # the project's first overlay
                    require_esp(project, options, manager)
                if services:  # those and what they need; the project's other services are left alone
                    the_plan = the_plan.needed_for((f"service:{s}" for s in services), services=not no_deps)
                preflight(manager, the_plan)
                for note in the_plan.notes:
                    reporter.note(f"note: {note}")
                result = up_swarm(manager, the_plan, reporter,
                                  SwarmUpOptions(wait_timeout=wait_timeout, remove_orphans=remove_orphans,
                                                 recreate=recreate, whole=not services))
        failed = [f"error: step {f.step_id} failed: {f.error}" for f in result.walk.failed]
        if result.walk.not_started:
            failed.append(f"not started: {', '.join(sorted(result.walk.not_started))}")
        for line in failed:
            reporter.error(line.removeprefix("error: "))
    except XcomposeError as error:
        for line in error.lines():
            reporter.error(line.removeprefix("error: "))
        raise
    finally:
        reporter.close()
    if not result.ok:
        fail(1, [*failed, "run `xcompose up` again to resume"])
    if not quiet and fmt != "json" and progress not in ("json", "quiet"):
        changed = result.convergence.changes
        err.print(f"{the_plan.project} is up on the swarm: "
                  f"{f'{changed} step(s) changed' if changed else 'nothing to change'}", markup=False)


def down(options: Options, project: Project, *, volumes: bool, unsupported: list[str], quiet: bool, fmt: str,
         progress: str, lock_wait: float) -> None:
    """`xcompose down` on a swarm."""
    from xcompose.cli.hosts import locked
    from xcompose.cli.output import make_reporter
    from xcompose.run.swarm_down import down_swarm

    if unsupported:
        raise UsageError(f"{', '.join(unsupported)}: not supported with engine: swarm")
    reporter = make_reporter(fmt, quiet, err, progress)
    try:
        with (
            swarm_manager(project, options) as manager,
            engines(project, options, project.host_names() if volumes else []) as fleet,
            locked({manager.host: manager.executor}, project.name, lock_wait, reporter),
        ):
            result = down_swarm(manager, project.name, reporter, volumes=volumes, engines=fleet.executors)
            missed = [f"host {e.host}: its volumes were not removed: {e.message}" for e in fleet.errors]
        for error in [*result.errors, *missed]:
            reporter.error(error)
    finally:
        reporter.close()
    if result.errors or missed:
        fail(1, [f"error: {e}" for e in [*result.errors, *missed]] + ["run `xcompose down` again"])


def check(options: Options, project: Project, fmt: str) -> None:
    """`xcompose check` on a swarm: the manager, each host's node, each service's tasks."""
    import json

    from xcompose.cli.main import out
    from xcompose.plan.swarm import build_swarm_plan
    from xcompose.plan.swarm_nodes import match_nodes
    from xcompose.plan.swarm_steps import SwarmServiceSpec
    from xcompose.run.swarm_up import tasks_verdict

    the_plan = build_swarm_plan(project)
    rows: list[dict[str, str | bool]] = []
    with swarm_manager(project, options) as manager:
        state = manager.state()
        is_manager = state.local_state == "active" and state.is_manager
        rows.append({"what": f"manager {manager.host}", "ok": is_manager,
                     "detail": "swarm manager" if is_manager else f"not a manager ({state.local_state})"})
        match = match_nodes(the_plan.hosts, the_plan.manager, state.node_id, manager.nodes() if is_manager else [])
        for host in the_plan.hosts:
            node = match.node_of.get(host)
            problem = next((p for p in match.problems if p.startswith(f"host {host}")), None)
            rows.append({"what": f"host {host}", "ok": node is not None and problem is None,
                         "detail": problem or f"node {node[:12] if node else '?'}"})
        services = manager.read_live(project.name).services if is_manager else {}
        for step in the_plan.of_kind("service"):
            spec = step.spec
            assert isinstance(spec, SwarmServiceSpec)
            live = services.get(spec.name)
            verdict = ("not on the swarm" if live is None
                       else tasks_verdict(manager.tasks(service=spec.name), spec.replicas, live.digest or "",
                                          live.force_update))
            rows.append({"what": f"service {step.name}", "ok": verdict is None,
                         "detail": verdict or f"{spec.replicas} task(s) running on {spec.host}"})
    if fmt == "json":
        out.print(json.dumps({"project": project.name, "engine": "swarm", "checks": rows}, indent=2), markup=False)
    else:
        for row in rows:
            out.print(f"{'ok  ' if row['ok'] else 'FAIL'}  {row['what']}: {row['detail']}", markup=False)
    if not all(row["ok"] for row in rows):
        fail(1, ["error: the project is not whole on the swarm"])
