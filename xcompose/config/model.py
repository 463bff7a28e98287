"""The topology file as typed models.

Compose's vocabulary wherever Compose has a word; new keys only for what Compose lacks
(`hosts`, `host`, `ambassador`, `engine`, `swarm`). Unknown keys are errors, `x-*` keys are allowed anywhere.
Short and long forms are normalised here so that the planner sees one shape only.
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from xcompose.config.build_model import Build
from xcompose.config.declarations import ConfigDecl, NetworkDecl, SecretDecl, VolumeDecl
from xcompose.config.hooks import ServiceHook
from xcompose.config.host_model import Host
from xcompose.config.mounts import VolumeMount, parse_volume
from xcompose.config.options import (
    AT_LEAST_ONE,
    ByteSize,
    ContainerName,
    CpuCount,
    CpuSet,
    Deploy,
    DeviceEntry,
    Duration,
    ExtraHosts,
    IpcMode,
    Logging,
    MacAddress,
    OneOrMany,
    PidMode,
    SecurityOpt,
    Signal,
    SwapSize,
    Sysctls,
    TmpfsList,
    Ulimits,
    VolumesFromEntry,
    Words,
    constraint_host,
)
from xcompose.config.service_keys import (
    DependsOn,
    EnvFileEntry,
    GrantEntry,
    Healthcheck,
    ServiceNetwork,
    env_file_entry,
)
from xcompose.config.strict import Strict
from xcompose.config.swarm_model import Engine, SwarmSettings
from xcompose.config.syntax import (
    Link,
    PortPublish,
    PortSpec,
    key_values,
    parse_expose,
    parse_link,
    parse_ports,
)

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"


# proxy: a relay program on both ends of a link; kernel: DNAT on the consumer's host only.
AmbassadorMode = Literal["proxy", "kernel"]


class AmbassadorSettings(Strict):
    """Project-wide relay settings; services may override them and their published ports."""

    image: str = Field(
        default="haproxy:2.6",
        description="The relay image: haproxy (tcp mode; the default, measured in "
        "bench/ambassador.py) or a socat image (also relays UDP).",
    )
    tls: bool = Field(default=True, description="Mutual TLS between the two ambassadors of a link.")
    mode: AmbassadorMode = Field(
        default="proxy",
        description="proxy: a relay program on both ends of a link (haproxy or socat, TLS on by default); "
        "kernel: the target's ports are published on its host's address and the client ambassador "
        "forwards with iptables DNAT, no relay program and no encryption (needs `tls: false` and an "
        "`image` that has iptables; bench/ambassador.py).",
    )
    reach: Literal["all", "used"] = Field(
        default="all",
        description="all: a service is reached from every host where a service shares a network with it, "
        "as in Compose; used: only where a service there waits for it (depends_on), links to it, or names it "
        "in its environment or command (fewer relays; bench/relays.py).",
    )


class ServiceAmbassador(Strict):
    """Per-service ambassador overrides."""

    image: str | None = Field(default=None, description="The relay image for this service's links.")
    tls: bool | None = None
    mode: AmbassadorMode | None = Field(default=None, description="proxy or kernel, for this service's links.")
    publish: dict[int, int] = Field(
        default_factory=dict,
        description="Exposed port -> host port the server ambassador (in kernel mode, the service) publishes it on "
        "(resolves two targets on one host exposing the same port).",
    )


# `no`, `always`, `unless-stopped`, `on-failure` or `on-failure:N` (at most N restarts).
RESTART_PATTERN = re.compile(r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$")


# Short string forms are parsed item by item, so an error points at `ports[1]`, not `ports`;
# the schema still offers the string form to editors.
# An entry may be a range: each stands for the single ports it covers.
ExposedPorts = Annotated[
    tuple[PortSpec, ...], BeforeValidator(parse_expose, json_schema_input_type=int | str)
]
PublishedPorts = Annotated[
    tuple[PortPublish, ...],
    BeforeValidator(parse_ports, json_schema_input_type=int | str | dict[str, int | str]),
]
LinkEntry = Annotated[Link, BeforeValidator(parse_link, json_schema_input_type=str)]
MountEntry = Annotated[
    VolumeMount, BeforeValidator(parse_volume, json_schema_input_type=str | VolumeMount)
]
EnvFileRef = Annotated[
    EnvFileEntry, BeforeValidator(env_file_entry, json_schema_input_type=str | EnvFileEntry)
]


class Service(Strict):
    image: str | None = Field(
        default=None, description="Image to run, e.g. postgres:16; with `build:`, the name of the built image."
    )
    build: Build | None = Field(
        default=None, description="Build the image on the service's host: a context folder, or the long form."
    )
    host: str | None = Field(default=None, description="The host this service runs on.")
    command: list[str] | str | None = None
    entrypoint: list[str] | str | None = None
    environment: dict[str, str | None] = Field(default_factory=dict)
    env_file: list[EnvFileRef] = Field(default_factory=list)
    expose: list[ExposedPorts] = Field(default_factory=list, description="Ports offered to links.")
    ports: list[PublishedPorts] = Field(default_factory=list, description="Published, as docker run -p.")
    links: list[LinkEntry] = Field(default_factory=list, description="SERVICE or SERVICE:ALIAS.")
    depends_on: dict[str, DependsOn] = Field(default_factory=dict)
    volumes: list[MountEntry] = Field(default_factory=list)
    restart: str | None = Field(
        default=None, description="no, always, on-failure[:N] or unless-stopped.",
        json_schema_extra={"pattern": RESTART_PATTERN.pattern},
    )
    healthcheck: Healthcheck | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    cap_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(default_factory=list)
    privileged: bool = False
    pull_policy: Literal["missing", "always", "never", "build"] = "missing"
    profiles: list[str] = Field(
        default_factory=list, description="Left out unless one of these profiles is active."
    )
    ambassador: ServiceAmbassador = Field(default_factory=ServiceAmbassador)
    networks: dict[str, ServiceNetwork | None] | None = Field(
        default=None, description="The project networks the service joins (default: the `default` network)."
    )
    network_mode: str | None = Field(default=None, description="host, none, or service:NAME (on the same host).")
    secrets: list[GrantEntry] = Field(
        default_factory=list, description="Top-level secrets given to the service, as files in /run/secrets."
    )
    configs: list[GrantEntry] = Field(
        default_factory=list, description="Top-level configs given to the service, as files in /."
    )
    container_name: ContainerName | None = Field(default=None, description="The container's name; unique on its host.")
    stop_signal: Signal | None = None
    stop_grace_period: Duration | None = Field(default=None, description="How long a stop waits before SIGKILL.")
    stdin_open: bool = False
    tty: bool = False
    init: bool | None = None
    read_only: bool = False
    sysctls: Sysctls = Field(default_factory=dict)
    ulimits: Ulimits = Field(default_factory=dict)
    shm_size: ByteSize | None = None
    tmpfs: TmpfsList = Field(default_factory=list)
    extra_hosts: ExtraHosts = Field(default_factory=list, description="HOST=IP entries; the IP may be host-gateway.")
    dns: OneOrMany = Field(default_factory=list)
    dns_search: OneOrMany = Field(default_factory=list)
    dns_opt: list[str] = Field(default_factory=list)
    devices: list[DeviceEntry] = Field(default_factory=list)
    security_opt: list[SecurityOpt] = Field(default_factory=list)
    mem_limit: ByteSize | None = None
    memswap_limit: SwapSize | None = None
    mem_reservation: ByteSize | None = None
    cpus: CpuCount | None = None
    cpu_shares: int | None = Field(default=None, ge=0)
    cpuset: CpuSet | None = None
    pids_limit: int | None = Field(default=None, ge=-1)
    oom_score_adj: int | None = Field(default=None, ge=-1000, le=1000)
    logging: Logging | None = None
    pid: PidMode | None = Field(default=None, description="host, or service:NAME / container:NAME on the same host.")
    ipc: IpcMode | None = Field(default=None, description="private, shareable, host, none, or service:NAME / "
                            "container:NAME on the same host.")
    volumes_from: list[VolumesFromEntry] = Field(default_factory=list, description="SERVICE[:ro] or "
                                                 "container:NAME[:ro]; a service on the same host.")
    platform: str | None = None
    runtime: str | None = None
    group_add: Words = Field(default_factory=list)
    domainname: str | None = None
    mac_address: MacAddress | None = None
    userns_mode: str | None = None
    cgroup_parent: str | None = None
    cgroup: Literal["host", "private"] | None = Field(default=None, description="The cgroup namespace.")
    attach: bool = Field(
        default=True, description="Compose: whether `up` follows the logs; `xcompose up` never does (no effect)."
    )
    scale: int | None = Field(default=None, description="Containers of the service, all on its host (default 1).")
    post_start: list[ServiceHook] = Field(default_factory=list, description="Run in each container after it starts.")
    pre_stop: list[ServiceHook] = Field(default_factory=list, description="Run in each container before it stops.")
    deploy: Deploy | None = None

    @field_validator("scale")
    @classmethod
    def _some_containers(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"{value}: {AT_LEAST_ONE}")
        return value

    def replicas(self) -> int:
        """How many containers run: `scale`, else `deploy.replicas`, else one."""
        deployed = self.deploy.replicas if self.deploy else None
        return self.scale or deployed or 1

    @field_validator("networks", mode="before", json_schema_input_type=list[str] | dict[str, ServiceNetwork | None])
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(name): None for name in value}
        return value

    @field_validator("network_mode")
    @classmethod
    def _network_mode(cls, value: str | None) -> str | None:
        if value is not None and value not in ("host", "none", "bridge") and not value.startswith("service:"):
            raise ValueError(f"'{value}': use host, none, bridge or service:NAME "
                             "(container:NAME names no service of the file, so xcompose cannot place it)")
        return value

    @field_validator("build", mode="before", json_schema_input_type=str | Build | None)
    @classmethod
    def _build_short_form(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _image_or_build(self) -> Service:
        if self.image is None and self.build is None:
            raise ValueError("missing required key 'image' (or `build:`, to build the image)")
        return self

    def network_settings(self) -> dict[str, ServiceNetwork]:
        """The networks the service joins and its settings on each: `default` when it names
        none, nothing with a `network_mode`."""
        if self.network_mode is not None:
            return {}
        if self.networks is None:
            return {"default": ServiceNetwork()}
        return {name: settings or ServiceNetwork() for name, settings in self.networks.items()}

    def placement_host(self) -> str | None:
        """The host a `deploy.placement` constraint names (`node.hostname == HOST`)."""
        constraints = self.deploy.placement.constraints if self.deploy else []
        return next((h for h in map(constraint_host, constraints) if h is not None), None)

    @field_validator(
        "environment", mode="before", json_schema_input_type=dict[str, str | float | bool | None] | list[str]
    )
    @classmethod
    def _environment(cls, value: Any) -> Any:
        return key_values(value, "environment", allow_none=True)

    @field_validator(
        "labels", mode="before", json_schema_input_type=dict[str, str | float | bool | None] | list[str]
    )
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return key_values(value, "labels", allow_none=False)

    @field_validator("restart")
    @classmethod
    def _restart(cls, value: str | None) -> str | None:
        if value is not None and not RESTART_PATTERN.match(value):
            raise ValueError(
                f"must be one of 'no', 'always', 'on-failure', 'on-failure:N' or 'unless-stopped' (got {value!r})"
            )
        return value

    @field_validator("command", "entrypoint")
    @classmethod
    def _splits_like_a_shell(cls, value: list[str] | str | None) -> list[str] | str | None:
        # A string is split as a shell would (as Compose does); say so here, where the
        # error has a location, rather than fail later in the planner.
        if isinstance(value, str):
            try:
                shlex.split(value)
            except ValueError as error:
                raise ValueError(f"cannot be split into words: {error}") from None
        return value

    @field_validator("cap_add", "cap_drop", mode="before", json_schema_input_type=str | list[str])
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("env_file", mode="before", json_schema_input_type=str | list[str | EnvFileEntry])
    @classmethod
    def _one_or_many_files(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("depends_on", mode="before", json_schema_input_type=list[str] | dict[str, DependsOn])
    @classmethod
    def _depends_on(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(name): {} for name in value}
        return value

    def exposed_ports(self) -> list[PortSpec]:
        """Every single port `expose:` offers, unique, lowest first (Docker's order for the
        ALIAS_PORT variable)."""
        return sorted({spec for entry in self.expose for spec in entry}, key=lambda p: (p.port, p.protocol))

    def expose_index(self, spec: PortSpec) -> int:
        """The `expose:` entry a single port comes from (for error locations)."""
        return next(index for index, entry in enumerate(self.expose) if spec in entry)

    def published_ports(self) -> list[tuple[int, PortPublish]]:
        """(index of the `ports:` entry, one published port), ranges expanded."""
        return [(index, binding) for index, entry in enumerate(self.ports) for binding in entry]


class Topology(Strict):
    name: str | None = Field(default=None, description="Project name; default: the file's folder.")
    hosts: dict[str, Host] = Field(default_factory=dict)
    engine: Engine = Field(
        default="docker",
        description="docker: plain engines, reached across hosts through ambassadors; swarm: the hosts are "
        "the nodes of a Docker Swarm, services become Swarm services on overlay networks.",
    )
    swarm: SwarmSettings = Field(default_factory=SwarmSettings)
    ambassador: AmbassadorSettings = Field(default_factory=AmbassadorSettings)
    services: dict[str, Service] = Field(default_factory=dict)
    volumes: dict[str, VolumeDecl | None] = Field(default_factory=dict)
    networks: dict[str, NetworkDecl | None] = Field(default_factory=dict)
    secrets: dict[str, SecretDecl] = Field(default_factory=dict)
    configs: dict[str, ConfigDecl] = Field(default_factory=dict)
    version: str | float | None = Field(
        default=None, description="Obsolete in Compose: ignored, with a warning."
    )

    def network(self, name: str) -> NetworkDecl:
        return self.networks.get(name) or NetworkDecl()

    def volume(self, name: str) -> VolumeDecl:
        return self.volumes.get(name) or VolumeDecl()
