"""The swarm plan as a table and as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from xcompose.config.project import Project
from xcompose.errors import UsageError
from xcompose.plan.swarm import build_swarm_plan
from xcompose.plan.swarm_converge import LiveSwarm, decide_swarm
from xcompose.plan.swarm_render import render_swarm_plan

Load = Callable[..., Project]

TEXT = """\
name: shop
engine: swarm
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
services:
  db: {image: redis:7, host: h1}
  app: {image: redis:7, host: h2, depends_on: [db], ports: ['8080:80']}
"""


def test_json_says_the_engine_the_endpoint_mode_and_each_step(load_text: Load) -> None:
    data = json.loads(render_swarm_plan(build_swarm_plan(load_text(TEXT), "dnsrr"), "json"))
    assert (data["engine"], data["endpoint_mode"], data["encrypted"], data["manager"]) == ("swarm", "dnsrr", True, "h1")
    app = next(step for step in data["steps"] if step["id"] == "service:app")
    assert app == {"id": "service:app", "kind": "service", "service": "app", "host": "h2", "wave": 2,
                   "after": ["overlay:default", "service:db"], "action": None}


def test_json_with_the_swarm_asked_gives_each_step_its_action(load_text: Load) -> None:
    plan = build_swarm_plan(load_text(TEXT), "vip")
    data = json.loads(render_swarm_plan(plan, "json", decide_swarm(plan, LiveSwarm())))
    assert {step["action"] for step in data["steps"]} == {"create"}


def test_the_table_shows_node_endpoint_mode_and_ports(load_text: Load) -> None:
    text = render_swarm_plan(build_swarm_plan(load_text(TEXT), "vip"), "table", width=200)
    assert "(endpoint mode vip)" in text
    assert "service shop_app (redis:7) x1 on node h2, endpoint vip ports 8080:80" in text


def test_undecided_auto_mode_is_said_in_a_note(load_text: Load) -> None:
    text = render_swarm_plan(build_swarm_plan(load_text(TEXT)), "table", width=200)
    assert "note: endpoint mode auto: vip where every node carries IPVS" in text


def test_drawings_are_refused_with_what_works(load_text: Load) -> None:
    with pytest.raises(UsageError, match="use table or json"):
        render_swarm_plan(build_swarm_plan(load_text(TEXT)), "dot")
