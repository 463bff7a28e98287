"""`decide` against live containers written by hand: what counts as a change, and how the
reason reads. A container changed by hand after `up` made it (`docker update`, `docker
rename`, `docker network disconnect`) is drift: re-created, with the field named."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.planning import S
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.live import LiveContainer, LiveNetwork, LiveState
from xcompose.pki import Credentials
from xcompose.plan import updatable
from xcompose.plan.build import build_plan
from xcompose.plan.converge import StepAction, decide
from xcompose.plan.naming import LABEL_APPLIED_AT, LABEL_APPLIED_BY, applied_labels, containers_of
from xcompose.plan.specs import ContainerSpec
from xcompose.plan.steps import ContainerStep, Plan

WEB = S("service:web")
WORKER = S("service:worker")


def make_plan(**web: Any) -> Plan:
    topology = {
        "hosts": {"h1": {"address": "10.0.0.1", "docker": "unix:///a.sock"}},
        "services": {
            "web": {"image": "redis:7", "host": "h1", "mem_limit": "256m", "cpus": 0.5, "restart": "always", **web},
            "worker": {"image": "redis:7", "host": "h1", "scale": 2},
        },
    }
    project = Project(name="demo", topology=Topology.model_validate(topology), files=[Path("t.yaml")])
    return build_plan(project, Credentials.none("demo"))


def specs(plan: Plan, step: str) -> tuple[ContainerSpec, ...]:
    found = plan.step(S(step))
    assert isinstance(found, ContainerStep)
    return containers_of(found)


def made(spec: ContainerSpec, **host_config: Any) -> LiveContainer:
    """The container `up` made for the spec, as `docker inspect` reads it, with the
    HostConfig entries given changed since."""
    return LiveContainer(
        id=f"{spec.name}-0123456789abcdef", name=spec.name, image=spec.image, image_id=f"sha256:{spec.image}",
        labels=spec.labels_with_hash(), state="running", health=None, ports=(),
        networks=tuple(e.network for e in spec.networks),
        updatable=updatable.read({**updatable.host_config(spec), **host_config}),
    )


def live_of(plan: Plan, *changed: LiveContainer) -> LiveState:
    """Every container of the plan as made, the given ones (by id) as they are now."""
    now = {c.id: c for c in changed}
    containers = [made(spec) for step in ("service:web", "service:worker") for spec in specs(plan, step)]
    return LiveState(containers={"h1": [now.get(c.id, c) for c in containers]},
                     networks={"h1": [LiveNetwork("n1", "demo_default", {})]})


def action(plan: Plan, live: LiveState, step: Any = WEB) -> StepAction:
    return decide(plan, live).actions[step]


def test_containers_as_up_made_them_are_kept() -> None:
    plan = make_plan()
    assert decide(plan, live_of(plan)).changes == 0


def test_a_memory_limit_changed_by_hand_is_drift_from_the_live_value_to_the_planned_one() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    live = live_of(plan, made(web, Memory=128 << 20))
    assert action(plan, live) == StepAction("recreate", "drift: memory 128MiB -> 256MiB")


def test_a_cpu_count_changed_by_hand_is_drift() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    assert action(plan, live_of(plan, made(web, NanoCpus=2_000_000_000))) == StepAction(
        "recreate", "drift: cpus 2 -> 0.5")


def test_a_restart_policy_changed_by_hand_is_drift() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    changed = made(web, RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 3})
    assert action(plan, live_of(plan, changed)) == StepAction("recreate", "drift: restart on-failure:3 -> always")


def test_a_pids_limit_changed_by_hand_is_drift() -> None:
    plan = make_plan(pids_limit=100)
    [web] = specs(plan, "service:web")
    assert action(plan, live_of(plan, made(web, PidsLimit=50))) == StepAction(
        "recreate", "drift: pids-limit 50 -> 100")


def test_a_limit_set_by_hand_that_the_file_does_not_set_is_drift_back_to_the_default() -> None:
    plan = make_plan()
    [first, _] = specs(plan, "service:worker")
    assert action(plan, live_of(plan, made(first, Memory=512 << 20, CpuShares=512)), WORKER) == StepAction(
        "recreate", "drift: memory 512MiB -> unlimited, cpu-shares 512 -> default")


def test_a_limit_the_file_does_not_set_is_no_drift_in_any_of_dockers_ways_to_say_unset() -> None:
    plan = make_plan()
    [first, second] = specs(plan, "service:worker")
    unset = made(first, PidsLimit=None, CpuShares=0, NanoCpus=None, RestartPolicy={"Name": "", "MaximumRetryCount": 0})
    also_unset = made(second, PidsLimit=-1, CpusetCpus="", BlkioWeight=None)
    assert action(plan, live_of(plan, unset, also_unset), WORKER) == StepAction("keep")


def test_the_swap_limit_the_engine_derives_is_no_drift_when_the_file_sets_none() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    assert action(plan, live_of(plan, made(web, MemorySwap=512 << 20))) == StepAction("keep")


def test_a_swap_limit_the_file_sets_is_compared() -> None:
    plan = make_plan(memswap_limit="1g")
    [web] = specs(plan, "service:web")
    assert action(plan, live_of(plan, made(web, MemorySwap=-1))) == StepAction(
        "recreate", "drift: memory-swap unlimited -> 1GiB")


def test_a_container_disconnected_from_its_network_is_drift() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    off = dataclasses.replace(made(web), networks=())
    assert action(plan, live_of(plan, off)) == StepAction("recreate", "drift: not on network demo_default")


def test_a_container_connected_to_another_network_by_hand_is_drift() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    more = dataclasses.replace(made(web), networks=("demo_default", "elsewhere"))
    assert action(plan, live_of(plan, more)) == StepAction("recreate", "drift: joined network elsewhere")


def test_a_renamed_container_is_drift_named_by_its_new_name_and_is_replaced() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    renamed = dataclasses.replace(made(web), name="mine")
    decision = decide(plan, live_of(plan, renamed))
    assert decision.actions[WEB] == StepAction("recreate", "drift: renamed to mine")
    assert [p.container.name for p in decision.replaced[WEB]] == ["mine"]
    assert decision.remake[WEB] == (0,)


def test_a_renamed_replica_is_drift_rather_than_a_missing_replica() -> None:
    plan = make_plan()
    [_, second] = specs(plan, "service:worker")
    renamed = dataclasses.replace(made(second), name="spare")
    decision = decide(plan, live_of(plan, renamed))
    assert decision.actions[WORKER] == StepAction("recreate", "drift: renamed to spare")
    assert decision.remake[WORKER] == (1,)


def test_a_container_set_aside_by_an_interrupted_up_is_no_renamed_container() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    aside = made(web)
    aside = dataclasses.replace(aside, name=f"{web.name}_old_{aside.id[:12]}", state="exited")
    assert action(plan, live_of(plan, aside)) == StepAction("recreate", "container is exited")


def test_a_config_change_is_named_rather_than_the_drift_it_also_makes() -> None:
    plan = make_plan(image="redis:8")
    [web] = specs(make_plan(), "service:web")
    assert action(plan, live_of(plan, made(web, Memory=1 << 30))) == StepAction("recreate", "image redis:7 -> redis:8")


def test_no_recreate_keeps_a_drifted_container() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    live = live_of(plan, made(web, Memory=128 << 20))
    assert decide(plan, live, recreate="never").actions[WEB] == StepAction("keep")


def test_who_applied_a_container_and_when_is_no_change() -> None:
    plan = make_plan()
    [web] = specs(plan, "service:web")
    stamped = web.stamped(applied_labels("ops@elsewhere", datetime(2026, 1, 2, tzinfo=timezone.utc)))
    by_another = made(stamped)
    assert {LABEL_APPLIED_BY, LABEL_APPLIED_AT} <= set(by_another.labels)
    assert action(plan, live_of(plan, by_another)) == StepAction("keep")


def test_a_fresh_up_computes_no_config_hash(monkeypatch: Any) -> None:
    """Hashing every spec costs seconds on a large fleet; with nothing running there is
    nothing to compare a hash with."""
    plan = make_plan()
    hashed: list[str] = []
    original = ContainerSpec.config_hash
    monkeypatch.setattr(ContainerSpec, "config_hash", lambda spec: hashed.append(spec.name) or original(spec))
    convergence = decide(plan, LiveState())
    assert {a.action for a in convergence.actions.values()} == {"create"}
    assert hashed == []
