"""The swarm plan's typed steps: an overlay network, a Swarm secret or config, a Swarm
service, and the plan that orders them (built by plan/swarm.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

from xcompose.plan.naming import LABEL_CONFIG_HASH, LABEL_HOST, LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE
from xcompose.plan.specs import HealthSpec, HostTarget, Mount, PortBinding, canonical_digest

EndpointMode = Literal["vip", "dnsrr"]
SwarmKind = Literal["overlay", "secret", "config", "service"]
ObjectKind = Literal["secret", "config"]
# The node label that says which host of the file a swarm node is; services are pinned by it
# (nodes of one lab share a hostname, and hostnames need not be unique in a swarm anyway).
NODE_LABEL = "io.xcompose.host"
# The endpoint mode a service was made with (`auto` is decided once, at its first `up`).
LABEL_ENDPOINT_MODE = "io.xcompose.endpoint-mode"
# Swarm's name limit for services, networks, secrets and configs.
MAX_NAME = 63


@dataclass(frozen=True)
class OverlaySpec:
    name: str  # the Docker network's name
    labels: tuple[tuple[str, str], ...]
    encrypted: bool
    internal: bool = False
    driver_opts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SwarmObjectSpec:
    """A Swarm secret or config: immutable in Swarm, so its name carries a digest of its
    content, and a changed content is a new object the service switches to."""

    kind: ObjectKind
    source: str  # its name in the file
    name: str
    labels: tuple[tuple[str, str], ...]
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class FileGrant:
    """A secret or config as a file in the service's tasks."""

    kind: ObjectKind
    object_name: str
    path: str
    uid: int
    gid: int
    mode: int


@dataclass(frozen=True)
class SwarmServiceSpec:
    """Everything the Swarm service of one service of the file needs; its digest is its
    identity for convergence."""

    name: str  # the Swarm service's name: PROJECT_SERVICE, as `docker stack deploy` names it
    service: str
    host: str  # the node it is pinned to, by NODE_LABEL
    image: str
    replicas: int
    endpoint_mode: EndpointMode | None  # None: not decided yet (`auto` before the nodes are asked)
    networks: tuple[tuple[str, tuple[str, ...]], ...]  # (overlay name, aliases)
    constraints: tuple[str, ...] = ()  # the file's own placement constraints, beside the host's
    command: tuple[str, ...] | None = None  # Swarm's `Command` is the entrypoint
    args: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    container_labels: tuple[tuple[str, str], ...] = ()
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[Mount, ...] = ()
    files: tuple[FileGrant, ...] = ()
    healthcheck: HealthSpec | None = None
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    restart: str | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None
    init: bool | None = None
    read_only: bool = False
    tty: bool = False
    stdin_open: bool = False
    sysctls: tuple[tuple[str, str], ...] = ()
    extra_hosts: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    nano_cpus: int | None = None
    mem_limit: int | None = None
    mem_reservation: int | None = None
    log_driver: str | None = None
    log_options: tuple[tuple[str, str], ...] = ()

    @property
    def constraint(self) -> str:
        return f"node.labels.{NODE_LABEL} == {self.host}"

    @property
    def placement(self) -> list[str]:
        """Every constraint of the service's tasks: its host's node, then the file's."""
        return [self.constraint, *self.constraints]

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the spec, fields at their default left out (a
        field added later changes no service that does not use it)."""
        return canonical_digest(self)

    def service_labels(self, project: str) -> dict[str, str]:
        """The Swarm service's labels: the project's, and the digest that says what runs."""
        labels = {LABEL_PROJECT: project, LABEL_SERVICE: self.service, LABEL_ROLE: "service",
                  LABEL_HOST: self.host, LABEL_CONFIG_HASH: self.digest()}
        if self.endpoint_mode is not None:
            labels[LABEL_ENDPOINT_MODE] = self.endpoint_mode
        return labels


SwarmSpec = OverlaySpec | SwarmObjectSpec | SwarmServiceSpec


@dataclass(frozen=True)
class SwarmStep:
    """`overlay:NETWORK`, `secret:NAME`, `config:NAME` or `service:NAME` (names as in the file)."""

    kind: SwarmKind
    name: str
    spec: SwarmSpec

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def host(self) -> str | None:
        """The node a service runs on; the rest belongs to the whole swarm."""
        return self.spec.host if isinstance(self.spec, SwarmServiceSpec) else None


class SwarmPlan:
    """The steps of a project on a swarm and what each waits for."""

    def __init__(self, project: str, manager: str, hosts: Mapping[str, HostTarget], steps: Iterable[SwarmStep],
                 edges: Iterable[tuple[str, str]], *, encrypted: bool, endpoint_mode: str,
                 notes: tuple[str, ...] = ()) -> None:
        self.project = project
        self.manager = manager
        self.hosts = dict(hosts)
        self.encrypted = encrypted
        self.endpoint_mode = endpoint_mode  # vip, dnsrr, or auto while the nodes are not asked
        self.notes = notes
        self._steps = {step.id: step for step in steps}
        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self._steps)
        graph.add_edges_from(edges)
        self._graph = graph

    def __len__(self) -> int:
        return len(self._steps)

    def step(self, step_id: str) -> SwarmStep:
        return self._steps[step_id]

    def steps(self) -> list[SwarmStep]:
        return [self._steps[i] for i in nx.lexicographical_topological_sort(self._graph)]

    def after(self, step_id: str) -> list[str]:
        return sorted(self._graph.predecessors(step_id))

    def waves(self) -> list[list[SwarmStep]]:
        """Steps grouped by longest distance from a root: each wave needs only earlier ones."""
        return [[self._steps[i] for i in sorted(wave)] for wave in nx.topological_generations(self._graph)]

    def needed_for(self, step_ids: Iterable[str], *, services: bool = True) -> SwarmPlan:
        """The part of the plan these steps need: they and everything before them; without
        `services` (`up --no-deps`), the other services before them are left out, and only
        the overlays, secrets and configs they need are kept."""
        keep: set[str] = set()
        for step_id in step_ids:
            keep |= {step_id, *(before for before in nx.ancestors(self._graph, step_id)
                                if services or self._steps[before].kind != "service")}
        sub = self._graph.subgraph(keep)
        return SwarmPlan(self.project, self.manager, self.hosts, (self._steps[i] for i in sub), sub.edges,
                         encrypted=self.encrypted, endpoint_mode=self.endpoint_mode, notes=self.notes)

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._steps

    def of_kind(self, kind: SwarmKind) -> list[SwarmStep]:
        return [step for step in self._steps.values() if step.kind == kind]
