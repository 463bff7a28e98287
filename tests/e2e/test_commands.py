"""`plan` against the live hosts, `ps` and `logs`, as a user reads them, on a running
redis-ambassador project (both executors)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment
from xcompose.lab import Lab

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module", params=EXECUTORS)
def running(request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    executor = request.param
    folder = tmp_path_factory.mktemp(f"commands-{executor}")
    app = Deployment(lab, folder, f"cmds-{executor}", executor).use(EXAMPLES / "redis-ambassador.yaml")
    try:
        app.up()
        yield app
    finally:
        app.down("--volumes")
        app.close()


def test_plan_against_running_hosts_says_every_step_is_kept(running: Deployment) -> None:
    outcome = running.xcompose("plan", "--format", "json")
    assert outcome.code == 0, outcome.output
    steps = json.loads(outcome.stdout)["steps"]
    changed = [(s["id"], s["action"], s.get("reason")) for s in steps if s["action"] != "keep"]
    assert changed == []


def test_plan_names_the_reason_for_a_recreate(running: Deployment) -> None:
    edited = running.folder / "edited.yaml"
    edited.write_text(running.files[0].read_text().replace(
        "    expose: [6379]", "    expose: [6379]\n    user: redis"))
    original, running.files[0] = running.files[0], edited
    try:
        outcome = running.xcompose("plan", "--format", "json")
    finally:
        running.files[0] = original
    assert outcome.code == 0, outcome.output
    actions = {s["id"]: (s["action"], s.get("reason")) for s in json.loads(outcome.stdout)["steps"]}
    assert actions["service:redis"] == ("recreate", "config changed")
    assert actions["service:redis-cli"] == ("keep", None)


def test_ps_lists_every_container_with_host_role_and_state(running: Deployment) -> None:
    outcome = running.xcompose("ps", "--format", "json")
    assert outcome.code == 0, outcome.output
    rows = {(r["service"], r["host"], r["role"], r["state"]) for r in json.loads(outcome.stdout)}
    assert rows == {
        ("redis", "big-server", "service", "running"),
        ("redis", "big-server", "ambassador-server", "running"),
        ("redis", "client-server", "ambassador-client", "running"),
        ("redis-cli", "client-server", "service", "running"),
    }


def test_logs_prefix_each_line_with_service_and_host(running: Deployment) -> None:
    for _ in range(20):
        outcome = running.xcompose("logs", "--tail", "3", "redis-cli")
        if "PONG" in outcome.stdout:
            break
        time.sleep(1)
    assert outcome.code == 0, outcome.output
    lines = [line for line in outcome.stdout.splitlines() if line.strip()]
    assert lines and all(line.startswith("redis-cli@client-server | ") for line in lines)
    assert "redis-cli@client-server | PONG" in lines
