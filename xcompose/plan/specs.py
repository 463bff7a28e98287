"""What should exist on a host, described completely: containers, networks, volumes, relays.

Every container the plan wants is a ContainerSpec, so that its config hash (and with it the
create / recreate / keep decision) is a pure function of the file and the credentials.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

Protocol = Literal["tcp", "udp"]
RelayKind = Literal["haproxy", "socat", "kernel"]

LABEL_CONFIG_HASH = "io.xcompose.config-hash"


# A field added to a class nested in ContainerSpec after containers were made with it:
# left out of the hash while at its default, so those containers keep their hash.
ADDED = {"added": True}


def _as_object(value: object) -> dict[str, Any]:
    """A dataclass as the JSON encoder should write it: every field but those marked ADDED
    at their default. Called by the encoder only for what it cannot write itself (tuples,
    lists, dicts and scalars it writes as they are), so the walk over a spec stays in C."""
    shape = _shape(type(value))
    if shape is None:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    found = {}
    for name, added, default in shape:
        item = getattr(value, name)
        if not (added and item == default):
            found[name] = item
    return found


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False, default=_as_object)


def canonical_json(value: object, left_out: frozenset[str] = frozenset()) -> str:
    """The canonical JSON (sorted keys, compact) of a dataclass, without the fields at their
    default (a field added to its class later changes no digest of a value that does not
    use it) and those `left_out`; nested dataclasses as `_as_object` writes them."""
    data = {}
    for name, _, default in _shape(type(value)) or ():
        item = getattr(value, name)
        if item != default and name not in left_out:
            data[name] = item
    return _CANONICAL.encode(data)


def canonical_digest(value: object, left_out: frozenset[str] = frozenset()) -> str:
    """SHA-256 of `canonical_json`."""
    return hashlib.sha256(canonical_json(value, left_out).encode()).hexdigest()


Shape = tuple[tuple[str, bool, object], ...]  # a dataclass's fields: (name, marked ADDED, default)
_shapes: dict[type, Shape | None] = {}


def _shape(kind: type) -> Shape | None:
    """The fields of a dataclass; None for any other type. Found once per class: `fields()`
    per value was most of a config hash (36,000 of them in an `up` of 10,000 services)."""
    if kind not in _shapes:
        _shapes[kind] = (tuple((f.name, bool(f.metadata.get("added")), f.default) for f in fields(kind))
                         if is_dataclass(kind) else None)
    return _shapes[kind]


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
    # Seconds the host may stay silent before it counts as lost (None: the run's default).
    lost_after: float | None = None


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    protocol: Protocol = "tcp"
    host_port: int | None = None
    host_ip: str | None = None
    # A range of host ports (`6005-6015:80`): Docker takes a free one of host_port..this.
    host_port_last: int | None = field(default=None, metadata=ADDED)

    @property
    def host_ports(self) -> str:
        """The host side as Docker writes it: `8080`, `6005-6015`, or "" (Docker picks)."""
        if self.host_port is None:
            return ""
        return f"{self.host_port}-{self.host_port_last}" if self.host_port_last else str(self.host_port)


@dataclass(frozen=True)
class Mount:
    type: Literal["volume", "bind", "tmpfs"]
    source: str | None  # full Docker volume name for type=volume
    target: str
    read_only: bool = False
    propagation: str | None = field(default=None, metadata=ADDED)  # bind: rshared, rprivate, …
    selinux: Literal["z", "Z"] | None = field(default=None, metadata=ADDED)  # relabel the source
    create_host_path: bool = field(default=True, metadata=ADDED)  # bind: make a missing source folder
    no_copy: bool = field(default=False, metadata=ADDED)  # volume: do not fill it from the image
    tmpfs_size: int | None = field(default=None, metadata=ADDED)  # bytes
    tmpfs_mode: int | None = field(default=None, metadata=ADDED)

    def as_bind(self) -> str | None:
        """The `SOURCE:TARGET[:OPTIONS]` form (HostConfig.Binds, `docker run --volume`) when
        this mount needs it, else None (HostConfig.Mounts, `--mount`). Only that form makes
        a missing host folder and relabels for SELinux, as Compose's short syntax does; a
        path holding ':' cannot be written in it."""
        wants = (self.type == "bind" and self.create_host_path) or self.selinux is not None
        if not wants or self.type == "tmpfs" or not self.source or ":" in self.source + self.target:
            return None
        options = [word for word, on in (("ro", self.read_only), (self.selinux or "", bool(self.selinux)),
                                         (self.propagation or "", bool(self.propagation)),
                                         ("nocopy", self.no_copy)) if on]
        return f"{self.source}:{self.target}" + (f":{','.join(options)}" if options else "")


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class Device:
    source: str
    target: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class HealthSpec:
    test: tuple[str, ...]
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class Endpoint:
    """A container's place on one network: the names it answers to there, for everyone
    (aliases) or for this container only (links: `NAME:ALIAS`, as `docker run --link`)."""

    network: str  # the Docker network's name
    aliases: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """Everything Docker needs to create one container; hashed for convergence."""

    name: str
    image: str
    # Joined in this order; the first at create, the others before start.
    networks: tuple[Endpoint, ...] = ()
    # host | none | container:NAME; with it, no networks.
    network_mode: str | None = None
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
    pull_policy: Literal["missing", "always", "never", "build"] = "missing"
    # The id of the image a service built on its host has now (read there, never planned):
    # a rebuilt image under the same name changes the hash, so the container is re-created.
    image_id: str | None = None
    # Compose's container options: each as Docker names it, None or empty when not set.
    stop_signal: str | None = None
    stop_timeout: int | None = None  # whole seconds, as Docker keeps them
    stdin_open: bool = False
    tty: bool = False
    init: bool | None = None
    read_only: bool = False
    sysctls: tuple[tuple[str, str], ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    shm_size: int | None = None
    tmpfs: tuple[tuple[str, str], ...] = ()  # path, mount options
    extra_hosts: tuple[str, ...] = ()  # HOST:IP
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    devices: tuple[Device, ...] = ()
    security_opt: tuple[str, ...] = ()
    mem_limit: int | None = None
    memswap_limit: int | None = None
    mem_reservation: int | None = None
    nano_cpus: int | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    oom_score_adj: int | None = None
    log_driver: str | None = None
    log_options: tuple[tuple[str, str], ...] = ()
    pid: str | None = None  # host | container:NAME
    ipc: str | None = None  # private | shareable | host | none | container:NAME
    volumes_from: tuple[str, ...] = ()  # NAME[:ro]
    platform: str | None = None
    runtime: str | None = None
    group_add: tuple[str, ...] = ()
    domainname: str | None = None
    mac_address: str | None = None
    userns_mode: str | None = None
    cgroup_parent: str | None = None
    cgroupns: str | None = None  # host | private
    # Labels saying who made the container and when, added as it is made: not what runs,
    # so not hashed (another operator's `up`, or a later one, changes nothing).
    stamp: tuple[tuple[str, str], ...] = ()

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the spec (sorted keys, compact). Fields left at
        their default are left out, so that a field added to this class later does not
        change the hash of a container that does not use it."""
        return canonical_digest(self, _UNHASHED)

    def stamped(self, stamp: tuple[tuple[str, str], ...]) -> ContainerSpec:
        """The spec with these labels of who makes its container and when. A copy with one
        field set: `dataclasses.replace` would run the whole __init__ (12 us a spec, 0.4 s
        of a 10,000-service `up`) to check nothing that a stamp could change."""
        copied = copy.copy(self)
        object.__setattr__(copied, "stamp", stamp)
        return copied

    def labels_with_hash(self) -> dict[str, str]:
        return {**dict(self.labels), **dict(self.stamp), LABEL_CONFIG_HASH: self.config_hash()}


