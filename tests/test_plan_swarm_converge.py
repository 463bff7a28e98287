"""What up does on a swarm, decided from the plan and the manager's answer."""

from __future__ import annotations

from tests.swarmfakes import Load, shop_plan
from xcompose.plan.converge import StepAction
from xcompose.plan.naming import LABEL_CONFIG_HASH, LABEL_PROJECT
from xcompose.plan.swarm_converge import (
    LABEL_OVERLAY_DIGEST,
    LiveService,
    LiveSwarm,
    decide_swarm,
    overlay_digest,
)
from xcompose.plan.swarm_steps import OverlaySpec, SwarmPlan, SwarmServiceSpec


def live_as_planned(plan: SwarmPlan) -> LiveSwarm:
    services, networks, secrets = {}, {}, {}
    for step in plan.steps():
        spec = step.spec
        if isinstance(spec, SwarmServiceSpec):
            services[spec.name] = LiveService("id-" + spec.name, 1, spec.service_labels(plan.project))
        elif isinstance(spec, OverlaySpec):
            networks[spec.name] = {LABEL_PROJECT: plan.project, LABEL_OVERLAY_DIGEST: overlay_digest(spec)}
        else:
            secrets[spec.name] = "id-" + spec.name
    return LiveSwarm(services, networks, secrets, {})


def test_an_empty_swarm_gets_everything_created(load_text: Load) -> None:
    decided = decide_swarm(shop_plan(load_text), LiveSwarm())
    assert {a.action for a in decided.actions.values()} == {"create"}
    assert decided.changes == 4


def test_a_swarm_as_planned_is_left_alone(load_text: Load) -> None:
    plan = shop_plan(load_text)
    decided = decide_swarm(plan, live_as_planned(plan))
    assert decided.changes == 0 and not decided.orphan_services and not decided.unused_objects


def test_a_service_whose_digest_differs_is_replaced(load_text: Load) -> None:
    plan = shop_plan(load_text)
    live = live_as_planned(plan)
    name = "shop_db"
    stale = LiveService("x", 3, {**live.services[name].labels, LABEL_CONFIG_HASH: "old"})
    decided = decide_swarm(plan, LiveSwarm({**live.services, name: stale}, live.networks, live.secrets))
    assert decided.actions["service:db"].action == "recreate"
    assert decided.actions["service:app"].action == "keep"


def test_services_and_secrets_the_plan_no_longer_has_are_found(load_text: Load) -> None:
    plan = shop_plan(load_text)
    live = live_as_planned(plan)
    gone = LiveSwarm({**live.services, "shop_old": LiveService("o", 1, {LABEL_PROJECT: "shop"})}, live.networks,
                     {**live.secrets, "shop_token_000000000000": "s"})
    decided = decide_swarm(plan, gone)
    assert decided.orphan_services == ("shop_old",)
    assert decided.unused_objects == (("secret", "shop_token_000000000000"),)


def test_an_overlay_made_with_other_settings_must_be_remade(load_text: Load) -> None:
    plan = shop_plan(load_text)
    live = live_as_planned(plan)
    plain = {name: {**labels, LABEL_OVERLAY_DIGEST: "encrypted=False;internal=False;"}
             for name, labels in live.networks.items()}
    decided = decide_swarm(plan, LiveSwarm(live.services, plain, live.secrets))
    action = decided.actions["overlay:default"]
    assert action.action == "recreate" and "`xcompose down` first" in (action.reason or "")


def test_force_replaces_unchanged_services(load_text: Load) -> None:
    plan = shop_plan(load_text)
    decided = decide_swarm(plan, live_as_planned(plan), recreate="always")
    assert decided.actions["service:db"] == StepAction("recreate", "--force-recreate")
    assert decided.actions["overlay:default"].action == "keep"


def test_no_recreate_keeps_a_service_whose_spec_changed(load_text: Load) -> None:
    plan = shop_plan(load_text)
    live = live_as_planned(plan)
    stale = LiveService("x", 3, {**live.services["shop_db"].labels, LABEL_CONFIG_HASH: "old"})
    live = LiveSwarm({**live.services, "shop_db": stale}, live.networks, live.secrets, live.configs)
    assert decide_swarm(plan, live, recreate="never").actions["service:db"] == StepAction("keep")
