"""What `up` does on a swarm, decided from the swarm plan and what the manager says exists.
Pure: the live state is read by engines/swarm.py, the decision is carried out by
run/swarm_up.py.

A service is kept when its digest label equals the plan's, updated in place (Swarm replaces
its tasks) when it differs; secrets and configs carry a digest of their content in their
names, so one either exists or is made; an overlay whose settings changed cannot be changed
in place while services are on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from xcompose.plan.converge import Recreate, StepAction
from xcompose.plan.naming import LABEL_CONFIG_HASH, LABEL_SERVICE
from xcompose.plan.swarm_steps import OverlaySpec, SwarmObjectSpec, SwarmPlan, SwarmServiceSpec

# An overlay's own settings, kept in a label so that a changed file is noticed.
LABEL_OVERLAY_DIGEST = "io.xcompose.overlay-digest"


@dataclass(frozen=True)
class LiveService:
    id: str
    version: int
    labels: Mapping[str, str]
    # Swarm's counter that replaces a service's tasks when raised (`--force-recreate`).
    force_update: int = 0

    @property
    def digest(self) -> str | None:
        return self.labels.get(LABEL_CONFIG_HASH)

    @property
    def service(self) -> str | None:
        return self.labels.get(LABEL_SERVICE)


@dataclass(frozen=True)
class LiveSwarm:
    """The project's objects on the swarm, by Docker name."""

    services: Mapping[str, LiveService] = field(default_factory=dict)
    networks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # name -> labels
    secrets: Mapping[str, str] = field(default_factory=dict)  # name -> id
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SwarmConvergence:
    actions: Mapping[str, StepAction]  # step id -> what up does
    orphan_services: tuple[str, ...]  # Docker names of the project's services the plan no longer has
    unused_objects: tuple[tuple[str, str], ...]  # (secret|config, Docker name) the plan no longer uses

    @property
    def changes(self) -> int:
        return sum(1 for action in self.actions.values() if action.action != "keep")


def overlay_digest(spec: OverlaySpec) -> str:
    """The settings of an overlay that cannot change in place, as a label value."""
    options = ",".join(f"{k}={v}" for k, v in spec.driver_opts)
    return f"encrypted={spec.encrypted};internal={spec.internal};{options}"


def decide_swarm(plan: SwarmPlan, live: LiveSwarm, *, recreate: Recreate = "changed") -> SwarmConvergence:
    """What `up` does to each step; `recreate`: when a service's tasks are replaced (as on
    plain engines: when its spec changed, always, or never)."""
    actions: dict[str, StepAction] = {}
    for step in plan.steps():
        spec = step.spec
        if isinstance(spec, OverlaySpec):
            labels = live.networks.get(spec.name)
            if labels is None:
                actions[step.id] = StepAction("create")
            elif labels.get(LABEL_OVERLAY_DIGEST, overlay_digest(spec)) != overlay_digest(spec):
                actions[step.id] = StepAction("recreate", "settings changed (encrypted, internal or options): "
                                                          "`xcompose down` first, then `up`")
            else:
                actions[step.id] = StepAction("keep")
        elif isinstance(spec, SwarmObjectSpec):
            made = live.secrets if spec.kind == "secret" else live.configs
            actions[step.id] = StepAction("keep" if spec.name in made else "create")
        elif isinstance(spec, SwarmServiceSpec):
            actions[step.id] = _service_action(spec, live.services.get(spec.name), recreate)
    wanted = {step.spec.name for step in plan.steps()}
    orphans = tuple(sorted(name for name in live.services if name not in wanted))
    unused = tuple(sorted([*(("secret", n) for n in live.secrets if n not in wanted),
                           *(("config", n) for n in live.configs if n not in wanted)]))
    return SwarmConvergence(actions, orphans, unused)


def _service_action(spec: SwarmServiceSpec, found: LiveService | None, recreate: Recreate) -> StepAction:
    if found is None:
        return StepAction("create")
    if recreate == "always":
        return StepAction("recreate", "--force-recreate")
    if found.digest != spec.digest() and recreate == "changed":
        return StepAction("recreate", "config changed: its tasks are replaced")
    return StepAction("keep")
