"""Plan rendering: the JSON contract, the table, and the two drawings."""

from __future__ import annotations

import json
from pathlib import Path

import pydot
import pytest

from tests.planning import S
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.live import LiveContainer, Placed
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.converge import Orphan, StepAction
from xcompose.plan.render import render_plan
from xcompose.plan.steps import Plan

OLD = Orphan(S("service:old"), Placed("web1", LiveContainer("c1", "shop-old", "x", "sha256:x", {}, "running", None, ())))


@pytest.fixture
def plan() -> Plan:
    topology = Topology.model_validate(
        {
            "hosts": {"db1": {"address": "10.0.0.1"}, "web1": {"address": "10.0.0.2"}},
            "services": {
                "db": {"image": "postgres:16", "host": "db1", "expose": [5432], "volumes": ["pg:/data"]},
                "app": {"image": "shop/app", "host": "web1", "links": ["db:database"], "ports": ["80:8080"]},
            },
            "volumes": {"pg": {}},
        }
    )
    return build_plan(Project(name="shop", topology=topology, files=[Path("t.yaml")]), Credentials.none("shop"))


def test_json_has_the_documented_keys_and_types(plan: Plan) -> None:
    data = json.loads(render_plan(plan, "json"))
    assert set(data) == {"project", "notes", "steps"}
    assert data["project"] == "shop" and data["notes"] == []
    for step in data["steps"]:
        assert set(step) == {"id", "kind", "service", "host", "wave", "after", "action"}
        assert step["kind"] == step["id"].split(":", 1)[0]
        assert isinstance(step["wave"], int) and isinstance(step["after"], list)
        assert step["action"] is None


def test_json_network_and_volume_steps_have_no_service(plan: Plan) -> None:
    steps = {s["id"]: s for s in json.loads(render_plan(plan, "json"))["steps"]}
    assert steps["network:db1"]["service"] is None
    assert steps["volume:pg@db1"]["service"] is None
    assert steps["ambassador-client:db@web1"]["service"] == "db"


def test_json_waves_and_after_follow_the_graph(plan: Plan) -> None:
    steps = {s["id"]: s for s in json.loads(render_plan(plan, "json"))["steps"]}
    assert steps["service:db"] == {
        "id": "service:db", "kind": "service", "service": "db", "host": "db1",
        "wave": 1, "after": ["network:db1", "volume:pg@db1"], "action": None,
    }
    assert [steps[i]["wave"] for i in ("network:db1", "service:db", "ambassador-server:db",
                                       "ambassador-client:db@web1", "service:app")] == [0, 1, 2, 3, 4]
    for step in steps.values():
        assert step["after"] == sorted(step["after"])
        assert all(steps[before]["wave"] < step["wave"] for before in step["after"])


def test_json_steps_are_ordered_by_wave(plan: Plan) -> None:
    waves = [s["wave"] for s in json.loads(render_plan(plan, "json"))["steps"]]
    assert waves == sorted(waves)


def test_json_with_actions_adds_reason_only_for_recreate_and_remove(plan: Plan) -> None:
    actions = {step.id: StepAction("keep", None) for step in plan.steps()}
    actions[S("service:db")] = StepAction("recreate", "image postgres:15 -> postgres:16")
    data = json.loads(render_plan(plan, "json", actions, orphans=[OLD]))
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["service:db"]["action"] == "recreate"
    assert steps["service:db"]["reason"] == "image postgres:15 -> postgres:16"
    assert steps["service:app"]["reason"] is None
    assert steps["service:old"]["action"] == "remove"
    assert steps["service:old"]["reason"]
    assert steps["service:old"]["wave"] == max(s["wave"] for s in data["steps"])


def test_table_groups_by_wave_and_says_what_ambassadors_relay(plan: Plan) -> None:
    text = render_plan(plan, "table", width=160)
    assert "10.0.0.1:5432 -> db:5432" in text
    assert "db:5432 -> 10.0.0.1:5432" in text
    assert text.index("service:db") < text.index("ambassador-server:db") < text.index("service:app")


def test_table_shows_actions_and_reasons(plan: Plan) -> None:
    actions = {step.id: StepAction("create", None) for step in plan.steps()}
    actions[S("service:db")] = StepAction("recreate", "config changed")
    text = render_plan(plan, "table", actions, orphans=[OLD], width=200)
    assert "recreate (config changed)" in text
    assert "service:old" in text and "remove" in text


def test_table_without_actions_has_no_action_column(plan: Plan) -> None:
    assert "action" not in render_plan(plan, "table", width=160)


def test_dot_parses_with_pydot_and_has_a_cluster_per_host(plan: Plan) -> None:
    [graph] = pydot.graph_from_dot_data(render_plan(plan, "dot"))
    clusters = sorted(s.get_name().strip('"') for s in graph.get_subgraphs())
    assert clusters == ["cluster_db1", "cluster_web1"]
    assert len(graph.get_edges()) == len(plan.edges())


def test_mermaid_has_a_subgraph_per_host(plan: Plan) -> None:
    text = render_plan(plan, "mermaid")
    assert text.startswith("flowchart LR")
    assert text.count("subgraph ") == 2 and '["db1"]' in text and '["web1"]' in text
    assert text.count(" --> ") == len(plan.edges())


def test_unknown_format_is_refused(plan: Plan) -> None:
    with pytest.raises(ValueError):
        render_plan(plan, "yaml")  # type: ignore[arg-type]
