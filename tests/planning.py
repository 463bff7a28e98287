"""Small helpers for reading plans in tests by the text form of their step ids."""

from __future__ import annotations

from collections.abc import Iterable

from xcompose.plan.steps import Plan, Step, StepId


def S(text: str) -> StepId:  # noqa: N802 - reads like the id it parses
    return StepId.parse(text)


def ids(step_ids: Iterable[StepId]) -> list[str]:
    return [str(i) for i in step_ids]


def step_ids(plan: Plan) -> list[str]:
    return sorted(str(step.id) for step in plan.steps())


def edge(plan: Plan, before: str, after: str) -> bool:
    return S(before) in plan.after(S(after))


def step(plan: Plan, text: str) -> Step:
    return plan.step(S(text))
