"""Compose's short syntaxes, one parser each: durations, exposed ports, published ports,
links, `KEY=VALUE` lists, and the secrets and configs granted to a service (with their file
modes and owners). Volume mounts: mounts.py; container options: options.py.

The models validate with these parsers, merging uses them to decide which entries are the
same, and the reference checks use them to find the names an entry refers to: one syntax,
one place. Each parser raises ValueError with a message fit for a located error.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Protocol = Literal["tcp", "udp"]

# --- durations ------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Docker keeps durations as int64 nanoseconds: about 292 years.
MAX_DURATION_S = (2**63 - 1) / 1e9


def parse_duration(value: Any) -> float:
    """Compose durations ("1m30s", "500ms", "2s") or plain seconds, as seconds: finite,
    not negative, and within what Docker can hold."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if math.isnan(seconds) or math.isinf(seconds):
            raise ValueError("a duration must be a finite number of seconds (or e.g. 500ms, 2s, 1m30s)")
    elif isinstance(value, str):
        text = value.strip()
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
            pos = match.end()
        if not text or pos != len(text):
            raise ValueError(f"'{text}' is not a duration (use e.g. 500ms, 2s, 1m30s)")
    else:
        raise ValueError("must be a duration such as 500ms, 2s or 1m30s")
    if seconds < 0:
        raise ValueError(f"'{value}': a duration cannot be negative")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"'{value}': a duration must be under {int(MAX_DURATION_S // 31_557_600)} years")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as a Compose duration that `parse_duration` reads back exactly."""
    if seconds == int(seconds):
        hours, rest = divmod(int(seconds), 3600)
        minutes, secs = divmod(rest, 60)
        text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
        return text or "0s"
    millis = seconds * 1000
    if millis == int(millis):
        return f"{int(millis)}ms"
    return f"{seconds}s"


# --- ports ----------------------------------------------------------------------------


@cache
def _docker_ports() -> ModuleType:
    """docker-py's `docker/utils/ports.py` (what `docker run -p` parsing is in Python),
    loaded on its own: importing the `docker` package first would pull in requests and the
    whole API client, 130 ms that `config` and `plan --offline` have no use for. The
    module imports only `re`."""
    spec = importlib.util.find_spec("docker")
    assert spec is not None and spec.origin is not None, "docker-py is a dependency"
    path = Path(spec.origin).parent / "utils" / "ports.py"
    loaded = importlib.util.spec_from_file_location("xcompose._docker_ports", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def split_port(text: str) -> tuple[list[str], list[Any] | None]:
    """docker-py's `split_port`: (["80/tcp", …], None | ["8080", …] | [(ip, port), …])."""
    split: Callable[[str], tuple[list[str], list[Any] | None]] = _docker_ports().split_port
    return split(text)


class PortSpec(BaseModel):
    """A container port with its protocol (`5432`, `5432/tcp`, `53/udp`)."""

    model_config = ConfigDict(frozen=True)
    port: int = Field(ge=1, le=65535)
    protocol: Protocol = "tcp"

    def short(self) -> str:
        """The string form `parse_expose` reads back (`5432`, `53/udp`)."""
        return str(self.port) if self.protocol == "tcp" else f"{self.port}/{self.protocol}"


def _port_and_protocol(container: str) -> tuple[int, Protocol]:
    """"80/udp" (one of split_port's container ports) -> (80, "udp"), checked."""
    number, _, protocol = container.partition("/")
    port = int(number)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range (1-65535)")
    if protocol in ("", "tcp"):
        return port, "tcp"
    if protocol == "udp":
        return port, "udp"
    raise ValueError(f"protocol '{protocol}' must be tcp or udp")


def _ports_of(text: str) -> list[tuple[int, Protocol]]:
    """The single ports of a port or range (`80`, `8000-8010/udp`)."""
    ports = [_port_and_protocol(p) for p in split_port(text)[0]]
    if not ports:  # docker-py's parser gives nothing for a range that runs backwards
        raise ValueError(f"'{text}' is not a port range (the first port comes first: 8000-8010)")
    return ports


