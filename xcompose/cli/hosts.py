"""The hosts a command acts on: reached together (all of them, before a command that
changes things), the project lock taken on them, and the PKI they keep."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from xcompose.cli.main import Options, err, fail
from xcompose.errors import XcomposeError
from xcompose.run.operator import operator

if TYPE_CHECKING:
    from xcompose.config.project import Project
    from xcompose.engines.base import Executor
    from xcompose.engines.fleet import Fleet
    from xcompose.plan.specs import HostTarget
    from xcompose.plan.steps import Plan
    from xcompose.run.hostpki import HostPki
    from xcompose.run.lease import ProjectLock
    from xcompose.run.up import Reporter

WAIT_HELP = "Seconds to wait for another run of this project to finish."



def host_pki(fleet: Fleet, project: str) -> HostPki:
    """The project's PKI as the hosts that answered keep it."""
    from xcompose.run.hostpki import HostPki

    return HostPki(fleet.executors, project, operator())



def hosts_of(project: Project) -> list[HostTarget]:
    from xcompose.plan.build import host_targets

    return list(host_targets(project).values())



@contextmanager
def locked(executors: Mapping[str, Executor], project: str, wait: float, reporter: Reporter | None = None
           ) -> Iterator[ProjectLock]:
    """The project lock on these hosts: waits for another run (saying whose), takes over a
    lock whose holder stopped renewing it."""
    from xcompose.run.lease import project_lock

    with project_lock(executors, project, operator(), wait, _say_waiting) as lock:
        for line in lock.broken:
            if reporter is not None:
                reporter.note(f"note: {line}")
            else:
                err.print(f"note: {line}", markup=False)
        yield lock



@contextmanager
def reached(hosts: Plan | Iterable[HostTarget], options: Options, *, all_needed: bool = True,
            reporter: Reporter | None = None) -> Iterator[Fleet]:
    """Every host (of the plan) connected. With `all_needed` (commands that change things),
    a host that does not answer stops the command before anything changes."""
    from xcompose.engines.fleet import reach
    from xcompose.plan.steps import Plan

    targets = hosts.hosts.values() if isinstance(hosts, Plan) else hosts
    fleet = reach(targets, lost_after=options.host_timeout)
    with fleet:
        if all_needed and fleet.errors:
            lines = [*(f"error: {e}" for e in fleet.errors),
                     "nothing was changed: every host must answer before work starts"]
            if reporter is not None:
                for line in lines:
                    reporter.error(line.removeprefix("error: "))
            fail(1, lines)
        yield fleet



def report_unreached(fleet: Fleet, failures: list[XcomposeError]) -> None:
    """Read-only commands show what answered, then one line per host that did not."""
    problems = [*fleet.errors, *failures]
    if problems:
        fail(1, [f"error: {e}" for e in problems])



def _say_waiting(holder: str) -> None:
    err.print(f"waiting for the project lock held by {holder}", markup=False)

