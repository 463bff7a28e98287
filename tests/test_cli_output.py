"""How `up` reports its steps: the progress lines on a pipe or a log file."""

from __future__ import annotations

import io

from rich.console import Console

from tests.planning import S
from xcompose.cli.output import ConsoleReporter
from xcompose.converge import StepAction
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
