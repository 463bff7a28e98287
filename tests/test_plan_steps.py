"""xcompose/plan/steps.py: the order of a plan's steps, read through Plan's methods."""

from __future__ import annotations

import pytest

from tests.planning import S, ids
from xcompose.plan.specs import ContainerSpec, NetworkSpec
from xcompose.plan.steps import NetworkStep, Plan, PlannedSpec, StepId


def plan_of(edges: list[tuple[str, str]], *extra: str) -> Plan:
    """A plan of network steps (the kind matters not to the order): each named in `edges`
    or `extra`, `before` -> `after`."""
    names = dict.fromkeys([*extra, *(name for pair in edges for name in pair)])
    steps = [NetworkStep(S(name), NetworkSpec(name=name)) for name in names]
    return Plan("p", {}, steps, [(S(before), S(after)) for before, after in edges])


def test_steps_come_in_order_and_the_smallest_ready_id_first() -> None:
    plan = plan_of([("network:c", "network:a")], "network:b")
    assert ids(step.id for step in plan.steps()) == ["network:b", "network:c", "network:a"]


def test_waves_group_steps_by_their_longest_distance_from_a_root() -> None:
    plan = plan_of([("network:a", "network:b"), ("network:b", "network:c"), ("network:a", "network:c")],
                   "network:d")
    assert [ids(step.id for step in wave) for wave in plan.waves()] == [
        ["network:a", "network:d"], ["network:b"], ["network:c"]]


def test_an_edge_given_twice_is_kept_once() -> None:
    plan = plan_of([("network:a", "network:b"), ("network:a", "network:b")])
    assert plan.edges() == [(S("network:a"), S("network:b"))]


def test_an_edge_to_a_step_the_plan_lacks_is_refused() -> None:
    step = NetworkStep(S("network:a"), NetworkSpec(name="a"))
    with pytest.raises(ValueError, match="network:b"):
        Plan("p", {}, [step], [(S("network:a"), S("network:b"))])


def test_a_loop_of_steps_cannot_be_ordered() -> None:
    plan = plan_of([("network:a", "network:b"), ("network:b", "network:a")])
    with pytest.raises(ValueError, match="loop"):
        plan.steps()


def test_dependents_are_the_steps_that_wait() -> None:
    plan = plan_of([("network:a", "network:c"), ("network:a", "network:b")])
    assert ids(plan.dependents(S("network:a"))) == ["network:b", "network:c"]


def test_needed_for_keeps_the_step_and_all_it_waits_for_and_their_edges() -> None:
    plan = plan_of([("network:a", "network:b"), ("network:b", "network:c"), ("network:x", "network:d")])
    part = plan.needed_for([S("network:c")])
    assert ids(step.id for step in part.steps()) == ["network:a", "network:b", "network:c"]
    assert part.edges() == [(S("network:a"), S("network:b")), (S("network:b"), S("network:c"))]


def test_without_keeps_what_waited_for_the_steps_left_out() -> None:
    plan = plan_of([("network:a", "network:b")])
    part = plan.without([S("network:a")])
    assert (ids(step.id for step in part.steps()), part.edges()) == (["network:b"], [])


def test_needed_for_an_unknown_step_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        plan_of([], "network:a").needed_for([StepId.service("nope")])


def test_wave_ids_hold_the_ids_of_each_wave() -> None:
    plan = plan_of([("network:b", "network:c"), ("network:a", "network:c")])
    assert [sorted(ids(wave)) for wave in plan.wave_ids()] == [["network:a", "network:b"], ["network:c"]]


def test_a_planned_spec_is_made_when_first_read_and_only_once() -> None:
    made: list[str] = []

    def make() -> ContainerSpec:
        made.append("spec")
        return ContainerSpec(name="shop-db-1", image="postgres:16")

    planned = PlannedSpec(make)
    assert made == []
    assert planned.spec is planned.spec and planned.spec.image == "postgres:16"
    assert made == ["spec"]
    assert planned == PlannedSpec.of(ContainerSpec(name="shop-db-1", image="postgres:16"))