# Fields of ContainerSpec that do not say what runs: how its image is found, who made it.
_UNHASHED = frozenset({"pull_policy", "stamp"})


@dataclass(frozen=True)
class BuildSpec:
    """How a service's image is built on its host: the context (a folder on this machine,
    resolved, not read; or a URL the engine fetches) and the options of an engine build."""

    image: str  # the name the built image gets
    context: str
    remote: bool = False  # the context is a URL
    dockerfile: str | None = None  # relative to the context, or absolute; None: Dockerfile
    dockerfile_inline: str | None = None
    args: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold tokens
    target: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    network: str | None = None
    shm_size: int | None = None
    extra_hosts: tuple[str, ...] = ()  # NAME:ADDRESS
    no_cache: bool = False
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    platform: str | None = None
    tags: tuple[str, ...] = ()  # more names for the image
    isolation: str | None = None


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    driver: str | None = None
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    external: bool = False
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    ipam_driver: str | None = None
    # One (key, value) tuple per pool: subnet, ip_range, gateway, and aux addresses.
    ipam_pools: tuple[tuple[tuple[str, str], ...], ...] = ()


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
    # How many containers answer to `to_host` (a service's replicas): a relay that balances
    # over them keeps as many destinations as there are addresses.
    to_count: int = 1


@dataclass(frozen=True)
class ExecOptions:
    """How a command runs in a container (`docker exec -u -e -w --privileged`)."""

    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Hook:
    """A command run in each container of a service: `post_start` right after it starts,
    `pre_stop` before it is stopped, as Compose runs its lifecycle hooks."""

    command: tuple[str, ...]
    options: ExecOptions = field(default_factory=ExecOptions)


@dataclass(frozen=True)
class UploadFile:
    """A file put into a container between create and start (never env, labels or argv)."""

    path: str  # absolute, inside the container
    data: bytes = field(repr=False)  # may hold a private key or a secret: never printed
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def files_digest(files: Sequence[UploadFile]) -> str:
    """`sha256:HEX` of the files' paths, modes, owners and contents: what a container label
    carries so that a changed file re-creates the container, without the content itself."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path):
        digest.update(f"{file.path}\0{file.mode:o}\0{file.uid}:{file.gid}\0{len(file.data)}\0".encode())
        digest.update(file.data)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class RelaySetup:
    """How an ambassador relays: which program, which ports, whether the pair speaks
    mutual TLS, the command that proves it relays, and the files it needs."""

    kind: RelayKind
    ports: tuple[RelayPort, ...]
    tls: bool
    probe: tuple[str, ...] | None
    files: tuple[UploadFile, ...] = ()
