"""The topology file as typed models.

Compose's vocabulary wherever Compose has a word; new keys only for what Compose lacks
(`hosts`, `host`, `ambassador`). Unknown keys are errors, `x-*` keys are allowed anywhere.
Short and long forms are normalised here so that the planner sees one shape only.
"""

from __future__ import annotations

import re
import shlex
import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | int | float) -> float:
    """Compose durations ("1m30s", "500ms", "2s") or plain seconds, as seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"'{text}' is not a duration (use e.g. 500ms, 2s, 1m30s)")
    return total


def format_duration(seconds: float) -> str:
    """Seconds as a Compose duration that `parse_duration` reads back exactly."""
    if seconds == int(seconds):
        whole = int(seconds)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
        return text or "0s"
    millis = seconds * 1000
    if millis == int(millis):
        return f"{int(millis)}ms"
    return f"{seconds}s"


class Strict(BaseModel):
    """Unknown keys are errors; `x-*` extension keys are dropped before validation."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data


class HostTLS(Strict):
    """Client TLS for a `tcp://` Docker endpoint (docker-py `TLSConfig`)."""

    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool = True


class Host(Strict):
    address: str | None = Field(
        default=None, description="Where other hosts reach this one; ambassadors publish here."
    )
    docker: str | None = Field(
        default=None,
        description="Docker endpoint: unix://PATH, tcp://HOST:PORT or ssh://USER@HOST[:PORT]. "
        "Default: DOCKER_HOST or the local socket.",
    )
    executor: Literal["api", "ssh"] = Field(
        default="api", description="api: Docker Engine API (docker-py); ssh: docker CLI over SSH."
    )
    sudo: bool = Field(default=False, description="ssh executor: run docker through sudo.")
    tls: HostTLS | None = None
    max_parallel: int = Field(default=4, ge=1, le=64, description="Steps run at once on this host.")

    @field_validator("docker")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(unix|tcp|ssh|npipe)://", value):
            raise ValueError(f"'{value}' is not a Docker URL (use unix://, tcp:// or ssh://)")
        return value


class AmbassadorSettings(Strict):
    """Project-wide relay settings; services may override `tls` and published ports."""

    image: str = Field(
        default="haproxy:2.6",
        description="The relay image: haproxy (tcp mode; the default, measured in "
        "bench/ambassador.py) or a socat image (also relays UDP).",
    )
    tls: bool = Field(default=True, description="Mutual TLS between the two ambassadors of a link.")


class ServiceAmbassador(Strict):
    """Per-service ambassador overrides."""

    tls: bool | None = None
    publish: dict[int, int] = Field(
        default_factory=dict,
        description="Exposed port -> host port the server ambassador publishes it on "
        "(resolves two targets on one host exposing the same port).",
    )


class PortSpec(BaseModel):
    """A container port with its protocol (`5432`, `5432/tcp`, `53/udp`)."""

    model_config = ConfigDict(frozen=True)
    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"

    @classmethod
    def parse(cls, value: Any) -> "PortSpec":
        if isinstance(value, PortSpec):
            return value
        if isinstance(value, bool):
            raise ValueError(f"'{value}' is not a port")
        text = str(value)
        port, _, proto = text.partition("/")
        if not port.isdigit():
            raise ValueError(f"'{text}' is not a port (use e.g. 5432 or 53/udp)")
        return cls(port=int(port), protocol=(proto or "tcp"))  # type: ignore[arg-type]

    def short(self) -> str:
        """The string form `parse` reads back (`5432`, `53/udp`)."""
        return str(self.port) if self.protocol == "tcp" else f"{self.port}/{self.protocol}"


