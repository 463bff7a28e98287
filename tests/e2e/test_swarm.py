"""engine: swarm on the lab formed into a Docker Swarm of three nodes: the redis seed
scenario and an app reaching services by name across nodes, without ambassadors; a second
`up` changes nothing; `down` leaves nothing of the project on the swarm.

This kernel has neither IPVS nor ESP: `endpoint_mode: auto` must find dnsrr by itself, and
the overlay is left unencrypted (`swarm: {encrypted: false}`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.deploy import Deployment
from xcompose.lab import Lab
from xcompose.plan.naming import LABEL_PROJECT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Deploy = Callable[[str, str], Deployment]
UNENCRYPTED = "engine: swarm\nswarm: {encrypted: false}\n"

BY_NAME = """\
name: byname
engine: swarm
swarm: {encrypted: false}
hosts:
  node1: {}
  node2: {}
  node3: {}
networks:
  back: {}
services:
  cache:
    image: redis:7
    host: node1
    networks:
      back: {aliases: [kv]}
    healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}
  web:
    image: redis:7
    host: node3
    networks: [back]
    depends_on: {cache: {condition: service_healthy}}
    entrypoint: ["sh", "-c", "sleep infinity"]
"""


@pytest.fixture(autouse=True)
def swarm(lab_swarm: Lab) -> Lab:
    return lab_swarm


def redis_on_swarm() -> str:
    text = (EXAMPLES / "redis-ambassador.yaml").read_text()
    return text.replace("name: redis-ambassador\n", f"name: redis-ambassador\n{UNENCRYPTED}")


def on_swarm(app: Deployment) -> dict[str, list[str]]:
    """The project's services, overlay networks, secrets and configs, as the manager lists them."""
    manager = app.client(app.host_names[0])
    label = {"label": f"{LABEL_PROJECT}={app.project}"}
    return {
        "services": [s.name for s in manager.services.list(filters=label)],
        "networks": [n.name for n in manager.networks.list(filters={**label, "driver": "overlay"})],
        "secrets": [s.name for s in manager.secrets.list(filters=label)],
        "configs": [c.name for c in manager.configs.list(filters=label)],
    }


def test_the_redis_seed_runs_on_the_swarm_by_changing_the_engine(deploy: Deploy) -> None:
    app = deploy("redis-swarm", "api").use(redis_on_swarm())
    outcome = app.up()
    assert "ambassador" not in outcome.output
    by_env = 'redis-cli -h "$REDIS_PORT_6379_TCP_ADDR" -p "$REDIS_PORT_6379_TCP_PORT" ping'
    assert app.exec("redis-cli", "client-server", by_env, retry_for=30) == (0, "PONG\n")
    assert app.exec("redis-cli", "client-server", "redis-cli -h redis ping") == (0, "PONG\n")
    assert not app.containers("big-server", role="ambassador-server")


def test_plan_shows_dnsrr_found_on_a_kernel_without_ipvs(deploy: Deploy) -> None:
    app = deploy("redis-plan", "api").use(redis_on_swarm())
    outcome = app.xcompose("plan", "--format", "json")
    assert outcome.code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert (data["engine"], data["endpoint_mode"]) == ("swarm", "dnsrr")
    assert {step["action"] for step in data["steps"]} == {"create"}


def test_an_app_reaches_a_service_on_another_node_by_name_and_alias(deploy: Deploy) -> None:
    app = deploy("byname", "tcp").use(BY_NAME)
    app.up()
    assert app.exec("web", "node3", "redis-cli -h cache ping", retry_for=30) == (0, "PONG\n")
    assert app.exec("web", "node3", "redis-cli -h kv ping") == (0, "PONG\n")


def test_a_second_up_changes_nothing(deploy: Deploy) -> None:
    app = deploy("twice", "tcp").use(BY_NAME.replace("name: byname", "name: twice"))
    app.up()
    manager = app.client(app.host_names[0])
    versions = {s.name: s.attrs["Version"]["Index"] for s in manager.services.list()}
    again = app.up()
    events = [json.loads(line) for line in again.stdout.splitlines() if line.startswith("{")]
    assert not [e for e in events if e["event"] == "step"], again.output
    assert {s.name: s.attrs["Version"]["Index"] for s in manager.services.list()} == versions
    plan = json.loads(app.xcompose("plan", "--format", "json").stdout)
    assert {step["action"] for step in plan["steps"]} == {"keep"}


