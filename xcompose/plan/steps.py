"""The plan: typed steps, their ids, and the order they must run in.

A step id is a `StepId` value; its text form is the stable contract of `plan --format json`
(DESIGN §3): `network:HOST`, `volume:NAME@HOST`, `service:NAME`, `ambassador-server:NAME`,
`ambassador-client:NAME@HOST`. Ids are parsed and formatted here only.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from xcompose.plan.specs import (
    BuildSpec,
    ContainerSpec,
    Hook,
    HostTarget,
    NetworkSpec,
    RelaySetup,
    UploadFile,
    VolumeSpec,
)

if TYPE_CHECKING:  # the relay module brings the PKI's imports with it
    from xcompose.plan.relay import AmbassadorContainer, BuiltAmbassador

StepKind = Literal["network", "volume", "service", "ambassador-server", "ambassador-client"]
STEP_KINDS: tuple[StepKind, ...] = ("network", "volume", "service", "ambassador-server", "ambassador-client")
_KINDS: dict[str, StepKind] = {kind: kind for kind in STEP_KINDS}
DEFAULT_NETWORK = "default"
NEW_CA_NOTE = "the ambassadors' TLS certificates will come from a new project CA, made by `xcompose up`"


class StepId(NamedTuple):
    """`kind`, the name it is about (the service, the volume, the network), and the host
    where the name alone does not say it ("" otherwise). A tuple: cheap to hash and order,
    and a plan holds tens of thousands of them."""

    kind: StepKind
    name: str
    host: str = ""

    def __str__(self) -> str:
        if self.kind == "network" and self.name == DEFAULT_NETWORK:
            return f"network:{self.host}"
        return f"{self.kind}:{self.name}@{self.host}" if self.host else f"{self.kind}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> StepId:
        """The inverse of str(); ValueError for text that is not a step id."""
        kind_text, sep, rest = text.partition(":")
        kind = _KINDS.get(kind_text)
        name, at, host = rest.partition("@")
        if kind is None or not sep or not name or (at and not host):
            raise ValueError(f"'{text}' is not a step id (KIND:NAME or KIND:NAME@HOST)")
        if kind == "network":
            return cls(kind, name, host) if at else cls(kind, DEFAULT_NETWORK, name)
        if (kind in ("volume", "ambassador-client")) != bool(at):
            raise ValueError(f"'{text}' is not a step id: {kind} ids {'need' if not at else 'take no'} @HOST")
        return cls(kind, name, host)

    @classmethod
    def network(cls, host: str, network: str = DEFAULT_NETWORK) -> StepId:
        return cls("network", network, host)

    @classmethod
    def volume(cls, name: str, host: str) -> StepId:
        return cls("volume", name, host)

    @classmethod
    def service(cls, name: str) -> StepId:
        return cls("service", name)

    @classmethod
    def server(cls, target: str) -> StepId:
        return cls("ambassador-server", target)

    @classmethod
    def client(cls, target: str, host: str) -> StepId:
        return cls("ambassador-client", target, host)


@dataclass(frozen=True, slots=True)
class NetworkStep:
    id: StepId
    network: NetworkSpec

    @property
    def host(self) -> str:
        return self.id.host

    @property
    def service(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class VolumeStep:
    id: StepId
    volume: VolumeSpec

    @property
    def host(self) -> str:
        return self.id.host

    @property
    def service(self) -> None:
        return None


class PlannedSpec:
    """A service's container spec, made the first time it is read, from values the planner
    fixed when it planned the service (never from the planner's later state), so it is
    the same whenever that happens. `plan --offline` prints ids, hosts and order and reads
    none of the 10,000 of a large project; `up` reads each. Two threads that read it first
    at once both make it: the same value, and the one kept is as good as the other."""

    __slots__ = ("_make", "_spec")

    def __init__(self, make: Callable[[], ContainerSpec] | None, spec: ContainerSpec | None = None) -> None:
        self._make = make if spec is None else None
        self._spec = spec

    @classmethod
    def of(cls, spec: ContainerSpec) -> PlannedSpec:
        """A spec made already (a step changed after planning)."""
        return cls(None, spec)

    @property
    def spec(self) -> ContainerSpec:
        spec = self._spec
        if spec is None:
            make = self._make
            assert make is not None
            spec = self._spec = make()
            self._make = None
        return spec

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlannedSpec) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return repr(self.spec)


@dataclass(frozen=True, slots=True)
class ServiceStep:
    id: StepId
    host: str
    planned: PlannedSpec  # its container: `container`
    # The service's secrets and configs, uploaded between create and start.
    files: tuple[UploadFile, ...] = ()
    build: BuildSpec | None = None  # the image is built on the host, not pulled
    # Containers of the service on its host (`scale`, `deploy.replicas`): the first is
    # `container`, the others its copies under their own names (naming.containers_of).
    replicas: int = 1
    post_start: tuple[Hook, ...] = ()  # run in each container right after it starts
    pre_stop: tuple[Hook, ...] = ()  # run in each container before it is stopped

    @property
    def container(self) -> ContainerSpec:
        return self.planned.spec

    def with_container(self, spec: ContainerSpec) -> ServiceStep:
        """The same step with another container (its image pinned, ports added)."""
        return dataclasses.replace(self, planned=PlannedSpec.of(spec))

    @property
    def service(self) -> str:
        return self.id.name


class _Ambassador:
    """What both ambassador steps read through their planned ambassador: its container's
    spec and its relay, made when first read (plan/relay.py)."""

    __slots__ = ()
    id: StepId
    ambassador: AmbassadorContainer | BuiltAmbassador

    @property
    def container(self) -> ContainerSpec:
        return self.ambassador.spec

    @property
    def relay(self) -> RelaySetup:
        return self.ambassador.setup

    @property
    def service(self) -> str:
        """The link target this ambassador stands in for."""
        return self.id.name


@dataclass(frozen=True, slots=True)
class ServerAmbassadorStep(_Ambassador):
    """Publishes the target's ports on its host's address and relays them to it."""

    id: StepId
    host: str
    ambassador: AmbassadorContainer | BuiltAmbassador


@dataclass(frozen=True, slots=True)
class ClientAmbassadorStep(_Ambassador):
    """Carries the target's names on a consumer host and relays to the server ambassador."""

    id: StepId
    ambassador: AmbassadorContainer | BuiltAmbassador

    @property
    def host(self) -> str:
        return self.id.host

    @property
    def server(self) -> StepId:
        return StepId.server(self.id.name)


ContainerStep = ServiceStep | ServerAmbassadorStep | ClientAmbassadorStep
AmbassadorStep = ServerAmbassadorStep | ClientAmbassadorStep
Step = NetworkStep | VolumeStep | ServiceStep | ServerAmbassadorStep | ClientAmbassadorStep
CONTAINER_STEPS = (ServiceStep, ServerAmbassadorStep, ClientAmbassadorStep)
AMBASSADOR_STEPS = (ServerAmbassadorStep, ClientAmbassadorStep)


class Plan:
    """The steps of one project and what each must wait for. Immutable once built; the
    graph behind it is private, so every reader goes through these methods.

    The graph is two plain dicts (step by id, and what each step waits for) rather than a
    graph library's: a plan holds tens of thousands of steps, and building a general graph
    of them cost more than ordering them."""

    def __init__(
        self,
        project: str,
        hosts: Mapping[str, HostTarget],
        steps: Iterable[Step],
        edges: Iterable[tuple[StepId, StepId]],
        *,
        new_ca: bool = False,
        notes: tuple[str, ...] = (),
        needs_image_ports: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.hosts: Mapping[str, HostTarget] = dict(hosts)
        # TLS ambassadors, and a project without a CA yet: `up` makes one, then plans again.
        self.new_ca = new_ca
        self._notes = notes
        # service -> image: targets that declare no port, whose images' EXPOSE would say
        # how other hosts reach them (read from the hosts, then planned again).
        self.needs_image_ports: Mapping[str, str] = dict(needs_image_ports or {})
        self._steps: dict[StepId, Step] = {step.id: step for step in steps}
        # step -> what it waits for, each once, in the order the edges came
        self._before: dict[StepId, list[StepId]] = {step_id: [] for step_id in self._steps}
        for before, after in edges:
            if before not in self._steps or after not in self._steps:
                raise ValueError(f"an edge {before} -> {after} names a step the plan does not have")
            waits = self._before[after]
            if before not in waits:
                waits.append(before)
        self._dependents: dict[StepId, list[StepId]] | None = None  # made when first asked

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._steps

    def __len__(self) -> int:
        return len(self._steps)

    def step(self, step_id: StepId) -> Step:
        return self._steps[step_id]

    def steps(self) -> list[Step]:
        """Every step, in a stable topological order: of the steps whose predecessors are
        all taken, always the smallest id next."""
        waiting = {step_id: len(before) for step_id, before in self._before.items()}
        ready = [step_id for step_id, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        dependents = self._after()
        ordered: list[Step] = []
        while ready:
            step_id = heapq.heappop(ready)
            ordered.append(self._steps[step_id])
            for later in dependents[step_id]:
                waiting[later] -= 1
                if waiting[later] == 0:
                    heapq.heappush(ready, later)
        self._check_all_ordered(len(ordered))
        return ordered

    def after(self, step_id: StepId) -> list[StepId]:
        """What `step_id` waits for."""
        return sorted(self._before[step_id])

    def dependents(self, step_id: StepId) -> list[StepId]:
        """What waits for `step_id`."""
        return sorted(self._after()[step_id])

    def dependencies(self) -> dict[StepId, list[StepId]]:
        """Each step and what it waits for: the input of the parallel walk."""
        return {step_id: list(before) for step_id, before in self._before.items()}

    def edges(self) -> list[tuple[StepId, StepId]]:
        """(before, after) pairs, sorted."""
        return sorted(self._edges())

    def waves(self) -> list[list[Step]]:
        """Steps grouped by longest distance from a root: each wave needs only earlier ones."""
        return [[self._steps[step_id] for step_id in sorted(wave)] for wave in self.wave_ids()]

    def wave_ids(self) -> list[list[StepId]]:
        """The ids of each of `waves()`, each wave in no particular order (for readers that
        order them their own way)."""
        waiting = {step_id: len(before) for step_id, before in self._before.items()}
        wave = [step_id for step_id, count in waiting.items() if count == 0]
        dependents = self._after()
        waves: list[list[StepId]] = []
        while wave:
            waves.append(wave)
            following = []
            for step_id in wave:
                for later in dependents[step_id]:
                    waiting[later] -= 1
                    if waiting[later] == 0:
                        following.append(later)
            wave = following
        self._check_all_ordered(sum(len(wave) for wave in waves))
        return waves

    def needed_for(self, step_ids: Iterable[StepId]) -> Plan:
        """The part of the plan that `step_ids` need: those steps and everything before them."""
        keep: set[StepId] = set()
        to_visit = list(step_ids)
        while to_visit:
            step_id = to_visit.pop()
            if step_id not in keep:
                keep.add(self._known(step_id))
                to_visit += self._before[step_id]
        return self._sub(keep)

    def alone(self, step_ids: Iterable[StepId]) -> Plan:
        """`step_ids` with the networks and volumes they need, but none of the other steps
        they wait for (`up --no-deps`: those are taken to be there)."""
        keep: set[StepId] = set()
        for step_id in step_ids:
            keep.add(self._known(step_id))
            keep |= {before for before in self._before[step_id] if before.kind in ("network", "volume")}
        return self._sub(keep)

    def without(self, step_ids: Iterable[StepId]) -> Plan:
        """The plan less these steps (what waits for them stays: `run` brings up what its
        service needs, not the service)."""
        gone = set(step_ids)
        return self._sub({step_id for step_id in self._steps if step_id not in gone})

    def unordered(self) -> Iterable[Step]:
        """Every step, in no particular order: for readers that need none (`steps()` sorts)."""
        return self._steps.values()

    def replacing(self, steps: Iterable[Step], *, new_ca: bool | None = None) -> Plan:
        """The same plan with these steps in place of those with the same ids (and `new_ca`
        when given)."""
        new = {step.id: step for step in steps}
        return Plan(self.project, self.hosts, (new.get(i) or step for i, step in self._steps.items()),
                    self._edges(), new_ca=self.new_ca if new_ca is None else new_ca, notes=self._notes,
                    needs_image_ports=self.needs_image_ports)

    @property
    def notes(self) -> tuple[str, ...]:
        """What is true of the plan as a whole, for people reading it."""
        return ((NEW_CA_NOTE,) if self.new_ca else ()) + self._notes

    @property
    def uses_tls(self) -> bool:
        """Some ambassador pair speaks mutual TLS: the project needs a CA."""
        return any(isinstance(step, ServerAmbassadorStep | ClientAmbassadorStep) and step.ambassador.tls
                   for step in self._steps.values())

    def hosts_used(self) -> set[str]:
        return {step.host for step in self._steps.values()}

    def _known(self, step_id: StepId) -> StepId:
        if step_id not in self._steps:
            raise KeyError(f"the plan has no step {step_id}")
        return step_id

    def _edges(self) -> list[tuple[StepId, StepId]]:
        return [(before, step_id) for step_id, waits in self._before.items() for before in waits]

    def _after(self) -> dict[StepId, list[StepId]]:
        """Step -> the steps that wait for it (the edges read the other way)."""
        if self._dependents is None:
            dependents: dict[StepId, list[StepId]] = {step_id: [] for step_id in self._steps}
            for step_id, waits in self._before.items():
                for before in waits:
                    dependents[before].append(step_id)
            self._dependents = dependents
        return self._dependents

    def _sub(self, keep: set[StepId]) -> Plan:
        """The plan of the steps in `keep` and the edges between them, in this plan's order."""
        return Plan(self.project, self.hosts, (step for i, step in self._steps.items() if i in keep),
                    [(before, after) for before, after in self._edges() if before in keep and after in keep],
                    new_ca=self.new_ca, notes=self._notes, needs_image_ports=self.needs_image_ports)

    def _check_all_ordered(self, count: int) -> None:
        # The planner refuses loops (checks.check_cycles) before it builds a plan.
        if count != len(self._steps):
            raise ValueError("the plan's steps wait for each other in a loop")
