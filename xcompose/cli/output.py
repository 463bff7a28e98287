"""What the commands print: how `up` and `down` report progress (a live view on a
terminal, one JSON object a line for scripts, or nothing but failures with --quiet), and
the `ps` table."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Hashable
from typing import IO, Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table

from xcompose.live import LiveState
from xcompose.plan.converge import StepAction
from xcompose.plan.naming import LABEL_APPLIED_AT, LABEL_APPLIED_BY, LABEL_ROLE, LABEL_SERVICE
from xcompose.run.walk import StepResult


class ReportedStep(Protocol):
    """What the reporters show of a step: a plan's, or a swarm plan's (whose swarm-wide
    objects have no host)."""

    @property
    def id(self) -> Hashable: ...

    @property
    def host(self) -> str | None: ...


_MARKS = {"done": "[green]✔[/]", "failed": "[red]✘[/]", "not-started": "[dim]-[/]"}
_PLAIN_MARKS = {"done": "✔", "failed": "✘", "not-started": "-"}
SPINNER_REFRESH_S = 0.1  # rich redraws a status 12.5 times a second


def _describe(action: StepAction) -> str:
    return f"{action.action} ({action.reason})" if action.reason else action.action


class ConsoleReporter:
    """A line per finished step, and a spinner naming the steps still running."""

    def __init__(self, console: Console, spinner: bool | None = None) -> None:
        """`spinner`: the line naming the running steps (None: when the console is a terminal)."""
        self.console = console
        self._running: set[Hashable] = set()
        self._refreshed = 0.0  # when the spinner's text was last set
        self._lock = threading.Lock()
        self._status: Status | None = None
        if console.is_terminal if spinner is None else spinner:
            self._status = console.status("starting")
            self._status.start()
        # Where rich would colour nothing and no spinner runs (a pipe, a log file), the
        # lines are written as they are: rich's layout of one line costs more than the
        # step it reports on engines nearby (about 0.2 ms; 36,000 lines for 10,000 services).
        self._plain = self._status is None and not console.is_terminal

    def _refresh(self) -> None:
        """The spinner's text, at most as often as it is redrawn: naming hundreds of
        running steps on each step's start and end cost more than the steps."""
        now = time.monotonic()
        if self._status is not None and now - self._refreshed >= SPINNER_REFRESH_S:
            self._refreshed = now
            names = ", ".join(sorted(str(s) for s in self._running)) or "…"
            self._status.update(f"running: {names}")

    def step_started(self, step: ReportedStep, action: StepAction) -> None:
        if self._status is None:  # nothing shows what runs: the steps' threads need not queue here
            return
        with self._lock:
            self._running.add(step.id)
            self._refresh()

    def step_finished(self, step: ReportedStep, action: StepAction, result: StepResult[Any]) -> None:
        with self._lock:
            if self._status is not None:
                self._running.discard(step.id)
                self._refresh()
            if result.outcome == "not-started":
                return
            mark = (_PLAIN_MARKS if self._plain else _MARKS)[result.outcome]
            line = f"{mark} {step.id!s:<40} {step.host or '(swarm)':<14} {_describe(action)}"
            if self._plain:
                self.console.file.write(f"{line}  {result.seconds:.1f}s\n")
            else:
                self.console.print(f"{line}  [dim]{result.seconds:.1f}s[/]", highlight=False)

    def note(self, text: str) -> None:
        with self._lock:
            self.console.print(f"  {text}", highlight=False)

    def error(self, text: str) -> None:
        """Errors are printed once, on stderr, by the command; only JSON carries them too."""

    def build_output(self, service: str, host: str, line: str) -> None:
        with self._lock:
            self.console.print(f"  [dim]{escape(service)} |[/] {escape(line)}", highlight=False)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()


class QuietReporter:
    def step_started(self, step: ReportedStep, action: StepAction) -> None:
        pass

    def step_finished(self, step: ReportedStep, action: StepAction, result: StepResult[Any]) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def error(self, text: str) -> None:
        """Errors are printed once, on stderr, by the command; only JSON carries them too."""

    def build_output(self, service: str, host: str, line: str) -> None:
        pass

    def close(self) -> None:
        pass


class JsonReporter:
    """One event a line: {"event": "step", "id", "host", "action", "status", "seconds"};
    {"event": "note", "text"}; {"event": "error", "text"}, each error the command ends with
(pre-flight included); {"event": "build", "service", "host", "line"}, a line of a
    build's output."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def _emit(self, event: dict[str, object]) -> None:
        with self._lock:
            self.out.write(json.dumps(event) + "\n")
            self.out.flush()

    def step_started(self, step: ReportedStep, action: StepAction) -> None:
        self._emit(
            {"event": "step", "id": str(step.id), "host": step.host, "action": action.action,
             "reason": action.reason, "status": "started"}
        )

    def step_finished(self, step: ReportedStep, action: StepAction, result: StepResult[Any]) -> None:
        self._emit(
            {"event": "step", "id": str(step.id), "host": step.host, "action": action.action,
             "reason": action.reason, "status": result.outcome,
             "seconds": round(result.seconds, 3), "error": result.error}
        )

    def note(self, text: str) -> None:
        self._emit({"event": "note", "text": text})

    def build_output(self, service: str, host: str, line: str) -> None:
        self._emit({"event": "build", "service": service, "host": host, "line": line})

    def error(self, text: str) -> None:
        self._emit({"event": "error", "text": text})

    def close(self) -> None:
        pass


PROGRESS = ("auto", "tty", "plain", "json", "quiet")


def make_reporter(
    fmt: str, quiet: bool, console: Console, progress: str = "auto"
) -> ConsoleReporter | QuietReporter | JsonReporter:
    """As `--progress` says (auto: a spinner on a terminal; tty: always; plain: never), where
    `--format json` and `-q` do not say otherwise."""
    if fmt == "json" or progress == "json":
        return JsonReporter()
    if quiet or progress == "quiet":
        return QuietReporter()
    return ConsoleReporter(console, {"tty": True, "plain": False}.get(progress))


PS_COLUMNS = ("service", "host", "role", "container", "state", "health", "ports")


def ps_rows(live: LiveState) -> list[dict[str, str]]:
    """The table's columns, and (in JSON only, the table is wide enough) who made each
    container and when ("" for one made before xcompose labelled that)."""
    return [
        {"service": p.container.labels.get(LABEL_SERVICE, "?"), "host": p.host,
         "role": p.container.labels.get(LABEL_ROLE, "?"), "container": p.container.name,
         "state": p.container.state, "health": p.container.health or "", "ports": ", ".join(p.container.ports),
         "applied_by": p.container.labels.get(LABEL_APPLIED_BY, ""),
         "applied_at": p.container.labels.get(LABEL_APPLIED_AT, "")}
        for p in live.placed()
    ]


def ps_table(rows: list[dict[str, str]]) -> Table:
    table = Table(*(column.upper() for column in PS_COLUMNS))
    for row in rows:
        table.add_row(*(row[column] for column in PS_COLUMNS))
    return table
