"""The plan object: what should exist on which host, and in which order.

The planner (pure) builds it from a Topology; executors only carry it out. Every container
the plan wants is described completely by a ContainerSpec, so that the config hash (and with
it the create / recreate / keep decision) is a pure function of the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

import networkx as nx

StepKind = Literal["network", "volume", "service", "ambassador-server", "ambassador-client"]
Role = Literal["service", "ambassador-server", "ambassador-client"]
Action = Literal["create", "recreate", "keep", "remove"]

LABEL_PROJECT = "io.xcompose.project"
LABEL_SERVICE = "io.xcompose.service"
LABEL_ROLE = "io.xcompose.role"
LABEL_HOST = "io.xcompose.host"
LABEL_CONFIG_HASH = "io.xcompose.config-hash"


@dataclass(frozen=True)
class HostTarget:
    """Where and how to reach one host's Docker engine."""

    name: str
    address: str | None
    docker: str | None  # None: DOCKER_HOST or the local socket
    executor: Literal["api", "ssh"] = "api"
    sudo: bool = False
    max_parallel: int = 4
    tls_ca_cert: str | None = None
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    tls_verify: bool = True


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    protocol: str = "tcp"
    host_port: int | None = None
    host_ip: str | None = None


@dataclass(frozen=True)
class Mount:
    type: Literal["volume", "bind", "tmpfs"]
    source: str | None  # full Docker volume name for type=volume
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class HealthSpec:
    test: tuple[str, ...]
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class Relay:
    """One port an ambassador relays: it listens on `listen_port` and connects onward."""

    listen_port: int
    to_host: str  # an address or a DNS name on the project network
    to_port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class ContainerSpec:
    """Everything Docker needs to create one container; hashed for convergence."""

    name: str
    image: str
    network: str
    aliases: tuple[str, ...] = ()
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    expose: tuple[tuple[int, str], ...] = ()
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[Mount, ...] = ()
    restart: str | None = None
    healthcheck: HealthSpec | None = None
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    pull_policy: Literal["missing", "always", "never"] = "missing"

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the spec (sorted keys, compact)."""
        data = asdict(self)
        data.pop("pull_policy")  # how to fetch the image is not what runs
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(text.encode()).hexdigest()

    def labels_with_hash(self) -> dict[str, str]:
        return {**dict(self.labels), LABEL_CONFIG_HASH: self.config_hash()}


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    driver: str | None = None
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    external: bool = False


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    driver: str | None = None
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    external: bool = False


@dataclass(frozen=True)
class Step:
    """One node of the plan graph. `id` follows DESIGN §3: `network:HOST`,
    `volume:NAME@HOST`, `service:NAME`, `ambassador-server:NAME`,
    `ambassador-client:NAME@HOST`."""

    id: str
    kind: StepKind
    host: str
    service: str | None = None  # the service, or for ambassadors the link target
    container: ContainerSpec | None = None
    network: NetworkSpec | None = None
    volume: VolumeSpec | None = None
    relays: tuple[Relay, ...] = ()
    # Ambassadors are ready when this command, run inside them, exits 0.
    probe: tuple[str, ...] | None = None
    # A service that depends on this one with condition service_healthy needs health.
    wait_healthy: bool = False
    # Ambassadors: whether the link should be encrypted between the pair (recorded only; the
    # relay that honours it replaces the plain socat one later).
    tls: bool = False


@dataclass(frozen=True)
class StepAction:
    """What `up` would do to one step against the live hosts."""

    action: Action
    reason: str | None = None  # why, for recreate and remove


@dataclass(frozen=True)
class OrphanStep:
    """A live object of the project that no step of the plan wants: shown as `remove`."""

    id: str
    kind: StepKind
    host: str
    service: str | None = None


@dataclass
class Plan:
    project: str
    hosts: dict[str, HostTarget]
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)  # node: step id, attr "step"; edge: before

    def step(self, step_id: str) -> Step:
        return self.graph.nodes[step_id]["step"]

    def steps(self) -> list[Step]:
        """Every step, in a stable topological order."""
        return [self.step(i) for i in nx.lexicographical_topological_sort(self.graph)]

    def after(self, step_id: str) -> list[str]:
        return sorted(self.graph.predecessors(step_id))

    def waves(self) -> list[list[Step]]:
        """Steps grouped by longest distance from a root: each wave needs only earlier ones."""
        return [
            [self.step(i) for i in sorted(generation)]
            for generation in nx.topological_generations(self.graph)
        ]
