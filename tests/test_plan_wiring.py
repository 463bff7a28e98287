"""What a link turns into: the consumer's legacy link variables and the relays' ports."""

from __future__ import annotations

import pytest

from xcompose.config.model import Service
from xcompose.plan.specs import RelayPort as Relay
from xcompose.plan.wiring import (
    client_relays,
    env_prefix,
    link_environment,
    server_ports,
    server_relays,
)


def service(**fields: object) -> Service:
    return Service.model_validate({"image": "postgres:16", **fields})


def test_link_variables_follow_the_legacy_scheme_with_the_alias_as_address() -> None:
    # Seed 002's scheme, with `db1` in place of the container IP.
    target = service(expose=[5432], environment={"PGDATA": "/var/lib/postgresql/data", "LANG": "en_US.utf8"})
    assert link_environment("shop-client", "db1", target) == {
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
    env = link_environment("c", "web", service(expose=[8443, "53/udp", 8080]))
    assert env["WEB_PORT"] == "udp://web:53"
    assert env["WEB_PORT_53_UDP"] == "udp://web:53"
    assert env["WEB_PORT_53_UDP_PROTO"] == "udp"
    assert env["WEB_PORT_8080_TCP_PORT"] == "8080"


def test_unset_target_environment_is_not_passed_on() -> None:
    env = link_environment("c", "db", service(environment={"SET": "1", "UNSET": None}))
    assert "DB_ENV_SET" in env and "DB_ENV_UNSET" not in env


def test_target_without_exposed_ports_gives_only_name_and_env() -> None:
    assert link_environment("c", "db", service()) == {"DB_NAME": "/c/db"}


@pytest.mark.parametrize(("alias", "prefix"), [("db", "DB"), ("my-db", "MY_DB"), ("db.v2", "DB_V2")])
def test_env_prefix_upper_cases_and_replaces_dash_and_dot(alias: str, prefix: str) -> None:
    assert env_prefix(alias) == prefix


def test_server_relays_reach_the_target_by_service_name() -> None:
    assert server_relays("redis", service(expose=[6379])) == (Relay(6379, "redis", 6379, "tcp"),)


def test_server_ports_bind_the_host_address_and_honour_publish_overrides() -> None:
    [binding] = server_ports(service(expose=[6379], ambassador={"publish": {6379: 16379}}), "10.0.0.1")
    assert (binding.host_ip, binding.host_port, binding.container_port) == ("10.0.0.1", 16379, 6379)


def test_client_relays_listen_on_the_target_port_and_dial_the_published_one() -> None:
    relays = client_relays(service(expose=[6379], ambassador={"publish": {6379: 16379}}), "10.0.0.1")
    assert relays == (Relay(6379, "10.0.0.1", 16379, "tcp"),)
