"""An in-memory swarm manager for the tests of up and down on a swarm, and the small
project they plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xcompose.config.project import Project
from xcompose.engines.swarm import SwarmState, TaskFacts
from xcompose.plan.converge import StepAction
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.swarm import build_swarm_plan
from xcompose.plan.swarm_converge import LABEL_OVERLAY_DIGEST, LiveService, LiveSwarm, overlay_digest
from xcompose.plan.swarm_nodes import LabelChange, NodeFacts
from xcompose.plan.swarm_steps import OverlaySpec, SwarmObjectSpec, SwarmPlan, SwarmServiceSpec, SwarmStep
from xcompose.run.walk import StepResult

Load = Callable[..., Project]

# Two nodes, a secret, and a consumer that waits for its database on the other node.
SHOP = """\
name: shop
engine: swarm
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
secrets:
  token: {environment: TOKEN}
services:
  db: {image: redis:7, host: h1}
  app: {image: redis:7, host: h2, depends_on: [db], secrets: [token]}
"""


def shop_plan(load_text: Load, text: str = SHOP, token: str = "t") -> SwarmPlan:
    """The swarm plan of `text` (SHOP), its secret's value `token`, endpoint mode dnsrr."""
    return build_swarm_plan(load_text(text, env={"TOKEN": token}), "dnsrr")


@dataclass
class FakeManager:
    """A swarm manager that does what it is told at once: each service's tasks run as soon
    as it is made (or never, with `stuck`)."""

    state_: SwarmState = field(default_factory=lambda: SwarmState("n1", "active", True))
    node_list: list[NodeFacts] = field(default_factory=lambda: [
        NodeFacts("n1", 1, ("10.0.0.1",), {}, "ready", "active"),
        NodeFacts("n2", 1, ("10.0.0.2",), {}, "ready", "active")])
    services: dict[str, tuple[SwarmServiceSpec, str]] = field(default_factory=dict)  # name -> (spec, project)
    networks: dict[str, OverlaySpec] = field(default_factory=dict)
    objects: dict[str, SwarmObjectSpec] = field(default_factory=dict)
    outside: dict[str, str] = field(default_factory=dict)  # secrets and configs made outside: name -> kind
    calls: list[str] = field(default_factory=list)
    stuck: set[str] = field(default_factory=set)
    forced: dict[str, int] = field(default_factory=dict)  # service -> its ForceUpdate counter

    def state(self) -> SwarmState:
        return self.state_

    def nodes(self) -> list[NodeFacts]:
        return self.node_list

    def relabel(self, change: LabelChange) -> None:
        self.calls.append(f"label {change.node.id} {dict(change.labels)}")

    def read_live(self, project: str) -> LiveSwarm:
        return LiveSwarm(
            {name: LiveService(name, 1, spec.service_labels(owner), self.forced.get(name, 0))
             for name, (spec, owner) in self.services.items() if owner == project},
            {name: {LABEL_PROJECT: project, LABEL_OVERLAY_DIGEST: overlay_digest(spec)}
             for name, spec in self.networks.items()},
            {name: name for name, spec in self.objects.items() if spec.kind == "secret"},
            {name: name for name, spec in self.objects.items() if spec.kind == "config"})

    def tasks(self, service: str | None = None, project: str | None = None) -> list[TaskFacts]:
        spec = self.services[service or ""][0]
        state = "pending" if service in self.stuck else "running"
        return [TaskFacts(f"{service}.{n}", service or "", n, "n1", state, "running",
                          "no suitable node" if state == "pending" else "", None, spec.digest(),
                          self.forced.get(service or "", 0))
                for n in range(1, spec.replicas + 1)]

    def create_overlay(self, spec: OverlaySpec) -> None:
        self.calls.append(f"create network {spec.name}")
        self.networks[spec.name] = spec

    def create_object(self, spec: SwarmObjectSpec) -> None:
        self.calls.append(f"create {spec.kind} {spec.source}")
        self.objects[spec.name] = spec

    def object_ids(self, project: str) -> dict[str, str]:
        return {name: name for name in self.objects}

    def find_objects(self, wanted: set[tuple[str, str]]) -> dict[str, str]:
        self.calls.append(f"find {sorted(wanted)}")
        known = {**self.outside, **{name: spec.kind for name, spec in self.objects.items()}}
        return {name: name for kind, name in wanted if known.get(name) == kind}

    def create_service(self, spec: SwarmServiceSpec, project: str, object_ids: dict[str, str]) -> None:
        assert all(f.object_name in object_ids for f in spec.files)
        self.calls.append(f"create service {spec.name}")
        self.services[spec.name] = (spec, project)

    def update_service(self, live: LiveService, spec: SwarmServiceSpec, project: str,
                       object_ids: dict[str, str], force_update: int = 0) -> None:
        self.calls.append(f"update service {spec.name}" + (f" force {force_update}" if force_update else ""))
        self.services[spec.name] = (spec, project)
        self.forced[spec.name] = force_update

    def remove_service(self, name: str) -> None:
        self.calls.append(f"remove service {name}")
        del self.services[name]

    def remove_network(self, name: str) -> None:
        self.calls.append(f"remove network {name}")
        del self.networks[name]

    def remove_object(self, kind: str, name: str) -> None:
        self.calls.append(f"remove {kind} {name}")
        del self.objects[name]


class Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step_started(self, step: SwarmStep, action: StepAction) -> None:
        self.lines.append(f"{step.id}: {action.action}")

    def step_finished(self, step: SwarmStep, action: StepAction, result: StepResult[str]) -> None:
        self.lines.append(f"{step.id}: {result.outcome}")

    def note(self, text: str) -> None:
        self.lines.append(text)

    def error(self, text: str) -> None:
        self.lines.append(f"error: {text}")
