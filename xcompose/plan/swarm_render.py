"""The swarm plan as text: a table for people, JSON for scripts. The JSON has the fields of
the plain plan's steps (DESIGN §3) and says the engine, the endpoint mode and whether the
overlays are encrypted."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from xcompose.errors import UsageError
from xcompose.plan.converge import StepAction
from xcompose.plan.swarm_converge import SwarmConvergence
from xcompose.plan.swarm_steps import OverlaySpec, SwarmObjectSpec, SwarmPlan, SwarmStep

SWARM_WIDE = "(swarm)"  # the host column of what belongs to the whole swarm


def render_swarm_plan(plan: SwarmPlan, fmt: str, convergence: SwarmConvergence | None = None,
                      width: int | None = None) -> str:
    if fmt == "json":
        return render_swarm_json(plan, convergence)
    if fmt == "table":
        return render_swarm_table(plan, convergence, width)
    raise UsageError(f"--format {fmt} is not drawn for engine: swarm; use table or json")


def describe_swarm_step(step: SwarmStep, plan: SwarmPlan) -> str:
    spec = step.spec
    if isinstance(spec, OverlaySpec):
        return f"overlay network {spec.name} (attachable{', encrypted' if spec.encrypted else ''})"
    if isinstance(spec, SwarmObjectSpec):
        return f"{spec.kind} {spec.name}"
    text = (f"service {spec.name} ({spec.image}) x{spec.replicas} on node {spec.host}, "
            f"endpoint {spec.endpoint_mode or plan.endpoint_mode}")
    if spec.ports:
        text += " ports " + ", ".join(f"{p.host_port or ''}:{p.container_port}"
                                      f"{'/udp' if p.protocol == 'udp' else ''}" for p in spec.ports)
    return text


def _action_text(action: StepAction | None) -> str:
    if action is None:
        return "?"
    return f"{action.action} ({action.reason})" if action.reason else action.action


def render_swarm_json(plan: SwarmPlan, convergence: SwarmConvergence | None = None) -> str:
    actions: Mapping[str, StepAction] | None = convergence.actions if convergence else None
    entries: list[dict[str, Any]] = []
    for index, wave in enumerate(plan.waves()):
        for step in wave:
            entry: dict[str, Any] = {
                "id": step.id, "kind": step.kind, "service": step.name if step.kind == "service" else None,
                "host": step.host, "wave": index, "after": plan.after(step.id), "action": None,
            }
            if actions is not None:
                action = actions.get(step.id)
                entry["action"] = action.action if action else None
                entry["reason"] = action.reason if action else None
            entries.append(entry)
    if convergence is not None:
        last = len(plan.waves())
        for name in convergence.orphan_services:
            entries.append({"id": f"service:{name}", "kind": "service", "service": None, "host": None,
                            "wave": last, "after": [], "action": "remove", "reason": "no longer in the topology"})
    lines = ",\n    ".join(json.dumps(entry) for entry in entries)
    head = {"project": plan.project, "engine": "swarm", "manager": plan.manager,
            "endpoint_mode": plan.endpoint_mode, "encrypted": plan.encrypted}
    fields = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in head.items())
    return f'{{{fields},\n  "notes": {json.dumps(list(plan.notes))},\n  "steps": [\n    {lines}\n  ]}}'


def render_swarm_table(plan: SwarmPlan, convergence: SwarmConvergence | None = None,
                       width: int | None = None) -> str:
    table = Table(title=f"plan for {plan.project} on the swarm managed by {plan.manager} "
                        f"(endpoint mode {plan.endpoint_mode})", show_lines=False)
    for column in ("wave", "node", "step", "does"):
        table.add_column(column, justify="right" if column == "wave" else "left")
    if convergence is not None:
        table.add_column("action")
    waves = plan.waves()
    for index, wave in enumerate(waves):
        for step in wave:
            row = [str(index), step.host or SWARM_WIDE, step.id, describe_swarm_step(step, plan)]
            if convergence is not None:
                row.append(_action_text(convergence.actions.get(step.id)))
            table.add_row(*row)
        if index < len(waves) - 1:
            table.add_section()
    if convergence is not None:
        for name in convergence.orphan_services:
            table.add_row(str(len(waves)), SWARM_WIDE, f"service:{name}", "not in the topology any more", "remove")
    console = Console(file=io.StringIO(), width=width or shutil.get_terminal_size((120, 24)).columns,
                      color_system=None, force_terminal=False, emoji=False, markup=False, highlight=False)
    console.print(table)
    out = console.file
    assert isinstance(out, io.StringIO)
    return "\n".join([out.getvalue().rstrip("\n"), *(f"note: {note}" for note in plan.notes)])
