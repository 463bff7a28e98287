"""What should exist on a host, described completely: containers, networks, volumes, relays.

Every container the plan wants is a ContainerSpec, so that its config hash (and with it the
create / recreate / keep decision) is a pure function of the file and the credentials.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Protocol = Literal["tcp", "udp"]
RelayKind = Literal["haproxy", "socat"]

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
    protocol: Protocol = "tcp"
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
class RelayPort:
    """One port an ambassador relays: it listens on `listen_port` and connects onward."""

    listen_port: int
    to_host: str  # an address or a DNS name on the project network
    to_port: int
    protocol: Protocol = "tcp"


@dataclass(frozen=True)
class UploadFile:
    """A file put into a container between create and start (never env, labels or argv)."""

    path: str  # absolute, inside the container
    data: bytes = field(repr=False)  # may hold a private key: never printed
    mode: int = 0o644


@dataclass(frozen=True)
class RelaySetup:
    """How an ambassador relays: which program, which ports, whether the pair speaks
    mutual TLS, the command that proves it relays, and the files it needs."""

    kind: RelayKind
    ports: tuple[RelayPort, ...]
    tls: bool
    probe: tuple[str, ...] | None
    files: tuple[UploadFile, ...] = ()
