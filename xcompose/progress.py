"""How `up` and `down` tell the user what they are doing: a live view on a terminal, one
JSON object a line for scripts, or nothing but failures with --quiet."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO

from rich.console import Console
from rich.status import Status

from xcompose.plan import Step, StepAction
from xcompose.walk import StepResult

_MARKS = {"done": "[green]✔[/]", "failed": "[red]✘[/]", "not-started": "[dim]-[/]"}


def _describe(action: StepAction) -> str:
    return f"{action.action} ({action.reason})" if action.reason else action.action


class ConsoleReporter:
    """A line per finished step, and a spinner naming the steps still running."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._status: Status | None = None
        if console.is_terminal:
            self._status = console.status("starting")
            self._status.start()

    def _refresh(self) -> None:
        if self._status is not None:
            names = ", ".join(sorted(self._running)) or "…"
            self._status.update(f"running: {names}")

    def step_started(self, step: Step, action: StepAction) -> None:
        with self._lock:
            self._running[step.id] = time.monotonic()
            self._refresh()

    def step_finished(self, step: Step, action: StepAction, result: StepResult) -> None:
        with self._lock:
            self._running.pop(step.id, None)
            self._refresh()
            if result.outcome == "not-started":
                return
            line = f"{_MARKS[result.outcome]} {step.id:<40} {step.host:<14} {_describe(action)}"
            self.console.print(f"{line}  [dim]{result.seconds:.1f}s[/]", highlight=False)

    def note(self, text: str) -> None:
        with self._lock:
            self.console.print(f"  {text}", highlight=False)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()


class QuietReporter:
    def step_started(self, step: Step, action: StepAction) -> None:
        pass

    def step_finished(self, step: Step, action: StepAction, result: StepResult) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class JsonReporter:
    """One event a line: {"event": "step", "id", "host", "action", "status", "seconds"}."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def _emit(self, event: dict[str, object]) -> None:
        with self._lock:
            self.out.write(json.dumps(event) + "\n")
            self.out.flush()

    def step_started(self, step: Step, action: StepAction) -> None:
        self._emit(
            {"event": "step", "id": step.id, "host": step.host, "action": action.action,
             "reason": action.reason, "status": "started"}
        )

    def step_finished(self, step: Step, action: StepAction, result: StepResult) -> None:
        self._emit(
            {"event": "step", "id": step.id, "host": step.host, "action": action.action,
             "reason": action.reason, "status": result.outcome,
             "seconds": round(result.seconds, 3), "error": result.error}
        )

    def note(self, text: str) -> None:
        self._emit({"event": "note", "text": text})

    def close(self) -> None:
        pass
