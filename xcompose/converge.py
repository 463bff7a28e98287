"""Deciding what `up` does to each step: a pure function of the plan and the live state.

The live state is read from the hosts by label (nothing is kept locally), so any machine with
the topology file reaches the same decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xcompose.executors.base import LiveContainer, LiveNetwork
from xcompose.plan import (
    LABEL_CONFIG_HASH,
    LABEL_HOST,
    LABEL_ROLE,
    LABEL_SERVICE,
    OrphanStep,
    Plan,
    Step,
    StepAction,
)

CONTAINER_KINDS = ("service", "ambassador-server", "ambassador-client")


@dataclass(frozen=True)
class Placed:
    """A live container and the host it was found on."""

    host: str
    container: LiveContainer


@dataclass
class LiveState:
    """What the project has on every reachable host, as read by label."""

    containers: dict[str, list[LiveContainer]] = field(default_factory=dict)
    networks: dict[str, list[LiveNetwork]] = field(default_factory=dict)


@dataclass(frozen=True)
class Orphan:
    """A container of the project that no step of the plan wants any more."""

    step: OrphanStep
    container: LiveContainer


@dataclass
class Convergence:
    actions: dict[str, StepAction]
    # Live containers a step replaces or makes redundant, removed as part of that step.
    replaced: dict[str, list[Placed]]
    orphans: list[Orphan]
    # Project networks on hosts the plan no longer uses.
    stale_networks: dict[str, list[LiveNetwork]]


def step_id_for(container: LiveContainer) -> str | None:
    """The plan step id a live container belongs to, from its labels."""
    role = container.labels.get(LABEL_ROLE)
    service = container.labels.get(LABEL_SERVICE)
    if not role or not service:
        return None
    if role == "ambassador-client":
        host = container.labels.get(LABEL_HOST)
        return f"ambassador-client:{service}@{host}" if host else None
    if role in ("service", "ambassador-server"):
        return f"{role}:{service}"
    return None


def decide(plan: Plan, live: LiveState) -> Convergence:
    by_step: dict[str, list[Placed]] = {}
    for host, containers in live.containers.items():
        for container in containers:
            step_id = step_id_for(container)
            if step_id is not None:
                by_step.setdefault(step_id, []).append(Placed(host, container))

    actions: dict[str, StepAction] = {}
    replaced: dict[str, list[Placed]] = {}
    for step in plan.steps():
        if step.kind in CONTAINER_KINDS:
            action, stale = _decide_container(step, by_step.pop(step.id, []))
            actions[step.id] = action
            if stale:
                replaced[step.id] = stale
        else:
            present = _network_present(step, live) if step.kind == "network" else None
            actions[step.id] = StepAction("keep" if present else "create", None)

    orphans = [
        Orphan(_orphan_step(step_id, placed), placed.container)
        for step_id, placements in sorted(by_step.items())
        for placed in placements
    ]
    used_hosts = {s.host for s in plan.steps()}
    stale_networks = {
        host: networks
        for host, networks in live.networks.items()
        if host not in used_hosts and networks
    }
    return Convergence(actions, replaced, orphans, stale_networks)


def _decide_container(step: Step, found: Sequence[Placed]) -> tuple[StepAction, list[Placed]]:
    assert step.container is not None
    want_hash = step.container.config_hash()
    here = [p for p in found if p.host == step.host]
    elsewhere = [p for p in found if p.host != step.host]
    keeper = next(
        (
            p
            for p in here
            if p.container.labels.get(LABEL_CONFIG_HASH) == want_hash
            and p.container.state == "running"
            and p.container.name == step.container.name
        ),
        None,
    )
    stale = [p for p in found if p is not keeper]
    if keeper is not None:
        return StepAction("keep", None), stale
    if not found:
        return StepAction("create", None), []
    if elsewhere and not here:
        return StepAction("recreate", f"moved from host {elsewhere[0].host}"), stale
    current = here[0].container
    if current.labels.get(LABEL_CONFIG_HASH) != want_hash:
        if current.image != step.container.image:
            return StepAction("recreate", f"image {current.image} -> {step.container.image}"), stale
        return StepAction("recreate", "config changed"), stale
    return StepAction("recreate", f"container is {current.state}"), stale


def _network_present(step: Step, live: LiveState) -> bool:
    assert step.network is not None
    return any(n.name == step.network.name for n in live.networks.get(step.host, []))


def _orphan_step(step_id: str, placed: Placed) -> OrphanStep:
    kind = step_id.split(":", 1)[0]
    service = placed.container.labels.get(LABEL_SERVICE)
    return OrphanStep(id=step_id, kind=kind, host=placed.host, service=service)  # type: ignore[arg-type]

