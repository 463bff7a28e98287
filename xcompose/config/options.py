"""Compose's syntaxes for a container's runtime options, one parser each: byte sizes, CPU
counts, extra hosts, devices, ulimits, tmpfs entries, security options, `volumes_from`
entries and the placement constraint that names a host.

The models validate with these parsers (each raises ValueError with a message fit for a
located error), and the planner reads the normalised values they leave behind.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from xcompose.config.strict import Strict
from xcompose.config.syntax import key_values, parse_duration

# --- sizes and counts ---------------------------------------------------------------------

_BYTES = re.compile(r"(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_SIZE_HELP = "use e.g. 512k, 300m, 1.5g or a number of bytes"


def parse_bytes(value: Any) -> int:
    """A Compose byte value (`2b`, `1024kb`, `300m`, `1.5g`, or a number of bytes) as a
    whole number of bytes, binary units as Docker reads them."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"must be a size ({_SIZE_HELP})")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"'{value}': a size cannot be negative")
        return value
    text = str(value).strip()
    found = _BYTES.fullmatch(text)
    if found is None:
        raise ValueError(f"'{text}' is not a size ({_SIZE_HELP})")
    return int(Decimal(found.group(1)) * _BYTE_UNITS[found.group(2).lower()])


def parse_swap(value: Any) -> int:
    """`memswap_limit`: a size, or -1 for swap without limit."""
    if value == -1 or (isinstance(value, str) and value.strip() == "-1"):
        return -1
    return parse_bytes(value)


def parse_cpus(value: Any) -> float:
    """A number of CPUs (`1.5`, `"0.25"`); 0 means no limit."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number of CPUs such as 0.5 or 2")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a number of CPUs (use e.g. 0.5 or 2)") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"'{value}': a number of CPUs must be 0 or more")
    return float(number)


def nano_cpus(cpus: float) -> int:
    """CPUs as Docker's NanoCpus, exact for what was written (0.1 is 100000000)."""
    return int(Decimal(repr(cpus)) * 1_000_000_000)


def one_or_many(value: Any) -> Any:
    """Compose allows a single string where a list is meant (`dns: 8.8.8.8`)."""
    return [value] if isinstance(value, str) else value


def strings(value: Any) -> Any:
    """List items written as numbers (`group_add: [123]`) are the same words as strings."""
    if isinstance(value, list):
        return [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in value]
    return value


def matching(pattern: str, what: str) -> Any:
    """A checker for a word of a given form, whose message says which form."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, str) and not compiled.fullmatch(value):
            raise ValueError(f"'{value}' is not {what}")
        return value

    return check


ContainerName = Annotated[str, BeforeValidator(matching(
    r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", "a container name (letters, digits, '_', '.', '-'; a letter or digit first)"))]
MacAddress = Annotated[str, BeforeValidator(matching(
    r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}", "a MAC address such as 02:42:ac:11:00:02"))]
CpuSet = Annotated[str, BeforeValidator(matching(r"\d+(-\d+)?(,\d+(-\d+)?)*", "a CPU list such as 0-3 or 0,2"))]
Signal = Annotated[str, BeforeValidator(matching(r"(SIG)?[A-Z0-9+-]+|\d+", "a signal such as SIGTERM or 9"))]
ByteSize = Annotated[int, BeforeValidator(parse_bytes, json_schema_input_type=int | str)]
Duration = Annotated[float, BeforeValidator(parse_duration, json_schema_input_type=str | float)]
Sysctls = Annotated[
    dict[str, str],
    BeforeValidator(lambda value: key_values(value, "sysctls", allow_none=False),
                    json_schema_input_type=dict[str, str | float | bool] | list[str]),
]
SwapSize = Annotated[int, BeforeValidator(parse_swap, json_schema_input_type=int | str)]
CpuCount = Annotated[float, BeforeValidator(parse_cpus, json_schema_input_type=float | str)]
OneOrMany = Annotated[list[str], BeforeValidator(one_or_many, json_schema_input_type=str | list[str])]
Words = Annotated[list[str], BeforeValidator(strings, json_schema_input_type=list[str | int])]


# --- extra hosts ------------------------------------------------------------------------------

_HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def parse_extra_host(value: Any) -> str:
    """One `extra_hosts` entry, `HOST=IP` or `HOST:IP` (an IPv6 address may be in brackets),
    as Docker's `HOST:IP`. The IP may be `host-gateway`."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        host, address = str(value[0]), str(value[1])
    elif isinstance(value, str):
        separator = "=" if "=" in value else ":"
        host, _, address = value.partition(separator)
    else:
        raise ValueError("must be a string like HOST=IP")
    host, address = host.strip(), address.strip()
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not _HOST_NAME.match(host) or not address:
        raise ValueError(f"'{value}' is not a host entry (use HOST=IP, e.g. db.local=10.0.0.5)")
    if address != "host-gateway":
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"'{value}': '{address}' is not an IP address (or host-gateway)") from None
    return f"{host}:{address}"


