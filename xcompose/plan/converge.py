"""Deciding what `up` does to each step: a pure function of the plan and the live state.

The live state is read from the hosts by label (nothing is kept locally), so any machine with
the topology file reaches the same decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from xcompose.live import LiveContainer, LiveNetwork, LiveState, Placed
from xcompose.plan import updatable
from xcompose.plan.naming import (
    LABEL_CONFIG_HASH,
    LABEL_FILES_DIGEST,
    LABEL_REPLICA,
    LABEL_TLS_CA,
    aside_name,
    containers_of,
    step_id_of,
)
from xcompose.plan.relay import NEW_CA
from xcompose.plan.specs import ContainerSpec
from xcompose.plan.steps import (
    CONTAINER_STEPS,
    ContainerStep,
    NetworkStep,
    Plan,
    ServiceStep,
    StepId,
)

Action = Literal["create", "recreate", "keep", "remove"]
# When a service's container is made anew: when its config changed (the default), always
# (`up --force-recreate`), or never (`up --no-recreate`: missing ones are still made).
Recreate = Literal["changed", "always", "never"]


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
    # Which of a step's containers (naming.containers_of, by position) are made anew.
    remake: dict[StepId, tuple[int, ...]]
    orphans: list[Orphan]
    # Project networks on hosts the plan no longer uses.
    stale_networks: dict[str, list[LiveNetwork]]

    @property
    def changes(self) -> int:
        """How many steps `up` would change (orphans included)."""
        return sum(1 for a in self.actions.values() if a.action != "keep") + len(self.orphans)


def decide(plan: Plan, live: LiveState, recreate: Recreate = "changed") -> Convergence:
    by_step: dict[StepId, list[Placed]] = {}
    for placed in live.placed():
        step_id = step_id_of(placed.container.labels)
        if step_id is not None:
            by_step.setdefault(step_id, []).append(placed)

    actions: dict[StepId, StepAction] = {}
    replaced: dict[StepId, list[Placed]] = {}
    remake: dict[StepId, tuple[int, ...]] = {}
    for step in plan.unordered():  # no order needed: `steps()` sorts 36,000 of them
        if isinstance(step, CONTAINER_STEPS):
            action, stale, remade = _decide_container(step, by_step.pop(step.id, []),
                                                      recreate if isinstance(step, ServiceStep) else "changed")
            actions[step.id] = action
            if stale:
                replaced[step.id] = stale
            if remade:
                remake[step.id] = remade
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
    return Convergence(actions, replaced, remake, orphans, stale_networks)


def _decide_container(
    step: ContainerStep, found: Sequence[Placed], recreate: Recreate = "changed"
) -> tuple[StepAction, list[Placed], tuple[int, ...]]:
    """The step's action, its live containers to remove, and which of its containers to
    make. A container is kept when one of that name runs on the step's host with the
    planned config, unchanged by hand since (`recreate`: always, or whatever its config);
    a service's replicas are decided one by one."""
    wanted = containers_of(step)
    here = [p for p in found if p.host == step.host]
    elsewhere = [p for p in found if p.host != step.host]
    keepers: dict[int, Placed] = {}
    for index, spec in enumerate(wanted):
        # Hashed only when a container of that name runs: a fresh `up` hashes nothing here.
        candidates = [p for p in here if p.container.name == spec.name and p.container.state == "running"]
        want_hash = spec.config_hash() if candidates and recreate != "never" else None
        keeper = next((p for p in candidates
                       if recreate == "never" or (p.container.labels.get(LABEL_CONFIG_HASH) == want_hash
                                                  and not _drift(spec, p.container))), None)
        if keeper is not None and recreate != "always":
            keepers[index] = keeper
    kept = {id(p) for p in keepers.values()}
    stale = [p for p in found if id(p) not in kept]
    remake = tuple(index for index in range(len(wanted)) if index not in keepers)
    if not remake:
        # Replicas beyond the planned number go (duplicates left by an interrupted run too,
        # which are not worth a word).
        extra = [p for p in stale if p.host == step.host and LABEL_REPLICA in p.container.labels]
        if extra:
            return StepAction("recreate", f"{len(wanted) + len(extra)} containers -> {len(wanted)}"), stale, ()
        return StepAction("keep"), stale, ()
    if not found:
        return StepAction("create"), [], remake
    if elsewhere and not here:
        return StepAction("recreate", f"moved from host {elsewhere[0].host}"), stale, remake
    if recreate == "always" and len(remake) == len(wanted) and here:
        return StepAction("recreate", "--force-recreate"), stale, remake
    spec = wanted[remake[0]]
    current = next((p.container for p in here if p.container.name == spec.name), None)
    if current is None:
        current = _renamed(spec, [p.container for p in here if id(p) not in kept])
    if current is None:
        if keepers:  # more replicas than run now
            return StepAction("recreate", f"{len(keepers)} containers -> {len(wanted)}"), stale, remake
        current = here[0].container
    return StepAction("recreate", _why_recreate(spec, current)), stale, remake


def _why_recreate(spec: ContainerSpec, current: LiveContainer) -> str:
    if current.labels.get(LABEL_CONFIG_HASH) != spec.config_hash():
        if current.image != spec.image:
            return f"image {current.image} -> {spec.image}"
        built = spec.image_id
        if built is not None and current.image_id != built:
            return f"image {current.image} rebuilt"
        wanted_ca = dict(spec.labels).get(LABEL_TLS_CA)
        if wanted_ca == NEW_CA:
            return "a new project CA"
        if wanted_ca is not None and current.labels.get(LABEL_TLS_CA) != wanted_ca:
            return "project CA changed"
        wanted_files = dict(spec.labels).get(LABEL_FILES_DIGEST)
        if wanted_files is not None and current.labels.get(LABEL_FILES_DIGEST) != wanted_files:
            return "secrets or configs changed"
        return "config changed"
    if current.name != spec.name and current.name != aside_name(spec.name, current.id):
        return f"drift: renamed to {current.name}"
    drift = _drift(spec, current)
    if drift:
        return f"drift: {', '.join(drift)}"
    return f"container is {current.state}"


def _renamed(spec: ContainerSpec, others: Sequence[LiveContainer]) -> LiveContainer | None:
    """The container made for `spec` that now has another name: its step's, and the same
    replica. One set aside by an interrupted `up` is not renamed: it is a leftover."""
    replica = dict(spec.labels).get(LABEL_REPLICA)
    return next((c for c in others if c.labels.get(LABEL_REPLICA) == replica
                 and c.name != aside_name(spec.name, c.id)), None)


def _drift(spec: ContainerSpec, current: LiveContainer) -> list[str]:
    """What was changed by hand in the container since it was made, which its config hash
    cannot show: the networks it is on, and what `docker update` changes."""
    found: list[str] = []
    if current.networks is not None and spec.network_mode is None and spec.networks:
        planned = [endpoint.network for endpoint in spec.networks]
        found += [f"not on network {name}" for name in planned if name not in current.networks]
        found += [f"joined network {name}" for name in current.networks if name not in planned]
    if current.updatable is not None:
        found += updatable.drift(spec, current.updatable)
    return found
