"""`xcompose logs`: the logs of containers on several hosts merged into one stream, each line
prefixed with its service (and host) in a colour of its own, as Compose does."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.console import Console
from rich.markup import escape

from xcompose.config.syntax import parse_duration
from xcompose.engines.base import LogWindow
from xcompose.engines.fleet import Fleet
from xcompose.errors import UsageError
from xcompose.live import LiveContainer, LiveState
from xcompose.plan.naming import LABEL_REPLICA, LABEL_SERVICE, role_of

COLOURS = ("cyan", "yellow", "green", "magenta", "blue", "bright_red", "bright_cyan",
           "bright_yellow", "bright_green", "bright_magenta")
_DONE = object()


def chosen(
    live: LiveState, services: Iterable[str], ambassadors: bool
) -> list[tuple[str, LiveContainer]]:
    wanted = set(services)
    found = [
        (p.host, p.container)
        for p in live.placed()
        if (ambassadors or role_of(p.container.labels) == "service")
        and (not wanted or p.container.labels.get(LABEL_SERVICE) in wanted)
    ]
    missing = wanted - {c.labels.get(LABEL_SERVICE) for _, c in found}
    if missing:
        raise UsageError(f"no container of service {', '.join(sorted(missing))} on any host")
    return found


def prefix_of(host: str, container: LiveContainer) -> str:
    service = container.labels.get(LABEL_SERVICE, container.name)
    role = role_of(container.labels) or "service"
    name = service if role == "service" else f"{service}-{role.removeprefix('ambassador-')}-amb"
    replica = container.labels.get(LABEL_REPLICA)
    return f"{name}-{replica}@{host}" if replica else f"{name}@{host}"


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail: int | None = None
    ambassadors: bool = False
    window: LogWindow | None = None
    prefix: bool = True  # `SERVICE@HOST | ` before each line
    colour: bool = True


def stream_logs(
    console: Console, fleet: Fleet, live: LiveState, services: Iterable[str], options: LogOptions
) -> list[str]:
    """Print the lines as they come, until every stream ends; returns why the streams
    that ended early did (a host that stopped answering, a container that went away)."""
    follow, tail = options.follow, options.tail
    sources = chosen(live, services, options.ambassadors)
    ended: list[str] = []
    width = max((len(prefix_of(h, c)) for h, c in sources), default=0)
    lines: queue.Queue[object] = queue.Queue(maxsize=10_000)

    def pump(host: str, container: LiveContainer, label: str) -> None:
        try:
            for line in fleet.executors[host].logs(container.id, follow=follow, tail=tail, window=options.window):
                lines.put(f"{label} | {escape(line)}" if label else escape(line))
        except Exception as error:  # noqa: BLE001 - one container's log failing must not end the others
            ended.append(f"the log of {prefix_of(host, container)} ended: {error}")
        finally:
            lines.put(_DONE)

    for index, (host, container) in enumerate(sources):
        colour = COLOURS[index % len(COLOURS)]
        label = escape(prefix_of(host, container).ljust(width)) if options.prefix else ""
        if label and options.colour:
            label = f"[{colour}]{label}[/]"
        threading.Thread(target=pump, args=(host, container, label), daemon=True).start()
    open_streams = len(sources)
    while open_streams:
        item = lines.get()
        if item is _DONE:
            open_streams -= 1
        else:
            console.print(item, highlight=False)
    return ended


def point_in_time(text: str | None, flag: str, now: float | None = None) -> float | None:
    """`--since`/`--until` as a Unix time: RFC 3339 (`2026-11-26T10:00:00Z`), a Unix time,
    or a while ago as a duration (`42m`, `1h30m`), as `docker logs` takes them."""
    if text is None:
        return None
    value = text.strip()
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    try:
        ago = parse_duration(value)
    except ValueError:
        raise UsageError(f"{flag} {text}: give a time (2026-11-26T10:00:00Z), a Unix time "
                         "or a duration (42m)") from None
    return (time.time() if now is None else now) - ago