def extra_hosts_list(value: Any) -> Any:
    """The mapping form (`{HOST: IP}`, an IP or a list of them) as the list form."""
    if isinstance(value, dict):
        return [(host, ip) for host, ips in value.items() for ip in (ips if isinstance(ips, list) else [ips])]
    return value


ExtraHost = Annotated[str, BeforeValidator(parse_extra_host, json_schema_input_type=str)]
ExtraHosts = Annotated[
    list[ExtraHost], BeforeValidator(extra_hosts_list, json_schema_input_type=list[str] | dict[str, str])
]


# --- devices, ulimits, tmpfs, security options ----------------------------------------------------


class Device(BaseModel):
    """A device of the host made available in the container, as `docker run --device`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source: str
    target: str
    permissions: str = "rwm"

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("target") is None and "source" in data:
            return {**data, "target": data["source"]}
        return data

    @model_validator(mode="after")
    def _checked(self) -> Device:
        if not self.source.startswith("/") or not self.target.startswith("/"):
            raise ValueError(f"'{self.source}': a device is a path such as /dev/ttyUSB0 (CDI device names "
                             "are not supported)")
        if not self.permissions or set(self.permissions) - set("rwm"):
            raise ValueError(f"permissions '{self.permissions}' must be letters of rwm")
        return self


def parse_device(value: Any) -> Any:
    """`HOST_PATH[:CONTAINER_PATH][:PERMISSIONS]`, or the mapping form."""
    if not isinstance(value, str):
        return value
    parts = value.split(":")
    if len(parts) > 3:
        raise ValueError(f"'{value}' is not a device (use HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]])")
    if len(parts) == 2 and not parts[1].startswith("/"):
        return {"source": parts[0], "permissions": parts[1]}  # `/dev/sda:r`, as docker run reads it
    return {"source": parts[0], "target": parts[1] if len(parts) > 1 else None,
            "permissions": parts[2] if len(parts) > 2 else "rwm"}


DeviceEntry = Annotated[Device, BeforeValidator(parse_device, json_schema_input_type=str | Device)]

# The resource names `docker run --ulimit` knows.
ULIMIT_NAMES = frozenset({"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                          "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"})


class Ulimit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    soft: int = Field(ge=-1)
    hard: int = Field(ge=-1)

    @model_validator(mode="after")
    def _soft_within_hard(self) -> Ulimit:
        if self.hard != -1 and (self.soft == -1 or self.soft > self.hard):
            raise ValueError(f"the soft limit {self.soft} is above the hard limit {self.hard}")
        return self


def parse_ulimits(value: Any) -> Any:
    """`{NAME: LIMIT}` (soft and hard alike) or `{NAME: {soft, hard}}`."""
    if not isinstance(value, dict):
        return value
    unknown = sorted(str(name) for name in value if name not in ULIMIT_NAMES)
    if unknown:
        raise ValueError(f"unknown ulimit '{unknown[0]}' (one of {', '.join(sorted(ULIMIT_NAMES))})")
    return {name: ({"soft": limit, "hard": limit} if isinstance(limit, int) and not isinstance(limit, bool)
                   else limit)
            for name, limit in value.items()}


Ulimits = Annotated[dict[str, Ulimit], BeforeValidator(parse_ulimits, json_schema_input_type=dict[str, int | Ulimit])]


def parse_tmpfs(value: Any) -> str:
    """`PATH[:OPTIONS]`, as `docker run --tmpfs` (`/run:size=16m,mode=1777`)."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"'{value}' is not a tmpfs mount (use an absolute PATH[:OPTIONS], e.g. /run:size=64m)")
    return value


TmpfsEntry = Annotated[str, BeforeValidator(parse_tmpfs, json_schema_input_type=str)]
TmpfsList = Annotated[list[TmpfsEntry], BeforeValidator(one_or_many, json_schema_input_type=str | list[str])]