class PortPublish(BaseModel):
    """`ports:` entry, as `docker run -p`: `[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTO]`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    target: int = Field(ge=1, le=65535)
    published: int | None = Field(default=None, ge=1, le=65535)
    host_ip: str | None = None
    protocol: Literal["tcp", "udp"] = "tcp"

    @classmethod
    def parse(cls, value: Any) -> "PortPublish":
        if isinstance(value, dict):
            return cls.model_validate(value)
        if isinstance(value, bool):
            raise ValueError(f"'{value}' is not a port mapping")
        text = str(value)
        body, _, proto = text.partition("/")
        parts = body.rsplit(":", 2)
        try:
            if len(parts) == 1:
                return cls(target=int(parts[0]), protocol=proto or "tcp")  # type: ignore[arg-type]
            if len(parts) == 2:
                return cls(
                    target=int(parts[1]),
                    published=int(parts[0]) if parts[0] else None,
                    protocol=proto or "tcp",  # type: ignore[arg-type]
                )
            ip = parts[0].strip("[]")
            return cls(
                target=int(parts[2]),
                published=int(parts[1]) if parts[1] else None,
                host_ip=ip or None,
                protocol=proto or "tcp",  # type: ignore[arg-type]
            )
        except ValueError:
            raise ValueError(
                f"'{text}' is not a port mapping (use CONTAINER, HOST:CONTAINER or "
                "IP:HOST:CONTAINER, with an optional /tcp or /udp; ranges are not supported)"
            ) from None

    def short(self) -> str:
        """The `docker run -p` form `parse` reads back."""
        text = str(self.target)
        if self.published is not None or self.host_ip:
            text = f"{self.published or ''}:{text}"
        if self.host_ip:
            ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
            text = f"{ip}:{text}"
        return text if self.protocol == "tcp" else f"{text}/{self.protocol}"


class VolumeMount(BaseModel):
    """`volumes:` entry of a service: `NAME:/path[:ro]`, `./dir:/path`, `/path` or long form."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["volume", "bind", "tmpfs"] = "volume"
    source: str | None = None
    target: str
    read_only: bool = False

    @classmethod
    def parse(cls, value: Any) -> "VolumeMount":
        if isinstance(value, dict):
            return cls.model_validate(value)
        text = str(value)
        parts = text.split(":")
        if len(parts) == 1:
            return cls(type="volume", source=None, target=parts[0])
        if len(parts) > 3:
            raise ValueError(f"'{text}' is not a volume (use SOURCE:TARGET[:ro|rw])")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise ValueError(f"'{text}': mode '{mode}' must be ro or rw")
        kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
        return cls(type=kind, source=source, target=target, read_only=mode == "ro")  # type: ignore[arg-type]

    def short(self) -> str | None:
        """The `SOURCE:TARGET[:ro]` form when it reads back to the same mount, else None."""
        if self.type == "tmpfs":
            return None
        text = self.target if self.source is None else f"{self.source}:{self.target}"
        if self.read_only:
            text = f"{text}:ro" if self.source is not None else ""
        try:
            return text if text and VolumeMount.parse(text) == self else None
        except ValueError:
            return None


class Healthcheck(Strict):
    test: list[str] | str | None = None
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = Field(default=3, ge=0)
    start_period: float = 0.0
    disable: bool = False

    @field_validator("interval", "timeout", "start_period", mode="before", json_schema_input_type=Union[str, float])
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    def command(self) -> tuple[str, ...] | None:
        """The Docker form of `test` (`["CMD", …]`, `["CMD-SHELL", "…"]`), or None."""
        if self.disable or self.test is None:
            return None
        if isinstance(self.test, str):
            return ("CMD-SHELL", self.test)
        return tuple(self.test)


class DependsOn(Strict):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = (
        "service_started"
    )


class Link(BaseModel):
    """`name` or `name:alias`, as `docker run --link`."""

    model_config = ConfigDict(frozen=True)
    target: str
    alias: str

    @classmethod
    def parse(cls, value: Any) -> "Link":
        text = str(value)
        target, _, alias = text.partition(":")
        if not target or ":" in alias:
            raise ValueError(f"'{text}' is not a link (use SERVICE or SERVICE:ALIAS)")
        return cls(target=target, alias=alias or target)

    def short(self) -> str:
        return self.target if self.alias == self.target else f"{self.target}:{self.alias}"


# Short string forms are parsed item by item, so an error points at `ports[1]`, not `ports`;
# the schema still offers the string form to editors.
ExposedPort = Annotated[PortSpec, BeforeValidator(PortSpec.parse, json_schema_input_type=Union[int, str])]
PublishedPort = Annotated[
    PortPublish, BeforeValidator(PortPublish.parse, json_schema_input_type=Union[int, str, PortPublish])
]
LinkEntry = Annotated[Link, BeforeValidator(Link.parse, json_schema_input_type=str)]
MountEntry = Annotated[
    VolumeMount, BeforeValidator(VolumeMount.parse, json_schema_input_type=Union[str, VolumeMount])
]