def test_down_leaves_no_service_network_or_secret(deploy: Deploy) -> None:
    given = "    secrets: [token]\n    configs: [settings]\n"
    declared = "secrets:\n  token: {environment: HOME}\nconfigs:\n  settings: {content: x=1}\n"
    app = deploy("gone", "tcp").use(BY_NAME.replace("name: byname", "name: gone") + given + declared)
    app.up()
    made = on_swarm(app)
    assert all(made.values()), made
    outcome = app.down()
    assert outcome.code == 0, outcome.output
    assert on_swarm(app) == {"services": [], "networks": [], "secrets": [], "configs": []}


def test_up_against_a_worker_says_it_needs_the_manager_and_changes_nothing(deploy: Deploy) -> None:
    text = redis_on_swarm().replace("swarm: {encrypted: false}", "swarm: {encrypted: false, manager: client-server}")
    app = deploy("worker", "tcp").use(text)
    outcome = app.xcompose("up")
    assert outcome.code == 1
    assert "host client-server is a worker, and engine: swarm needs the swarm's manager there" in outcome.output
    assert on_swarm(app)["services"] == []  # asked of the real manager: big-server is the lab's first host


def test_force_recreate_replaces_the_tasks_of_an_unchanged_service(deploy: Deploy) -> None:
    app = deploy("forced", "tcp").use(BY_NAME.replace("name: byname", "name: forced"))
    app.up()
    before = app.container("cache", "node1").id
    app.up("--force-recreate")
    # Swarm keeps the replaced task's container, stopped, in its task history.
    running = [c for c in app.containers("node1", role="service", service="cache") if c.status == "running"]
    assert [c.id for c in running] != [before] and len(running) == 1
    outcome = app.xcompose("exec", "-T", "cache", "redis-cli", "ping")  # in the running one
    assert (outcome.code, outcome.stdout) == (0, "PONG\n"), outcome.output


def test_an_external_secret_made_on_the_swarm_is_given_and_outlives_down(deploy: Deploy) -> None:
    app = deploy("outside", "tcp").use(
        BY_NAME.replace("name: byname", "name: outside") + "    secrets: [cert]\n"
        "secrets:\n  cert: {external: true, name: outside_made_by_hand}\n")
    manager = app.client(app.host_names[0])
    missing = app.xcompose("up")
    assert missing.code == 1, missing.output
    assert "external secret 'outside_made_by_hand' is not on the swarm: make it first" in missing.output
    assert on_swarm(app)["services"] == []
    made = manager.secrets.create(name="outside_made_by_hand", data=b"by hand")
    try:
        app.up()
        assert app.exec("web", "node3", "cat /run/secrets/cert", retry_for=30) == (0, "by hand")
        assert app.down().code == 0
        assert [s.name for s in manager.secrets.list(filters={"name": "outside_made_by_hand"})] == [
            "outside_made_by_hand"]
    finally:
        made.remove()


def test_no_recreate_keeps_a_changed_service_and_no_deps_updates_it_alone(deploy: Deploy) -> None:
    app = deploy("alone", "tcp").use(BY_NAME.replace("name: byname", "name: alone"))
    app.up()
    manager = app.client(app.host_names[0])

    def versions() -> dict[str, int]:
        return {s.name: s.attrs["Version"]["Index"] for s in manager.services.list(filters={"name": "alone_"})}

    before = versions()
    app.use(BY_NAME.replace("name: byname", "name: alone").replace(
        '"sleep infinity"]', '"sleep infinity"]\n    environment: {CHANGED: "1"}'))
    app.up("--no-recreate")
    assert versions() == before
    app.up("--no-deps", "web")
    after = versions()
    assert after["alone_cache"] == before["alone_cache"] and after["alone_web"] > before["alone_web"]
    outcome = app.xcompose("exec", "-T", "web", "sh", "-c", "echo $CHANGED")  # in the running task's container
    assert (outcome.code, outcome.stdout) == (0, "1\n"), outcome.output


def test_an_encrypted_overlay_on_nodes_without_esp_is_refused_before_anything_is_made(deploy: Deploy) -> None:
    app = deploy("sealed", "tcp").use(BY_NAME.replace("name: byname", "name: sealed").replace(
        "swarm: {encrypted: false}\n", ""))
    outcome = app.xcompose("up")
    assert outcome.code == 1, outcome.output
    assert "cannot carry ESP (IPsec)" in outcome.output and "swarm: {encrypted: false}" in outcome.output
    assert on_swarm(app) == {"services": [], "networks": [], "secrets": [], "configs": []}
