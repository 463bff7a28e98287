"""`up` on a swarm against an in-memory manager: pre-flight, order, waiting, convergence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.swarmfakes import SHOP, FakeManager, Load, Notes, shop_plan
from xcompose.engines.swarm import SwarmState, TaskFacts
from xcompose.errors import XcomposeError
from xcompose.plan.swarm_nodes import NodeFacts
from xcompose.plan.swarm_steps import SwarmServiceSpec
from xcompose.run.swarm_up import SwarmUpOptions, preflight, tasks_verdict, up_swarm, wait_for_tasks


def test_up_makes_networks_and_secrets_before_the_services_that_need_them(load_text: Load) -> None:
    manager = FakeManager()
    result = up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    assert result.ok
    order = manager.calls
    assert order.index("create network shop_default") < order.index("create service shop_db")
    assert order.index("create secret token") < order.index("create service shop_app")
    assert order.index("create service shop_db") < order.index("create service shop_app")


def test_a_second_up_changes_nothing(load_text: Load) -> None:
    manager = FakeManager()
    up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    manager.calls.clear()
    result = up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    assert result.convergence.changes == 0 and manager.calls == []


def test_a_changed_secret_is_a_new_secret_and_the_old_one_goes(load_text: Load) -> None:
    manager = FakeManager()
    up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    manager.calls.clear()
    up_swarm(manager, shop_plan(load_text, token="u"), Notes(), SwarmUpOptions())
    assert manager.calls[0] == "create secret token"
    assert manager.calls[1] == "update service shop_app"
    assert manager.calls[2].startswith("remove secret shop_token_")


def test_orphan_services_are_removed_only_when_asked(load_text: Load) -> None:
    manager = FakeManager()
    up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    smaller = SHOP.replace("  app: {image: redis:7, host: h2, depends_on: [db], secrets: [token]}\n", "")
    kept = up_swarm(manager, shop_plan(load_text, smaller), Notes(), SwarmUpOptions())
    assert kept.convergence.orphan_services == ("shop_app",) and "shop_app" in manager.services
    up_swarm(manager, shop_plan(load_text, smaller), Notes(), SwarmUpOptions(remove_orphans=True))
    assert "shop_app" not in manager.services


def test_a_service_whose_tasks_never_run_fails_its_step_and_holds_its_dependents(load_text: Load) -> None:
    manager = FakeManager(stuck={"shop_db"})
    result = up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions(wait_timeout=0))
    assert [f.step_id for f in result.walk.failed] == ["service:db"]
    assert "no suitable node" in str(result.walk.failed[0].error)
    assert "service:app" in result.walk.not_started


def test_preflight_refuses_an_engine_that_is_no_manager(load_text: Load) -> None:
    manager = FakeManager(state_=SwarmState("n1", "inactive", False))
    with pytest.raises(XcomposeError, match=r"host h1 is not in a swarm \(inactive\).*docker swarm init"):
        preflight(manager, shop_plan(load_text))


def test_preflight_labels_each_hosts_node(load_text: Load) -> None:
    manager = FakeManager()
    preflight(manager, shop_plan(load_text))
    assert manager.calls == ["label n1 {'io.xcompose.host': 'h1'}", "label n2 {'io.xcompose.host': 'h2'}"]


def test_preflight_refuses_a_host_that_is_no_node(load_text: Load) -> None:
    manager = FakeManager(node_list=[NodeFacts("n1", 1, ("10.0.0.1",), {}, "ready", "active")])
    with pytest.raises(XcomposeError, match=r"host h2 \(10\.0\.0\.2\) is no node"):
        preflight(manager, shop_plan(load_text))


def task(state: str, digest: str = "d", desired: str = "running", message: str = "") -> TaskFacts:
    return TaskFacts("t", "s", 1, "n1", state, desired, message, None, digest)


def test_a_service_is_ready_when_its_replicas_run_from_the_current_spec() -> None:
    assert tasks_verdict([task("running"), task("running")], 2, "d") is None
    assert tasks_verdict([task("running"), task("running", digest="old")], 2, "d") == (
        "1 of 2 task(s) running, tasks: running")


def test_a_task_that_finished_on_its_own_counts_as_ready() -> None:
    assert tasks_verdict([task("complete", desired="complete")], 1, "d") is None


def test_waiting_gives_up_after_repeated_failures_with_swarms_message() -> None:
    tasks = [TaskFacts(f"t{n}", "s", 1, "n1", "rejected", "running", "No such image: x", None, "d") for n in range(3)]

    class Failing(FakeManager):
        def tasks(self, service: str | None = None, project: str | None = None) -> list[TaskFacts]:
            return tasks

    spec = plan_of_spec()
    with pytest.raises(XcomposeError, match=r"3 tasks of shop_db failed on node h1: .*No such image: x"):
        wait_for_tasks(Failing(), spec, 60, encrypted=False, clock=lambda: 0.0, sleep=lambda _s: None)


def test_a_timeout_on_an_encrypted_overlay_points_at_turning_encryption_off() -> None:
    class Pending(FakeManager):
        def tasks(self, service: str | None = None, project: str | None = None) -> list[TaskFacts]:
            return [task("starting", digest=plan_of_spec().digest())]

    times = iter([0.0, 0.0, 100.0])
    with pytest.raises(XcomposeError, match=r"swarm: \{encrypted: false\}"):
        wait_for_tasks(Pending(), replace(plan_of_spec(), replicas=2), 10, encrypted=True,
                       clock=lambda: next(times), sleep=lambda _s: None)


def plan_of_spec() -> SwarmServiceSpec:
    return SwarmServiceSpec(name="shop_db", service="db", host="h1", image="redis:7", replicas=1,
                            endpoint_mode="dnsrr", networks=())


def test_up_of_one_service_makes_it_and_what_it_needs_only(load_text: Load) -> None:
    manager = FakeManager()
    plan = shop_plan(load_text).needed_for(["service:db"])
    result = up_swarm(manager, plan, Notes(), SwarmUpOptions(whole=False))
    assert result.ok and manager.calls == ["create network shop_default", "create service shop_db"]


def test_up_of_one_service_removes_nothing_of_the_others(load_text: Load) -> None:
    manager = FakeManager()
    up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    manager.calls.clear()
    plan = shop_plan(load_text, token="u").needed_for(["service:db"])
    up_swarm(manager, plan, Notes(), SwarmUpOptions(whole=False, remove_orphans=True))
    assert manager.calls == [] and "shop_app" in manager.services


def test_each_changed_step_is_reported_started_and_finished(load_text: Load) -> None:
    notes = Notes()
    up_swarm(FakeManager(), shop_plan(load_text), notes, SwarmUpOptions())
    assert sorted(notes.lines) == sorted(f"{step}: {what}" for step in (
        "overlay:default", "secret:token", "service:db", "service:app") for what in ("create", "done"))


def test_nothing_is_reported_of_a_step_kept_as_it_is(load_text: Load) -> None:
    manager, notes = FakeManager(), Notes()
    up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    up_swarm(manager, shop_plan(load_text), notes, SwarmUpOptions())
    assert notes.lines == []


def test_force_replaces_the_tasks_of_unchanged_services_by_raising_their_counter(load_text: Load) -> None:
    manager = FakeManager()
    up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions())
    manager.calls.clear()
    result = up_swarm(manager, shop_plan(load_text), Notes(), SwarmUpOptions(recreate="always"))
    assert result.ok
    assert sorted(manager.calls) == ["update service shop_app force 1", "update service shop_db force 1"]


def test_tasks_made_before_a_forced_update_do_not_count() -> None:
    assert tasks_verdict([task("running")], 1, "d", force_update=1) == "0 of 1 task(s) running, tasks: no task yet"


EXTERNAL = SHOP.replace("token: {environment: TOKEN}", "token: {external: true, name: prod_token}")


def test_an_external_secret_is_found_by_name_and_never_made(load_text: Load) -> None:
    manager = FakeManager(outside={"prod_token": "secret"})
    result = up_swarm(manager, shop_plan(load_text, EXTERNAL), Notes(), SwarmUpOptions())
    assert result.ok
    assert "find [('secret', 'prod_token')]" in manager.calls
    assert not any(call.startswith("create secret") for call in manager.calls)


def test_a_missing_external_secret_stops_up_before_anything_is_made(load_text: Load) -> None:
    manager = FakeManager()
    with pytest.raises(XcomposeError, match=r"external secret 'prod_token' is not on the swarm: make it first"):
        up_swarm(manager, shop_plan(load_text, EXTERNAL), Notes(), SwarmUpOptions())
    assert not any(call.startswith("create") for call in manager.calls)
