"""What reaching another service turns into: the legacy link variables, the ports a service
declares, and the relays' ports."""

from __future__ import annotations

import pytest

from xcompose.config.model import Service
from xcompose.config.syntax import PortSpec
from xcompose.plan.specs import RelayPort as Relay
from xcompose.plan.wiring import (
    client_relays,
    declared_ports,
    env_prefix,
    link_environment,
    server_ports,
    server_relays,
)

REDIS = PortSpec(port=6379)


def link_env(consumer: str, alias: str, target: Service) -> dict[str, str]:
    return link_environment(consumer, alias, target, target.exposed_ports())


def service(**fields: object) -> Service:
    return Service.model_validate({"image": "postgres:16", **fields})


def test_link_variables_follow_the_legacy_scheme_with_the_alias_as_address() -> None:
    # Seed 002's scheme, with `db1` in place of the container IP.
    target = service(expose=[5432], environment={"PGDATA": "/var/lib/postgresql/data", "LANG": "en_US.utf8"})
    assert link_env("shop-client", "db1", target) == {
        "DB1_NAME": "/shop-client/db1",
        "DB1_PORT": "tcp://db1:5432",
        "DB1_PORT_5432_TCP": "tcp://db1:5432",
        "DB1_PORT_5432_TCP_PROTO": "tcp",
        "DB1_PORT_5432_TCP_ADDR": "db1",
        "DB1_PORT_5432_TCP_PORT": "5432",
        "DB1_ENV_PGDATA": "/var/lib/postgresql/data",
        "DB1_ENV_LANG": "en_US.utf8",
    }


def test_alias_port_points_at_the_lowest_exposed_port() -> None:
    env = link_env("c", "web", service(expose=[8443, "53/udp", 8080]))
    assert env["WEB_PORT"] == "udp://web:53"
    assert env["WEB_PORT_53_UDP"] == "udp://web:53"
    assert env["WEB_PORT_53_UDP_PROTO"] == "udp"
    assert env["WEB_PORT_8080_TCP_PORT"] == "8080"


def test_unset_target_environment_is_not_passed_on() -> None:
    env = link_env("c", "db", service(environment={"SET": "1", "UNSET": None}))
    assert "DB_ENV_SET" in env and "DB_ENV_UNSET" not in env


def test_target_without_exposed_ports_gives_only_name_and_env() -> None:
    assert link_env("c", "db", service()) == {"DB_NAME": "/c/db"}


@pytest.mark.parametrize(("alias", "prefix"), [("db", "DB"), ("my-db", "MY_DB"), ("db.v2", "DB_V2")])
def test_env_prefix_upper_cases_and_replaces_dash_and_dot(alias: str, prefix: str) -> None:
    assert env_prefix(alias) == prefix


def test_declared_ports_are_expose_and_the_container_side_of_ports() -> None:
    ports = declared_ports(service(expose=[5432, "53/udp"], ports=["8080:80", "127.0.0.1::5432"]))
    assert [p.short() for p in ports] == ["53/udp", "80", "5432"]


def test_server_relays_reach_the_target_by_service_name() -> None:
    assert server_relays("redis", [REDIS]) == (Relay(6379, "redis", 6379, "tcp"),)


def test_server_ports_bind_the_host_address_on_the_chosen_host_port() -> None:
    [binding] = server_ports([REDIS], {REDIS: 16379}, "10.0.0.1")
    assert (binding.host_ip, binding.host_port, binding.container_port) == ("10.0.0.1", 16379, 6379)


def test_client_relays_listen_on_the_target_port_and_dial_the_published_one() -> None:
    assert client_relays([REDIS], {REDIS: 16379}, "10.0.0.1") == (Relay(6379, "10.0.0.1", 16379, "tcp"),)