def parse_security_opt(value: Any) -> str:
    """A `--security-opt` value. A seccomp profile is refused when it names a file: both
    executors would have to read it on the host, and the API takes only its content."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a string such as no-new-privileges:true or label:disable")
    key, _, setting = value.replace("=", ":", 1).partition(":")
    if key == "seccomp" and setting != "unconfined":
        raise ValueError(f"'{value}': a seccomp profile from a file is not supported (only seccomp:unconfined)")
    return value


SecurityOpt = Annotated[str, BeforeValidator(parse_security_opt, json_schema_input_type=str)]


# --- references to other containers ------------------------------------------------------------


def parse_volumes_from(value: str) -> tuple[str | None, str, bool]:
    """`SERVICE[:ro|rw]` or `container:NAME[:ro|rw]` as (service or None, name, read only)."""
    text = value
    kind = None
    if text.startswith("container:"):
        kind, text = "container", text.removeprefix("container:")
    name, _, mode = text.partition(":")
    if not name or mode not in ("", "ro", "rw"):
        raise ValueError(f"'{value}' is not a volumes_from entry (use SERVICE[:ro] or container:NAME[:ro])")
    return (None if kind else name), name, mode == "ro"


def check_volumes_from(value: Any) -> Any:
    if isinstance(value, str):
        parse_volumes_from(value)
    return value


VolumesFromEntry = Annotated[str, BeforeValidator(check_volumes_from, json_schema_input_type=str)]


def namespace_mode(key: str, modes: tuple[str, ...]) -> Any:
    """A checker for `ipc` or `pid`: one of Docker's modes, `service:NAME` or `container:NAME`."""

    def check(value: Any) -> Any:
        if not isinstance(value, str) or value in modes:
            return value
        kind, _, name = value.partition(":")
        if kind in ("service", "container") and name:
            return value
        raise ValueError(f"'{value}': {key} must be {', '.join(modes)}, service:NAME or container:NAME")

    return check


PidMode = Annotated[str, BeforeValidator(namespace_mode("pid", ("host",)), json_schema_input_type=str)]
IpcMode = Annotated[
    str, BeforeValidator(namespace_mode("ipc", ("private", "shareable", "host", "none")), json_schema_input_type=str)
]


# --- placement ---------------------------------------------------------------------------------

_HOSTNAME_CONSTRAINT = re.compile(r"\s*node\.hostname\s*==\s*(\S+)\s*")


def constraint_host(constraint: str) -> str | None:
    """The host a `node.hostname == HOST` constraint names; None for any other constraint."""
    found = _HOSTNAME_CONSTRAINT.fullmatch(constraint)
    return found.group(1) if found else None


# --- logging and deploy -----------------------------------------------------------------------


class Logging(Strict):
    driver: str | None = Field(default=None, description="The log driver; default: the engine's.")
    options: dict[str, str] = Field(default_factory=dict)

    @field_validator("options", mode="before", json_schema_input_type=dict[str, str | float | bool])
    @classmethod
    def _options(cls, value: Any) -> Any:
        return key_values(value, "logging option", allow_none=False)


class ResourceLimits(Strict):
    cpus: CpuCount | None = None
    memory: ByteSize | None = None
    pids: int | None = Field(default=None, ge=-1)


class ResourceReservations(Strict):
    memory: ByteSize | None = None


class Resources(Strict):
    limits: ResourceLimits = Field(default_factory=ResourceLimits)
    reservations: ResourceReservations = Field(default_factory=ResourceReservations)


class Placement(Strict):
    constraints: list[str] = Field(
        default_factory=list, description="`node.hostname == HOST` places the service on HOST when it has no "
        "`host:`; other constraints are Swarm's and are ignored, with a warning.")

    @field_validator("constraints")
    @classmethod
    def _one_host(cls, value: list[str]) -> list[str]:
        hosts = sorted({host for host in map(constraint_host, value) if host is not None})
        if len(hosts) > 1:
            raise ValueError(f"the constraints name two hosts ({hosts[0]}, {hosts[1]}); a service runs on one")
        return value


AT_LEAST_ONE = "xcompose runs at least one container of a service (to leave a service out, give it a profile)"


class Deploy(Strict):
    """What xcompose reads of Compose's `deploy`: the number of containers, their resources,
    and the host a `node.hostname` constraint names."""

    replicas: int | None = Field(default=None, description="Containers of the service, on its host.")
    resources: Resources = Field(default_factory=Resources)

    @field_validator("replicas")
    @classmethod
    def _some_containers(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"{value}: {AT_LEAST_ONE}")
        return value
    placement: Placement = Field(default_factory=Placement)
