"""`xcompose logs`: the logs of containers on several hosts merged into one stream, each line
prefixed with its service (and host) in a colour of its own, as Compose does."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

from xcompose.apply import Hosts
from xcompose.converge import LiveState
from xcompose.errors import UsageError
from xcompose.executors.base import LiveContainer
from xcompose.plan import LABEL_ROLE, LABEL_SERVICE

COLOURS = ("cyan", "yellow", "green", "magenta", "blue", "bright_red", "bright_cyan",
           "bright_yellow", "bright_green", "bright_magenta")
_DONE = object()


def chosen(
    live: LiveState, services: Iterable[str], ambassadors: bool
) -> list[tuple[str, LiveContainer]]:
    wanted = set(services)
    found = [
        (host, c)
        for host, containers in sorted(live.containers.items())
        for c in sorted(containers, key=lambda c: c.name)
        if (ambassadors or c.labels.get(LABEL_ROLE) == "service")
        and (not wanted or c.labels.get(LABEL_SERVICE) in wanted)
    ]
    missing = wanted - {c.labels.get(LABEL_SERVICE) for _, c in found}
    if missing:
        raise UsageError(f"no container of service {', '.join(sorted(missing))} on any host")
    return found


def prefix_of(host: str, container: LiveContainer) -> str:
    service = container.labels.get(LABEL_SERVICE, container.name)
    role = container.labels.get(LABEL_ROLE, "service")
    name = service if role == "service" else f"{service}-{role.removeprefix('ambassador-')}-amb"
    return f"{name}@{host}"


def stream_logs(
    console: Console,
    hosts: Hosts,
    live: LiveState,
    services: Iterable[str],
    *,
    follow: bool,
    tail: int | None,
    ambassadors: bool = False,
) -> None:
    sources = chosen(live, services, ambassadors)
    width = max((len(prefix_of(h, c)) for h, c in sources), default=0)
    lines: queue.Queue[object] = queue.Queue(maxsize=10_000)

    def pump(host: str, container: LiveContainer, label: str) -> None:
        try:
            for line in hosts.executors[host].logs(container.id, follow=follow, tail=tail):
                lines.put(f"{label} | {escape(line)}")
        except Exception as error:  # one container's log failing must not end the others
            lines.put(f"{label} | [red]log stream ended: {escape(str(error))}[/]")
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
