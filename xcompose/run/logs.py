"""`xcompose logs`: the logs of containers on several hosts merged into one stream, each line
prefixed with its service (and host) in a colour of its own, as Compose does."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

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


def stream_logs(
    console: Console,
    fleet: Fleet,
    live: LiveState,
    services: Iterable[str],
    *,
    follow: bool,
    tail: int | None,
    ambassadors: bool = False,
) -> list[str]:
    """Print the lines as they come, until every stream ends; returns why the streams
    that ended early did (a host that stopped answering, a container that went away)."""
    sources = chosen(live, services, ambassadors)
    ended: list[str] = []
    width = max((len(prefix_of(h, c)) for h, c in sources), default=0)
    lines: queue.Queue[object] = queue.Queue(maxsize=10_000)

    def pump(host: str, container: LiveContainer, label: str) -> None:
        try:
            for line in fleet.executors[host].logs(container.id, follow=follow, tail=tail):
                lines.put(f"{label} | {escape(line)}")
        except Exception as error:  # noqa: BLE001 - one container's log failing must not end the others
            ended.append(f"the log of {prefix_of(host, container)} ended: {error}")
        finally:
            lines.put(_DONE)

    for index, (host, container) in enumerate(sources):
        colour = COLOURS[index % len(COLOURS)]
        label = f"[{colour}]{escape(prefix_of(host, container).ljust(width))}[/]"
        threading.Thread(target=pump, args=(host, container, label), daemon=True).start()
    open_streams = len(sources)
    while open_streams:
        item = lines.get()
        if item is _DONE:
            open_streams -= 1
        else:
            console.print(item, highlight=False)
    return ended
