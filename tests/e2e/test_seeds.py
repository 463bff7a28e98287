"""The seed scenarios, on real hosts, through both executors: what the classic posts did by
hand with four `docker run` commands per link, done by `xcompose up` from one file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Deploy = Callable[[str, str], Deployment]

pytestmark = pytest.mark.parametrize("executor", EXECUTORS)


def test_redis_cli_pings_redis_on_another_host_through_the_ambassadors(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"redis-{executor}", executor).use(EXAMPLES / "redis-ambassador.yaml")
    app.up()
    by_env = 'redis-cli -h "$REDIS_PORT_6379_TCP_ADDR" -p "$REDIS_PORT_6379_TCP_PORT" ping'
    assert app.exec("redis-cli", "client-server", by_env, retry_for=10) == (0, "PONG\n")
    assert app.exec("redis-cli", "client-server", "redis-cli -h redis ping") == (0, "PONG\n")


def test_the_server_ambassador_publishes_only_on_its_hosts_address(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"publish-{executor}", executor).use(EXAMPLES / "redis-ambassador.yaml")
    app.up()
    [server] = app.containers("big-server", role="ambassador-server")
    bindings = server.attrs["HostConfig"]["PortBindings"]
    address = app.lab_host("big-server").address
    assert {b["HostIp"] for binding in bindings.values() for b in binding} == {address}


def test_wordpress_runs_a_query_against_mysql_on_the_other_host(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"wordpress-{executor}", executor).use(EXAMPLES / "wordpress-mysql.yaml")
    app.up()
    query = "mysql -h mysql -u wordpress -prehearsal wordpress -N -e 'SELECT 6*7'"
    assert app.exec("wordpress", "vm1", query, retry_for=60) == (0, "42\n")
    page = "curl -s http://127.0.0.1/"
    code, text = app.exec("wordpress", "vm1", page, retry_for=20)
    assert code == 0 and "Database OK" in text


def test_an_app_talks_to_oracle_on_another_host_over_tcp(deploy: Deploy, executor: str) -> None:
    app = deploy(f"oracle-{executor}", executor).use(EXAMPLES / "oracle-app.yaml")
    app.up()
    talk = 'printf "hello oracle\\n" | nc -q 1 -w 3 "$ORACLE_PORT_1521_TCP_ADDR" 1521'
    code, text = app.exec("app", "hostB", talk, retry_for=10)
    assert code == 0
    assert "ORACLE 11g STAND-IN READY" in text
    assert "hello oracle" in text


def test_a_same_host_link_gives_the_legacy_variables_and_carries_pgbench(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"pg-{executor}", executor).use(EXAMPLES / "pg-single-host.yaml", ["local"])
    app.up()
    env = app.env("client", "local")
    assert env["DB1_PORT"] == "tcp://db1:5432"
    assert env["DB1_PORT_5432_TCP"] == "tcp://db1:5432"
    assert env["DB1_PORT_5432_TCP_ADDR"] == "db1"
    assert env["DB1_PORT_5432_TCP_PORT"] == "5432"
    assert env["DB1_PORT_5432_TCP_PROTO"] == "tcp"
    assert env["DB1_NAME"] == f"/{app.project}-client/db1"
    assert env["DB1_ENV_POSTGRES_DB"] == "app"
    assert app.containers("local", role="ambassador-server") == []
    pgbench = (
        'pgbench -h "$DB1_PORT_5432_TCP_ADDR" -p "$DB1_PORT_5432_TCP_PORT" -U postgres -i app'
        ' && pgbench -h db1 -U postgres -S -c 4 -j 2 -t 500 app'
    )
    code, text = app.exec("client", "local", pgbench, retry_for=20)
    assert code == 0, text
    assert "number of transactions actually processed: 2000/2000" in text


SHARED = """
hosts: {h1: {}, h2: {}, h3: {}}
services:
  redis: {image: "redis:7", host: h1, expose: [6379]}
  one: {image: "xcompose/tools:latest", host: h2, links: ["redis"], command: sleep infinity}
  two: {image: "xcompose/tools:latest", host: h2, links: ["redis:cache"], command: sleep infinity}
  three: {image: "xcompose/tools:latest", host: h3, links: ["redis"], command: sleep infinity}
"""


def test_one_server_ambassador_serves_two_hosts_and_consumers_share_a_client_ambassador(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"shared-{executor}", executor).use(SHARED)
    app.up()
    assert len(app.containers("h1", role="ambassador-server")) == 1
    assert len(app.containers("h2", role="ambassador-client")) == 1
    assert len(app.containers("h3", role="ambassador-client")) == 1
    assert app.exec("one", "h2", "redis-cli -h redis ping", retry_for=10) == (0, "PONG\n")
    assert app.exec("two", "h2", "redis-cli -h cache ping") == (0, "PONG\n")
    assert app.exec("three", "h3", "redis-cli -h redis ping", retry_for=10) == (0, "PONG\n")


def _events(outcome_stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in outcome_stdout.splitlines() if line.startswith("{")]


def test_a_second_up_recreates_nothing(deploy: Deploy, executor: str) -> None:
    app = deploy(f"again-{executor}", executor).use(SHARED)
    app.up()
    before = {c.name: c.id for host in ("h1", "h2", "h3") for c in app.containers(host)}
    second = app.up()
    actions = {e["action"] for e in _events(second.stdout) if e.get("event") == "step"}
    assert actions == {"keep"}
    after = {c.name: c.id for host in ("h1", "h2", "h3") for c in app.containers(host)}
    assert after == before


def test_moving_a_service_keeps_its_consumers_and_their_alias(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"move-{executor}", executor).use(SHARED)
    app.up()
    consumer = app.container("three", "h3")
    env_before = app.env("three", "h3")

    app.move("redis", "h2")
    app.up()
    assert app.containers("h1") == []
    assert app.container("redis", "h2").status == "running"
    assert app.container("three", "h3").id == consumer.id
    assert app.env("three", "h3") == env_before
    assert app.exec("three", "h3", "redis-cli -h redis ping", retry_for=15) == (0, "PONG\n")
    assert app.exec("one", "h2", "redis-cli -h redis ping", retry_for=15) == (0, "PONG\n")


def test_down_leaves_no_container_or_network_of_the_project(deploy: Deploy, executor: str) -> None:
    app = deploy(f"down-{executor}", executor).use(SHARED)
    app.up()
    assert app.leftovers() != []
    outcome = app.down()
    assert outcome.code == 0, outcome.output
    assert app.leftovers() == []
