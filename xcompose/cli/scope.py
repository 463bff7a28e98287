"""What the commands on a project's running containers (`ps`, `logs`, `exec`, `events`, …)
need of its file: the hosts to ask, the services a user may name, and the order the
services start in. Taken from the plan of the project's own engine: a file that only a
swarm can run (UDP across hosts, say) has no plain plan of ambassadors to ask."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xcompose.errors import UsageError
from xcompose.plan.steps import StepId

if TYPE_CHECKING:
    from xcompose.config.project import Project
    from xcompose.plan.specs import HostTarget


@dataclass(frozen=True)
class Scope:
    project: str
    hosts: tuple[HostTarget, ...]
    order: Mapping[str, int]  # step id as text -> its place in the start order

    def check_services(self, services: Iterable[str]) -> None:
        """A usage error for services the file does not have."""
        unknown = [s for s in services if str(StepId.service(s)) not in self.order]
        if unknown:
            raise UsageError(f"no such service: {', '.join(unknown)}")

    def rank(self, step_id: StepId | None) -> int:
        """Where a step starts; what the file no longer has comes last."""
        return self.order.get(str(step_id), len(self.order)) if step_id is not None else len(self.order)


def scope_of(project: Project) -> Scope:
    if project.topology.engine == "swarm":
        from xcompose.plan.swarm import build_swarm_plan

        # Where each service runs and in which order do not depend on the endpoint mode.
        swarm_plan = build_swarm_plan(project, "dnsrr")
        return Scope(swarm_plan.project, tuple(swarm_plan.hosts.values()),
                     {step.id: index for index, step in enumerate(swarm_plan.steps())})
    from xcompose.cli.planning import make_plan

    plan = make_plan(project)
    return Scope(plan.project, tuple(plan.hosts.values()),
                 {str(step.id): index for index, step in enumerate(plan.steps())})
