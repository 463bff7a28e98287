"""The plan as text: a table for people, JSON for scripts (DESIGN §3), dot and mermaid to draw.

With `actions` (decided against the live hosts) every step says what `up` would do to it,
and `orphans` adds the live objects the plan no longer wants, as `remove`. Without actions
(`--offline`) the output shows ordering only.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from xcompose.alloc import paused_gc
from xcompose.plan.converge import Orphan, StepAction
from xcompose.plan.steps import (
    ClientAmbassadorStep,
    NetworkStep,
    Plan,
    ServerAmbassadorStep,
    Step,
    StepId,
    VolumeStep,
)

Format = Literal["table", "json", "dot", "mermaid"]


def render_plan(
    plan: Plan,
    fmt: Format,
    actions: Mapping[StepId, StepAction] | None = None,
    orphans: Sequence[Orphan] = (),
    width: int | None = None,
) -> str:
    """`plan` in format `fmt`; `width` only shapes the table (default: the terminal's)."""
    with paused_gc():
        if fmt == "json":
            return render_json(plan, actions, orphans)
        if fmt == "table":
            return render_table(plan, actions, orphans, width)
        if fmt == "dot":
            return render_dot(plan, actions)
        if fmt == "mermaid":
            return render_mermaid(plan, actions)
    raise ValueError(f"unknown plan format '{fmt}' (use table, json, dot or mermaid)")


_REMOVE = StepAction("remove", "no longer in the topology")


# -- JSON: the stable contract ----------------------------------------------------------


def render_json(
    plan: Plan,
    actions: Mapping[StepId, StepAction] | None = None,
    orphans: Sequence[Orphan] = (),
) -> str:
    # Each id's text is made once: it orders the steps, names them, and names what they wait for.
    waves = plan.wave_ids()
    text = {step_id: str(step_id) for wave in waves for step_id in wave}
    waits_for = plan.dependencies()
    entries: list[dict[str, Any]] = []
    for wave_index, wave in enumerate(waves):
        for step_id in sorted(wave, key=text.__getitem__):
            step = plan.step(step_id)
            entry: dict[str, Any] = {
                "id": text[step_id],
                "kind": step_id.kind,
                "service": step.service,
                "host": step.host,
                "wave": wave_index,
                "after": sorted([text[i] for i in waits_for[step_id]]),
                "action": None,
            }
            if actions is not None:
                action = actions.get(step_id)
                entry["action"] = action.action if action else None
                entry["reason"] = action.reason if action and action.action in ("recreate", "remove") else None
            entries.append(entry)
    # Orphans are listed last, in a wave of their own.
    last = len(waves)
    for orphan in sorted(orphans, key=lambda o: (o.host, str(o.id))):
        entries.append(
            {
                "id": str(orphan.id),
                "kind": orphan.id.kind,
                "service": orphan.id.name,
                "host": orphan.host,
                "wave": last,
                "after": [],
                "action": _REMOVE.action,
                "reason": _REMOVE.reason,
            }
        )
    # One step a line: readable, diffable, and each line goes through json's C encoder
    # (`indent=` would switch the whole document to the pure-Python one).
    lines = ",\n    ".join(json.dumps(entry) for entry in entries)
    return (f'{{"project": {json.dumps(plan.project)},\n  "notes": {json.dumps(list(plan.notes))},\n'
            f'  "steps": [\n    {lines}\n  ]}}')


# -- table: what each step does, wave by wave, host by host ------------------------------


def describe(step: Step) -> str:
    """One line saying what the step makes exist."""
    if isinstance(step, NetworkStep):
        return f"network {step.network.name}"
    if isinstance(step, VolumeStep):
        return f"volume {step.volume.name}"
    spec = step.container
    if isinstance(step, ServerAmbassadorStep):
        # What the other hosts connect to, and where it goes on this host.
        published = {(p.container_port, p.protocol): p for p in spec.ports}
        parts = []
        for port in step.relay.ports:
            bound = published.get((port.listen_port, port.protocol))
            outside = f"{bound.host_ip}:{bound.host_port}" if bound else f":{port.listen_port}"
            parts.append(f"{outside} -> {port.to_host}:{port.to_port}{_udp(port.protocol)}")
        return f"{_relay(step)} {', '.join(parts)}"
    if isinstance(step, ClientAmbassadorStep):
        names = "/".join(dict.fromkeys(alias for e in spec.networks for alias in e.aliases))
        parts = [f"{names}:{p.listen_port} -> {p.to_host}:{p.to_port}{_udp(p.protocol)}" for p in step.relay.ports]
        return f"{_relay(step)} {', '.join(parts)}"
    text = f"container {spec.name} ({spec.image})"
    if spec.ports:
        ports = ", ".join(
            f"{p.host_ip + ':' if p.host_ip else ''}{p.host_port or ''}:{p.container_port}{_udp(p.protocol)}"
            for p in spec.ports
        )
        text += f" ports {ports}"
    return text


def _relay(step: ServerAmbassadorStep | ClientAmbassadorStep) -> str:
    if step.relay.kind == "kernel":
        return "relay (kernel DNAT, unencrypted)"
    return f"relay ({step.relay.kind}{', mutual TLS' if step.relay.tls else ''})"


def _udp(protocol: str) -> str:
    return "/udp" if protocol == "udp" else ""


def _action_text(action: StepAction | None) -> str:
    if action is None:
        return "?"
    return f"{action.action} ({action.reason})" if action.reason else action.action


def render_table(
    plan: Plan,
    actions: Mapping[StepId, StepAction] | None = None,
    orphans: Sequence[Orphan] = (),
    width: int | None = None,
) -> str:
    table = Table(title=f"plan for {plan.project}", show_lines=False)
    table.add_column("wave", justify="right")
    table.add_column("host")
    table.add_column("step")
    table.add_column("does")
    if actions is not None:
        table.add_column("action")
    waves = plan.waves()
    for index, wave in enumerate(waves):
        for step in sorted(wave, key=lambda s: (s.host, str(s.id))):
            row = [str(index), step.host, str(step.id), describe(step)]
            if actions is not None:
                row.append(_action_text(actions.get(step.id)))
            table.add_row(*row)
        if index < len(waves) - 1 or orphans:
            table.add_section()
    for orphan in sorted(orphans, key=lambda o: (o.host, str(o.id))):
        row = [str(len(waves)), orphan.host, str(orphan.id), "not in the topology any more"]
        if actions is not None:
            row.append(_action_text(_REMOVE))
        table.add_row(*row)
    columns = width or shutil.get_terminal_size((120, 24)).columns
    # Values from the file are printed as written: no emoji codes, no markup.
    console = Console(file=io.StringIO(), width=columns, color_system=None, force_terminal=False,
                      emoji=False, markup=False, highlight=False)
    console.print(table)
    out = console.file
    assert isinstance(out, io.StringIO)
    return "\n".join([out.getvalue().rstrip("\n"), *(f"note: {note}" for note in plan.notes)])


# -- drawings: hosts as clusters --------------------------------------------------------


def _label(step: Step, actions: Mapping[StepId, StepAction] | None) -> str:
    if actions is not None and step.id in actions:
        return f"{step.id}\n{_action_text(actions[step.id])}"
    return str(step.id)


def _by_host(plan: Plan) -> dict[str, list[Step]]:
    hosts: dict[str, list[Step]] = {}
    for step in sorted(plan.steps(), key=lambda s: (s.host, str(s.id))):
        hosts.setdefault(step.host, []).append(step)
    return hosts


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(plan: Plan, actions: Mapping[StepId, StepAction] | None = None) -> str:
    lines = [f"digraph {_dot_quote(plan.project)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for host, steps in _by_host(plan).items():
        lines.append(f"  subgraph {_dot_quote('cluster_' + host)} {{")
        lines.append(f"    label={_dot_quote(host)};")
        for step in steps:
            lines.append(f"    {_dot_quote(str(step.id))} [label={_dot_quote(_label(step, actions))}];")
        lines.append("  }")
    for before, after in sorted(plan.edges(), key=lambda e: (str(e[0]), str(e[1]))):
        lines.append(f"  {_dot_quote(str(before))} -> {_dot_quote(str(after))};")
    lines.append("}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    # Mermaid labels are quoted strings; quotes and newlines need its own escapes.
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def render_mermaid(plan: Plan, actions: Mapping[StepId, StepAction] | None = None) -> str:
    # Step ids hold ':' and '@', which mermaid node ids cannot: number the nodes instead.
    by_host = _by_host(plan)
    ordered = sorted((step.id for steps in by_host.values() for step in steps), key=str)
    node_ids = {step_id: f"s{index}" for index, step_id in enumerate(ordered)}
    lines = ["flowchart LR"]
    for index, (host, steps) in enumerate(by_host.items()):
        lines.append(f'  subgraph h{index}["{_mermaid_text(host)}"]')
        for step in steps:
            lines.append(f'    {node_ids[step.id]}["{_mermaid_text(_label(step, actions))}"]')
        lines.append("  end")
    for before, after in sorted(plan.edges(), key=lambda e: (str(e[0]), str(e[1]))):
        lines.append(f"  {node_ids[before]} --> {node_ids[after]}")
    return "\n".join(lines)