def parse_expose(value: Any) -> tuple[PortSpec, ...]:
    """One `expose:` entry: `5432`, `53/udp` or a range `8000-8010[/udp]`."""
    if isinstance(value, PortSpec):
        return (value,)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"'{value}' is not a port (use e.g. 5432, 53/udp or 8000-8010)")
    text = str(value).strip()
    try:
        internal, external = split_port(text)
    except ValueError:
        internal, external = [], None
    if not internal or external is not None:
        raise ValueError(f"'{text}' is not a port (use e.g. 5432, 53/udp or 8000-8010)")
    try:
        return tuple(PortSpec(port=port, protocol=protocol) for port, protocol in map(_port_and_protocol, internal))
    except ValueError as error:
        raise ValueError(f"'{text}': {error}") from None


class PortPublish(BaseModel):
    """One published port, as `docker run -p`: container port, host port, host address."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    target: int = Field(ge=1, le=65535)
    published: int | None = Field(default=None, ge=1, le=65535)
    host_ip: str | None = None
    protocol: Protocol = "tcp"
    # `6005-6015:80`: one container port on whichever host port of the range is free.
    published_last: int | None = Field(default=None, ge=1, le=65535)

    def host_ports(self) -> range:
        """The host ports this may take (empty when Docker picks any)."""
        if self.published is None:
            return range(0)
        return range(self.published, (self.published_last or self.published) + 1)

    def short(self) -> str:
        """The `docker run -p` form `parse_ports` reads back."""
        text = str(self.target)
        if self.published is not None or self.host_ip:
            host = f"{self.published}-{self.published_last}" if self.published_last else str(self.published or "")
            text = f"{host}:{text}"
        if self.host_ip:
            ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
            text = f"{ip}:{text}"
        return text if self.protocol == "tcp" else f"{text}/{self.protocol}"


_PORTS_HELP = ("use CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER, each a port or a range "
               "like 8000-8010, with an optional /tcp or /udp")
_LONG_PORT_KEYS = {"target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"}


def parse_ports(value: Any) -> tuple[PortPublish, ...]:
    """One `ports:` entry in the short form (`docker run -p`, ranges and IPv6 included) or
    Compose's long form, as single published ports."""
    if isinstance(value, PortPublish):
        return (value,)
    if isinstance(value, dict):
        return _long_ports(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"'{value}' is not a port mapping ({_PORTS_HELP})")
    text = str(value).strip()
    try:
        internal, external = split_port(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a port mapping ({_PORTS_HELP})") from None
    out: list[PortPublish] = []
    for index, container in enumerate(internal):
        host_ip, host_port = None, None
        if external is not None:
            bound = external[index] if index < len(external) else external[0]
            host_ip, host_port = bound if isinstance(bound, tuple) else (None, bound)
        try:
            port, protocol = _port_and_protocol(container)
            hosts = [number for number, _ in _ports_of(str(host_port))] if host_port else []
        except ValueError as error:
            raise ValueError(f"'{text}': {error}") from None
        out.append(PortPublish(target=port, published=hosts[0] if hosts else None, host_ip=host_ip or None,
                               protocol=protocol, published_last=hosts[-1] if len(hosts) > 1 else None))
    return tuple(out)


def _long_ports(value: dict[str, Any]) -> tuple[PortPublish, ...]:
    """Compose's long form: each key checked on its own, so the message names it."""
    unknown = sorted(set(value) - _LONG_PORT_KEYS)
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' in a port mapping (keys: {', '.join(sorted(_LONG_PORT_KEYS))})")
    if "target" not in value:
        raise ValueError("a port mapping needs `target`, the container port")
    protocol = str(value.get("protocol") or "tcp")
    target, published = str(value["target"]), value.get("published")
    try:
        targets = [port for port, _ in _ports_of(target)]
    except ValueError as error:
        raise ValueError(f"target: {error}") from None
    hosts: list[int | None] = [None] * len(targets)
    if published not in (None, ""):
        try:
            hosts = [port for port, _ in _ports_of(str(published))]
        except ValueError as error:
            raise ValueError(f"published: {error}") from None
        if len(hosts) != len(targets) and len(targets) != 1:
            raise ValueError(f"published '{published}' and target '{target}' must cover as many ports")
    _, checked = _port_and_protocol(f"1/{protocol}")
    ip = str(value["host_ip"]) if value.get("host_ip") else None
    if len(targets) == 1 and len(hosts) > 1:  # any free host port of the range
        return (PortPublish(target=targets[0], published=hosts[0], published_last=hosts[-1], host_ip=ip,
                            protocol=checked),)
    return tuple(PortPublish(target=port, published=host, host_ip=ip, protocol=checked)
                 for port, host in zip(targets, hosts, strict=True))


# --- secrets and configs granted to a service ------------------------------------------


def grant_entry(value: Any) -> Any:
    """`- NAME` is `{source: NAME}`; a mapping is the long form, validated by the model."""
    if isinstance(value, str):
        return {"source": value}
    return value


def grant_target(value: Any) -> Any:
    """What makes two grants the same when files merge (Compose: the target, which is the
    source when not given)."""
    if isinstance(value, dict):
        return value.get("target") or value.get("source")
    return value


def parse_mode(value: Any) -> int:
    """A file mode: a number (`0o440`, or `0440`, octal as YAML reads it for Compose) or
    octal text (`"0440"`, `"440"`, as Compose reads a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    elif isinstance(value, str) and re.fullmatch(r"(?:0o)?[0-7]+", value.strip().lower()):
        mode = int(value.strip().lower().removeprefix("0o"), 8)
    else:
        raise ValueError(f"{_shown(value)} is not a file mode: give octal permissions such as 0440")
    if not 0 <= mode <= 0o7777:
        shown = _shown(value) if isinstance(value, str) else f"0o{mode:o}" if mode >= 0 else str(mode)
        raise ValueError(f"{shown} is not a file mode: permissions go from 0 to 0o7777")
    return mode


def parse_owner(value: Any) -> int:
    """A numeric uid or gid (Compose writes them as strings: `uid: "103"`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(f"{_shown(value)} is not a numeric id (names cannot be looked up outside the image)")
    if not 0 <= number < 2**32 - 1:
        raise ValueError(f"{number} is not a valid id (0 to 4294967294)")
    return number


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


# --- links ----------------------------------------------------------------------------


class Link(BaseModel):
    """`name` or `name:alias`, as `docker run --link`."""

    model_config = ConfigDict(frozen=True)
    target: str
    alias: str

    def short(self) -> str:
        return self.target if self.alias == self.target else f"{self.target}:{self.alias}"


def parse_link(value: Any) -> Link:
    if isinstance(value, Link):
        return value
    text = str(value)
    target, _, alias = text.partition(":")
    if not target or ":" in alias:
        raise ValueError(f"'{text}' is not a link (use SERVICE or SERVICE:ALIAS)")
    return Link(target=target, alias=alias or target)


# --- KEY=VALUE lists --------------------------------------------------------------------


def split_key_value(item: Any) -> tuple[str, str | None] | None:
    """`KEY=VALUE` -> (KEY, VALUE), `KEY` -> (KEY, None); None for what is not an entry."""
    if isinstance(item, bool) or not isinstance(item, (str, int, float)):
        return None
    name, sep, text = str(item).partition("=")
    return name, (text if sep else None)


def scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key_values(value: Any, key: str, allow_none: bool) -> Any:
    """Compose accepts `{K: V}` or `["K=V", "K"]`; both become a mapping of strings (a bare
    `K` is None where the value comes from elsewhere, else the empty string)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                # Only the key is named: the value may be a secret.
                raise ValueError(f"{key} value of '{k}' must be a string, number or boolean")
        return {
            str(k): (None if v is None and allow_none else scalar_text("" if v is None else v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        result: dict[str, str | None] = {}
        for item in value:
            pair = split_key_value(item)
            if pair is None:
                raise ValueError(f"{key} entries must be strings like KEY=VALUE")
            name, text = pair
            result[name] = text if text is not None else (None if allow_none else "")
        return result
    return value
