"""The commands of a project with `engine: swarm`: parse nothing (the commands in
commands.py do), plan against the swarm's manager, call run/swarm_up.py and run/swarm_down.py,
print."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xcompose.cli.main import Options, print_text

if TYPE_CHECKING:
    from xcompose.config.project import Project


def plan(options: Options, project: Project, offline: bool, fmt: str) -> None:
    """`xcompose plan` on a swarm: the steps, and with the manager asked, what up does."""
    from xcompose.plan.swarm import build_swarm_plan
    from xcompose.plan.swarm_render import render_swarm_plan

    if offline:
        print_text(render_swarm_plan(build_swarm_plan(project), fmt))
        return
    from xcompose.errors import UsageError

    raise UsageError("plan on a swarm reads no live state yet: use --offline")
