"""Deciding what `up` does to each step: a pure function of the plan and the live state.

The live state is read from the hosts by label (nothing is kept locally), so any machine with
the topology file reaches the same decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from xcompose.live import LiveNetwork, LiveState, Placed
from xcompose.plan.naming import LABEL_CONFIG_HASH, LABEL_FILES_DIGEST, LABEL_TLS_CA, step_id_of
from xcompose.plan.relay import NEW_CA
from xcompose.plan.steps import (
    CONTAINER_STEPS,
    ContainerStep,
    NetworkStep,
    Plan,
    StepId,
)

Action = Literal["create", "recreate", "keep", "remove"]


@dataclass(frozen=True)
class StepAction:
    """What `up` would do to one step against the live hosts."""

    action: Action
    reason: str | None = None  # why, for recreate and remove


@dataclass(frozen=True)
class Orphan:
    """A container of the project that no step of the plan wants any more: `remove`."""

    id: StepId
    placed: Placed

    @property
    def host(self) -> str:
        return self.placed.host


@dataclass
class Convergence:
    actions: dict[StepId, StepAction]
    # Live containers a step replaces or makes redundant, removed as part of that step.
    replaced: dict[StepId, list[Placed]]
    orphans: list[Orphan]
    # Project networks on hosts the plan no longer uses.
    stale_networks: dict[str, list[LiveNetwork]]

    @property
    def changes(self) -> int:
        """How many steps `up` would change (orphans included)."""
        return sum(1 for a in self.actions.values() if a.action != "keep") + len(self.orphans)


def decide(plan: Plan, live: LiveState) -> Convergence:
    by_step: dict[StepId, list[Placed]] = {}
    for placed in live.placed():
        step_id = step_id_of(placed.container.labels)
        if step_id is not None:
            by_step.setdefault(step_id, []).append(placed)

    actions: dict[StepId, StepAction] = {}
    replaced: dict[StepId, list[Placed]] = {}
    for step in plan.steps():
        if isinstance(step, CONTAINER_STEPS):
            action, stale = _decide_container(step, by_step.pop(step.id, []))
            actions[step.id] = action
            if stale:
                replaced[step.id] = stale
        elif isinstance(step, NetworkStep):
            present = any(n.name == step.network.name for n in live.networks.get(step.host, []))
            actions[step.id] = StepAction("keep" if present else "create")
        else:  # a volume is made once and never replaced: it holds the data
            present = any(v.name == step.volume.name for v in live.volumes.get(step.host, []))
            actions[step.id] = StepAction("keep" if present else "create")

    orphans = [Orphan(step_id, placed) for step_id, found in sorted(by_step.items()) for placed in found]
    used_hosts = plan.hosts_used()
    stale_networks = {
        host: networks for host, networks in live.networks.items() if host not in used_hosts and networks
    }
    return Convergence(actions, replaced, orphans, stale_networks)


def _decide_container(step: ContainerStep, found: Sequence[Placed]) -> tuple[StepAction, list[Placed]]:
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
        return StepAction("keep"), stale
    if not found:
        return StepAction("create"), []
    if elsewhere and not here:
        return StepAction("recreate", f"moved from host {elsewhere[0].host}"), stale
    current = here[0].container
    if current.labels.get(LABEL_CONFIG_HASH) != want_hash:
        if current.image != step.container.image:
            return StepAction("recreate", f"image {current.image} -> {step.container.image}"), stale
        built = step.container.image_id
        if built is not None and current.image_id != built:
            return StepAction("recreate", f"image {current.image} rebuilt"), stale
        wanted_ca = dict(step.container.labels).get(LABEL_TLS_CA)
        if wanted_ca == NEW_CA:
            return StepAction("recreate", "a new project CA"), stale
        if wanted_ca is not None and current.labels.get(LABEL_TLS_CA) != wanted_ca:
            return StepAction("recreate", "project CA changed"), stale
        wanted_files = dict(step.container.labels).get(LABEL_FILES_DIGEST)
        if wanted_files is not None and current.labels.get(LABEL_FILES_DIGEST) != wanted_files:
            return StepAction("recreate", "secrets or configs changed"), stale
        return StepAction("recreate", "config changed"), stale
    return StepAction("recreate", f"container is {current.state}"), stale
