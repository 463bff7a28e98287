"""The models' own behaviour: field lookup for suggestions, environment forms, ports as
single ports."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from xcompose.config.model import Service
from xcompose.config.validate import field_names_at


def test_field_names_at_follows_dicts_lists_and_optionals() -> None:
    assert field_names_at(("services", "app", "volumes", 0)) == ["type", "source", "target", "read_only", "bind", "volume", "tmpfs"]
    assert "verify" in field_names_at(("hosts", "h", "tls"))
    assert "driver" in field_names_at(("volumes", "v"))


def test_field_names_at_a_non_model_location_is_empty() -> None:
    assert field_names_at(("services", "app", "environment")) == []


def test_an_environment_list_becomes_a_mapping() -> None:
    service = Service.model_validate({"image": "a", "environment": ["A=1", "B"]})
    assert service.environment == {"A": "1", "B": None}


def test_a_nested_environment_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="environment value of 'A' must be a string"):
        Service.model_validate({"image": "a", "environment": {"A": {"x": 1}}})


def test_port_ranges_stand_for_their_single_ports() -> None:
    service = Service.model_validate({"image": "a", "expose": ["8000-8001", 53], "ports": ["9000-9001:80-81"]})
    assert [p.short() for p in service.exposed_ports()] == ["53", "8000", "8001"]
    assert [(i, p.short()) for i, p in service.published_ports()] == [(0, "9000:80"), (0, "9001:81")]


# --- container options -------------------------------------------------------------------------

RICH = {
    "image": "a", "container_name": "web-1", "stop_signal": "SIGINT", "stop_grace_period": "1m30s",
    "sysctls": ["net.core.somaxconn=1024"], "ulimits": {"nproc": 65535, "nofile": {"soft": 20000, "hard": 40000}},
    "shm_size": "64m", "tmpfs": "/run", "extra_hosts": {"db": "10.0.0.5", "gw": "host-gateway"}, "dns": "9.9.9.9",
    "dns_search": ["a.test", "b.test"], "devices": ["/dev/zero:/dev/xzero:rw"], "mem_limit": "1g",
    "memswap_limit": -1, "cpus": "0.5", "group_add": [123, "mail"], "ipc": "service:db", "pid": "host",
    "logging": {"driver": "json-file", "options": {"max-size": "5m", "max-file": 3}},
}


def test_container_options_in_their_compose_forms() -> None:
    service = Service.model_validate(RICH)
    assert service.stop_grace_period == 90.0
    assert service.sysctls == {"net.core.somaxconn": "1024"}
    assert {k: (v.soft, v.hard) for k, v in service.ulimits.items()} == {"nproc": (65535, 65535),
                                                                          "nofile": (20000, 40000)}
    assert (service.shm_size, service.mem_limit, service.memswap_limit, service.cpus) == (64 * 1024**2, 1024**3, -1, 0.5)
    assert (service.tmpfs, service.dns, service.dns_search) == (["/run"], ["9.9.9.9"], ["a.test", "b.test"])
    assert service.extra_hosts == ["db:10.0.0.5", "gw:host-gateway"]
    assert [(d.source, d.target, d.permissions) for d in service.devices] == [("/dev/zero", "/dev/xzero", "rw")]
    assert service.group_add == ["123", "mail"]
    assert service.logging is not None and service.logging.options == {"max-size": "5m", "max-file": "3"}


def test_container_options_read_back_from_their_dump() -> None:
    service = Service.model_validate(RICH)
    assert Service.model_validate(service.model_dump(mode="json", exclude_defaults=True)) == service


@pytest.mark.parametrize(("data", "message"), [
    ({"container_name": "-bad"}, "'-bad' is not a container name"),
    ({"stop_signal": "term"}, "'term' is not a signal"),
    ({"cpuset": "0-"}, "'0-' is not a CPU list"),
    ({"ipc": "bogus"}, "ipc must be private, shareable, host, none, service:NAME or container:NAME"),
    ({"pid": "private"}, "pid must be host, service:NAME or container:NAME"),
    ({"ulimits": {"nofiles": 1}}, "unknown ulimit 'nofiles'"),
    ({"ulimits": {"nofile": {"soft": 2, "hard": 1}}}, "soft limit 2 is above the hard limit 1"),
    ({"oom_score_adj": 1001}, "less than or equal to 1000"),
    ({"stop_grace_period": "soon"}, "is not a duration"),
    ({"volumes_from": ["db:rx"]}, "not a volumes_from entry"),
    ({"tmpfs": ["run"]}, "is not a tmpfs mount"),
    ({"mac_address": "02:42"}, "'02:42' is not a MAC address"),
    ({"deploy": {"replicas": 0}}, "xcompose runs at least one container"),
])
def test_a_bad_container_option_is_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Service.model_validate({"image": "a", **data})


def test_a_hostname_constraint_places_the_service() -> None:
    constraints = ["node.role == worker", "node.hostname == db1"]
    service = Service.model_validate({"image": "a", "deploy": {"placement": {"constraints": constraints}}})
    assert service.placement_host() == "db1"
    assert Service.model_validate({"image": "a"}).placement_host() is None
    with pytest.raises(ValidationError, match=r"name two hosts \(a, b\)"):
        Service.model_validate({"image": "a", "deploy": {"placement": {"constraints": [
            "node.hostname == a", "node.hostname == b"]}}})


def test_deploy_resources_in_compose_forms() -> None:
    deploy = Service.model_validate({"image": "a", "deploy": {"resources": {
        "limits": {"cpus": "0.25", "memory": "300M", "pids": 50}, "reservations": {"memory": "100m"}}}}).deploy
    assert deploy is not None
    limits = deploy.resources.limits
    assert (limits.cpus, limits.memory, limits.pids) == (0.25, 300 * 1024**2, 50)
    assert deploy.resources.reservations.memory == 100 * 1024**2


def test_lifecycle_hooks_take_composes_long_form() -> None:
    service = Service.model_validate({"image": "a", "post_start": [
        {"command": "redis-cli ping", "user": "redis", "privileged": True, "working_dir": "/data",
         "environment": ["A=1"]}], "pre_stop": [{"command": ["sync"]}]})
    [hook] = service.post_start
    assert (hook.command, hook.user, hook.privileged, hook.working_dir, hook.environment) == (
        "redis-cli ping", "redis", True, "/data", {"A": "1"})
    assert service.pre_stop[0].command == ["sync"]