class Service(Strict):
    image: str = Field(description="Image to run, e.g. postgres:16.")
    host: str | None = Field(default=None, description="The host this service runs on.")
    command: list[str] | str | None = None
    entrypoint: list[str] | str | None = None
    environment: dict[str, str | None] = Field(default_factory=dict)
    env_file: list[str] = Field(default_factory=list)
    expose: list[ExposedPort] = Field(default_factory=list, description="Ports offered to links.")
    ports: list[PublishedPort] = Field(default_factory=list, description="Published, as docker run -p.")
    links: list[LinkEntry] = Field(default_factory=list, description="SERVICE or SERVICE:ALIAS.")
    depends_on: dict[str, DependsOn] = Field(default_factory=dict)
    volumes: list[MountEntry] = Field(default_factory=list)
    restart: Literal["no", "always", "on-failure", "unless-stopped"] | None = None
    healthcheck: Healthcheck | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    cap_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(default_factory=list)
    privileged: bool = False
    pull_policy: Literal["missing", "always", "never"] = "missing"
    ambassador: ServiceAmbassador = Field(default_factory=ServiceAmbassador)

    @field_validator(
        "environment", mode="before", json_schema_input_type=Union[dict[str, Union[str, float, bool, None]], list[str]]
    )
    @classmethod
    def _environment(cls, value: Any) -> Any:
        return _mapping_or_list(value, "environment", allow_none=True)

    @field_validator(
        "labels", mode="before", json_schema_input_type=Union[dict[str, Union[str, float, bool, None]], list[str]]
    )
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return _mapping_or_list(value, "labels", allow_none=False)

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

    @field_validator("env_file", "cap_add", "cap_drop", mode="before", json_schema_input_type=Union[str, list[str]])
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("depends_on", mode="before", json_schema_input_type=Union[list[str], dict[str, DependsOn]])
    @classmethod
    def _depends_on(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(name): {} for name in value}
        return value


class VolumeDecl(Strict):
    """Top-level `volumes:` entry."""

    driver: str | None = None
    driver_opts: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    external: bool = False
    name: str | None = None


class NetworkDecl(Strict):
    """Top-level `networks:` entry; xcompose makes one project network per host."""

    driver: str | None = None
    driver_opts: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    external: bool = False
    name: str | None = None


class Topology(Strict):
    name: str | None = Field(default=None, description="Project name; default: the file's folder.")
    hosts: dict[str, Host] = Field(default_factory=dict)
    ambassador: AmbassadorSettings = Field(default_factory=AmbassadorSettings)
    services: dict[str, Service] = Field(default_factory=dict)
    volumes: dict[str, VolumeDecl | None] = Field(default_factory=dict)
    networks: dict[str, NetworkDecl | None] = Field(default_factory=dict)
    version: str | None = Field(default=None, description="Ignored, as in Compose v2.")

    def volume(self, name: str) -> VolumeDecl:
        return self.volumes.get(name) or VolumeDecl()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _mapping_or_list(value: Any, key: str, allow_none: bool) -> Any:
    """Compose accepts `{K: V}` or `["K=V", "K"]`; both become a mapping of strings."""
    if value is None:
        return {}
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                # Only the key is named: the value may be a secret.
                raise ValueError(f"{key} value of '{k}' must be a string, number or boolean")
        return {
            str(k): (None if v is None and allow_none else _scalar_text("" if v is None else v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        result: dict[str, str | None] = {}
        for item in value:
            if not isinstance(item, (str, int, float)):
                raise ValueError(f"{key} entries must be strings like KEY=VALUE")
            name, sep, text = str(item).partition("=")
            result[name] = text if sep else (None if allow_none else "")
        return result
    return value


def field_names_at(loc: Sequence[str | int]) -> list[str]:
    """Field names of the model a validation error location points into (for suggestions)."""
    current: Any = Topology
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        # A part that is not a field is pydantic's tag for the model itself: stay.
        return field.annotation if field is not None else annotation
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    if origin in (Union, types.UnionType):
        for member in typing.get_args(annotation):
            if str(part) in (getattr(member, "__name__", None), str(member)):
                return member
        for member in typing.get_args(annotation):
            found = _step(member, part)
            if found is not None:
                return found
    return None
