"""Every example loads, plans, and orders its steps as the seed scenario requires."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from tests.planning import S, edge
from xcompose.config.load import load_project
from xcompose.config.syntax import PortSpec
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.specs import ContainerSpec
from xcompose.plan.steps import (
    AMBASSADOR_STEPS,
    CONTAINER_STEPS,
    Plan,
    ServerAmbassadorStep,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> (target, consumer) of its one link, and whether it crosses hosts
LINKS = {
    "redis-ambassador.yaml": ("redis", "redis-cli", "client-server"),
    "wordpress-mysql.yaml": ("mysql", "wordpress", "vm1"),
    "oracle-app.yaml": ("oracle", "app", "hostB"),
    "pg-single-host.yaml": ("db", "client", None),
}


def plan_for(name: str) -> Plan:
    project = load_project([EXAMPLES / name], environ={})
    return build_plan(project, Credentials.none(project.name))


def spec_of(plan: Plan, text: str) -> ContainerSpec:
    step = plan.step(S(text))
    assert isinstance(step, CONTAINER_STEPS)
    return step.container


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(LINKS)


@pytest.mark.parametrize("name", sorted(LINKS))
def test_example_orders_service_then_ambassadors_then_consumer(name: str) -> None:
    target, consumer, consumer_host = LINKS[name]
    plan = plan_for(name)
    if consumer_host is None:
        chain = [f"service:{target}", f"service:{consumer}"]
    else:
        chain = [f"service:{target}", f"ambassador-server:{target}",
                 f"ambassador-client:{target}@{consumer_host}", f"service:{consumer}"]
    wave = {str(step.id): index for index, steps in enumerate(plan.waves()) for step in steps}
    for before, after in pairwise(chain):
        assert edge(plan, before, after), (before, after)
        assert wave[before] < wave[after]


@pytest.mark.parametrize("name", sorted(n for n, link in LINKS.items() if link[2] is not None))
def test_cross_host_example_publishes_on_the_target_hosts_address(name: str) -> None:
    target = LINKS[name][0]
    plan = plan_for(name)
    step = plan.step(S(f"ambassador-server:{target}"))
    assert isinstance(step, ServerAmbassadorStep)
    address = plan.hosts[step.host].address
    assert address is not None and address.startswith("192.168.1.")
    assert all(p.host_ip == address for p in step.container.ports)


def test_single_host_example_has_no_ambassador() -> None:
    plan = plan_for("pg-single-host.yaml")
    assert not any(isinstance(step, AMBASSADOR_STEPS) for step in plan.steps())
    assert list(plan.hosts) == ["local"]


def test_pg_client_gets_the_seed_link_variables() -> None:
    spec = spec_of(plan_for("pg-single-host.yaml"), "service:client")
    env = dict(spec.environment)
    assert env["DB1_PORT_5432_TCP"] == "tcp://db1:5432"
    assert env["DB1_PORT_5432_TCP_ADDR"] == "db1"
    assert env["DB1_PORT_5432_TCP_PORT"] == "5432"
    assert env["DB1_PORT_5432_TCP_PROTO"] == "tcp"
    assert env["DB1_PORT"] == "tcp://db1:5432"
    assert env["DB1_ENV_POSTGRES_DB"] == "app"


def test_redis_cli_pings_through_the_link_variables() -> None:
    spec = spec_of(plan_for("redis-ambassador.yaml"), "service:redis-cli")
    assert spec.entrypoint is not None
    # `$$` in the file is a literal `$` for the container's shell.
    assert '"$REDIS_PORT_6379_TCP_ADDR"' in spec.entrypoint[-1]
    assert dict(spec.environment)["REDIS_PORT_6379_TCP_ADDR"] == "redis"


def test_wordpress_reaches_mysql_by_its_alias() -> None:
    plan = plan_for("wordpress-mysql.yaml")
    assert [e.aliases for e in spec_of(plan, "ambassador-client:mysql@vm1").networks] == [("mysql",)]
    assert spec_of(plan, "service:wordpress").networks[0].links == ("mysql:mysql",)
    assert plan.step(S("volume:mysql-data@vm2")).host == "vm2"


def test_the_compose_file_beside_its_placement_reaches_the_database_by_name() -> None:
    folder = EXAMPLES / "wordpress"
    project = load_project([folder / "compose.yaml", folder / "xcompose.yaml"], environ={})
    assert {s: project.host_of(s) for s in project.topology.services} == {"db": "vm2", "wordpress": "vm1"}
    plan = build_plan(project, Credentials.none(project.name), {"mysql:8": (PortSpec(port=3306),)})
    assert [str(s.id) for s in plan.steps() if isinstance(s, AMBASSADOR_STEPS)] == [
        "ambassador-server:db", "ambassador-client:db@vm1"]
    # The compose file alone is a plain single-host file.
    alone = load_project([folder / "compose.yaml"], environ={})
    assert not alone.topology.hosts
    assert all(service.host is None for service in alone.topology.services.values())
