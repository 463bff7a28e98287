"""How `up` reports its steps: the progress lines on a pipe or a log file."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.planning import S
from xcompose.cli import output
from xcompose.cli.output import ConsoleReporter
from xcompose.plan.converge import StepAction
from xcompose.plan.specs import NetworkSpec
from xcompose.plan.steps import NetworkStep, StepId
from xcompose.run.walk import StepResult

STEP = NetworkStep(S("network:db1"), NetworkSpec("shop_default"))


def reported(action: StepAction, result: StepResult[StepId]) -> str:
    file = io.StringIO()
    reporter = ConsoleReporter(Console(file=file, soft_wrap=True))
    reporter.step_started(STEP, action)
    reporter.step_finished(STEP, action, result)
    reporter.close()
    return file.getvalue()


def test_a_finished_step_is_one_plain_line_on_a_pipe() -> None:
    out = reported(StepAction("create"), StepResult(STEP.id, "done", 0.25))
    assert out == f"✔ {'network:db1':<40} {'db1':<14} create  0.2s\n"


def test_a_failed_step_is_marked_and_says_why_it_was_recreated() -> None:
    out = reported(StepAction("recreate", "drift: joined network [x]"), StepResult(STEP.id, "failed", 1.0, "boom"))
    assert out == f"✘ {'network:db1':<40} {'db1':<14} recreate (drift: joined network [x])  1.0s\n"


def test_a_step_that_never_started_prints_nothing() -> None:
    assert reported(StepAction("create"), StepResult(STEP.id, "not-started")) == ""


def test_the_spinner_names_the_running_steps_at_most_once_per_redraw(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(output.time, "monotonic", lambda: now[0])
    reporter = ConsoleReporter(Console(file=io.StringIO(), force_terminal=True), spinner=True)
    texts: list[str] = []
    assert reporter._status is not None
    monkeypatch.setattr(reporter._status, "update", lambda text: texts.append(text))
    steps = [NetworkStep(S(f"network:h{i}"), NetworkSpec(f"n{i}")) for i in range(3)]
    for step in steps:
        reporter.step_started(step, StepAction("create"))
    assert texts == ["running: network:h0"]
    now[0] += output.SPINNER_REFRESH_S
    reporter.step_finished(steps[0], StepAction("create"), StepResult(steps[0].id, "done", 0.1))
    reporter.close()
    assert texts[-1] == "running: network:h1, network:h2"
