"""The containers a command on services acts on: found by label on the hosts that answer,
in the order the plan starts them, each with its host's executor."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xcompose.cli.hosts import reached
from xcompose.cli.main import Options, err, fail
from xcompose.cli.planning import load
from xcompose.cli.scope import Scope, scope_of
from xcompose.errors import DockerError, HostError
from xcompose.plan.naming import LABEL_REPLICA, LABEL_SERVICE, role_of, step_id_of

if TYPE_CHECKING:
    from xcompose.engines.base import Executor
    from xcompose.live import LiveContainer


@dataclass(frozen=True)
class Target:
    """One container of the project, where it runs and how to reach that host."""

    host: str
    container: LiveContainer
    executor: Executor

    @property
    def service(self) -> str:
        return self.container.labels.get(LABEL_SERVICE, "?")

    @property
    def number(self) -> int:
        return int(self.container.labels.get(LABEL_REPLICA, "1"))

    @property
    def shown(self) -> str:
        return f"{self.container.name} on {self.host}"


@contextlib.contextmanager
def targets(options: Options, services: tuple[str, ...], *, ambassadors: bool = False) -> Iterator[list[Target]]:
    """The project's containers of `services` (all of them by default; with `ambassadors`,
    xcompose's relays too when no service is named), in the order the plan starts them.
    Hosts that do not answer are named on stderr; the command goes on with the others."""
    scope = scope_of(load(options))
    scope.check_services(services)
    with reached(scope.hosts, options, all_needed=False) as fleet:
        live, failures = fleet.read_live(scope.project)
        for problem in [*fleet.errors, *failures]:
            err.print(f"error: {problem}", markup=False)
        found = []
        for placed in live.placed():
            role = role_of(placed.container.labels)
            wanted = placed.container.labels.get(LABEL_SERVICE) in services if services else (
                role == "service" or ambassadors)
            if role is not None and wanted and (role == "service" or not services):
                found.append(Target(placed.host, placed.container, fleet.executors[placed.host]))
        found.sort(key=lambda t: (_rank(t, scope), t.service, t.number))
        yield found
    if fleet.errors or failures:
        sys.exit(1)


def _rank(target: Target, scope: Scope) -> int:
    return scope.rank(step_id_of(target.container.labels))


def each(found: list[Target], act: Callable[[Target], object], verb: str, *, reverse: bool = False) -> None:
    """`act` on every target, in plan order (or reversed, for stopping); each result said."""
    failed = []
    for target in reversed(found) if reverse else found:
        try:
            act(target)
        except (DockerError, HostError) as error:
            failed.append(f"error: {verb} {target.shown}: {error}")
            continue
        err.print(f"{verb} {target.shown}", markup=False)
    if failed:
        fail(1, failed)


def one(found: list[Target], service: str, index: int) -> Target:
    """Replica `index` (from 1) of a service: the container `exec` and `port` act on."""
    chosen = [t for t in found if t.service == service and t.number == index]
    if not chosen:
        where = "" if index == 1 else f" number {index}"
        fail(1, [f"error: service {service} has no container{where} running on any host that answered"])
    # A running one first: on a swarm, the containers of a service's replaced tasks stay
    # on their node, stopped, as Swarm keeps its task history.
    return min(chosen, key=lambda t: t.container.state != "running")
