"""Link variables, ambassador relays, and the relay container's command and probe."""

from __future__ import annotations

import shlex

import pytest

from xcompose.ambassador import relay_command, relay_container, relay_probe
from xcompose.model import Service
from xcompose.plan import Relay
from xcompose.wiring import client_relays, env_prefix, link_environment, server_ports, server_relays


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


def test_one_relay_runs_socat_with_explicit_addresses() -> None:
    entrypoint, command = relay_command([Relay(6379, "10.0.0.1", 6379)])
    assert entrypoint == ("socat",)
    assert command == ("TCP-LISTEN:6379,fork,reuseaddr", "TCP:10.0.0.1:6379")


def test_udp_relay_uses_udp_addresses() -> None:
    _, command = relay_command([Relay(53, "dns", 53, "udp")])
    assert command == ("UDP-LISTEN:53,fork,reuseaddr", "UDP:dns:53")


def test_several_relays_run_under_one_shell() -> None:
    entrypoint, command = relay_command([Relay(80, "web", 80), Relay(443, "web", 443)])
    assert entrypoint == ("/bin/sh", "-c")
    [script] = command
    assert "socat TCP-LISTEN:80,fork,reuseaddr TCP:web:80 &" in script
    assert "socat TCP-LISTEN:443,fork,reuseaddr TCP:web:443 & wait" in script
    shlex.split(script)  # well-formed shell words


def test_probe_connects_to_the_relayed_port_on_loopback() -> None:
    assert relay_probe([Relay(6379, "redis", 6379)]) == (
        "socat", "-u", "OPEN:/dev/null", "TCP:127.0.0.1:6379,connect-timeout=2")


def test_client_probe_also_dials_the_server_ambassador() -> None:
    probe = relay_probe([Relay(6379, "10.0.0.1", 16379)], upstream=True)
    assert probe is not None and probe[:2] == ("/bin/sh", "-c")
    assert "TCP:127.0.0.1:6379" in probe[2] and "TCP:10.0.0.1:16379" in probe[2]


def test_udp_only_relay_has_no_probe() -> None:
    assert relay_probe([Relay(53, "dns", 53, "udp")]) is None


def test_relay_container_exposes_its_listen_ports_and_restarts() -> None:
    spec = relay_container(
        name="p-redis-ambassador", image="alpine/socat:latest", network="p_default",
        relays=[Relay(6379, "redis", 6379)], labels=[("b", "2"), ("a", "1")],
    )
    assert spec.expose == ((6379, "tcp"),)
    assert spec.restart == "unless-stopped"
    assert spec.labels == (("a", "1"), ("b", "2"))
