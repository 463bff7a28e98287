"""The planner: steps, edges, container specs and every error class it reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from xcompose.errors import ConfigErrors
from xcompose.model import Topology
from xcompose.plan import LABEL_HOST, LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE, Plan
from xcompose.planner import build_plan
from xcompose.project import Project

TWO_HOSTS = {"a": {"address": "10.0.0.1"}, "b": {"address": "10.0.0.2"}}
THREE_HOSTS = {**TWO_HOSTS, "c": {"address": "10.0.0.3"}}


def project(services: dict[str, Any], hosts: dict[str, Any] | None = None, **extra: Any) -> Project:
    data: dict[str, Any] = {"services": services, **extra}
    if hosts is not None:
        data["hosts"] = hosts
    return Project(name="shop", topology=Topology.model_validate(data), files=[Path("/srv/t.yaml")])


def plan_of(services: dict[str, Any], hosts: dict[str, Any] | None = None, **extra: Any) -> Plan:
    return build_plan(project(services, hosts, **extra))


def errors_of(services: dict[str, Any], hosts: dict[str, Any] | None = None, **extra: Any) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        plan_of(services, hosts, **extra)
    return [str(e) for e in caught.value.errors]


def redis_pair(**client: Any) -> dict[str, Any]:
    return {
        "redis": {"image": "redis:7", "host": "a", "expose": [6379]},
        "cli": {"image": "redis:7", "host": "b", "links": ["redis"], **client},
    }


# -- shape of the graph -------------------------------------------------------------------


def test_cross_host_link_orders_service_server_client_consumer() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    path = ["service:redis", "ambassador-server:redis", "ambassador-client:redis@b", "service:cli"]
    assert all(plan.graph.has_edge(x, y) for x, y in zip(path, path[1:]))
    assert [plan.step(s).host for s in path] == ["a", "a", "b", "b"]


def test_every_container_step_waits_for_its_hosts_network() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    for step in plan.steps():
        if step.container is not None:
            assert f"network:{step.host}" in plan.after(step.id)


def test_same_host_link_has_no_ambassador() -> None:
    plan = plan_of(
        {"db": {"image": "p", "expose": [5432]}, "app": {"image": "x", "links": ["db:db1"]}}
    )
    assert sorted(plan.graph) == ["network:local", "service:app", "service:db"]
    assert plan.graph.has_edge("service:db", "service:app")


def test_file_without_hosts_runs_on_the_implicit_local_host() -> None:
    plan = plan_of({"db": {"image": "p"}})
    assert list(plan.hosts) == ["local"]
    assert plan.hosts["local"].docker is None
    assert plan.step("service:db").host == "local"


def test_one_server_ambassador_serves_consumers_on_two_hosts() -> None:
    services = {
        "db": {"image": "p", "host": "a", "expose": [5432]},
        "web": {"image": "x", "host": "b", "links": ["db"]},
        "job": {"image": "x", "host": "c", "links": ["db"]},
    }
    plan = plan_of(services, THREE_HOSTS)
    kinds = [s.id for s in plan.steps() if s.kind.startswith("ambassador")]
    assert sorted(kinds) == ["ambassador-client:db@b", "ambassador-client:db@c", "ambassador-server:db"]
    assert plan.after("ambassador-client:db@c") == ["ambassador-server:db", "network:c"]


def test_one_client_ambassador_serves_two_consumers_on_one_host() -> None:
    services = {
        "db": {"image": "p", "host": "a", "expose": [5432]},
        "web": {"image": "x", "host": "b", "links": ["db:database"]},
        "job": {"image": "x", "host": "b", "links": ["db:pg"]},
    }
    plan = plan_of(services, TWO_HOSTS)
    clients = [s for s in plan.steps() if s.kind == "ambassador-client"]
    assert [c.id for c in clients] == ["ambassador-client:db@b"]
    assert clients[0].container is not None
    assert clients[0].container.aliases == ("db", "database", "pg")
    assert set(plan.graph.successors("ambassador-client:db@b")) == {"service:web", "service:job"}


def test_depends_on_orders_without_ambassador() -> None:
    plan = plan_of(
        {"migrate": {"image": "x", "host": "a"}, "app": {"image": "x", "host": "b", "depends_on": ["migrate"]}},
        TWO_HOSTS,
    )
    assert plan.graph.has_edge("service:migrate", "service:app")
    assert not any(s.kind.startswith("ambassador") for s in plan.steps())


@pytest.mark.parametrize(("condition", "healthy"), [("service_healthy", True), ("service_started", False)])
def test_depends_on_condition_sets_wait_healthy(condition: str, healthy: bool) -> None:
    plan = plan_of({"db": {"image": "p"}, "app": {"image": "x", "depends_on": {"db": {"condition": condition}}}})
    assert plan.step("service:db").wait_healthy is healthy


def test_volume_step_only_on_hosts_whose_services_use_it() -> None:
    plan = plan_of(
        {"db": {"image": "p", "host": "a", "volumes": ["data:/var/lib/db"]}, "web": {"image": "x", "host": "b"}},
        TWO_HOSTS,
        volumes={"data": {}},
    )
    assert [s.id for s in plan.steps() if s.kind == "volume"] == ["volume:data@a"]
    volume = plan.step("volume:data@a").volume
    assert volume is not None and volume.name == "shop_data"
    assert "volume:data@a" in plan.after("service:db")


def test_external_volume_keeps_its_name_and_gets_no_step() -> None:
    plan = plan_of({"db": {"image": "p", "volumes": ["data:/d"]}}, volumes={"data": {"external": True}})
    assert not any(s.kind == "volume" for s in plan.steps())
    spec = plan.step("service:db").container
    assert spec is not None and spec.mounts[0].source == "data"


def test_waves_put_each_step_after_all_its_predecessors() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    wave = {s.id: i for i, steps in enumerate(plan.waves()) for s in steps}
    assert all(wave[u] < wave[v] for u, v in plan.graph.edges)
    assert wave["service:cli"] == 4


def test_host_targets_come_from_the_hosts_section() -> None:
    plan = plan_of(
        redis_pair(),
        {"a": {"address": "10.0.0.1", "docker": "ssh://root@10.0.0.1", "executor": "ssh", "sudo": True},
         "b": {"address": "10.0.0.2"}},
    )
    target = plan.hosts["a"]
    assert (target.address, target.docker, target.executor, target.sudo) == (
        "10.0.0.1", "ssh://root@10.0.0.1", "ssh", True)


# -- container specs ----------------------------------------------------------------------


def test_names_and_labels_follow_the_conventions() -> None:
    plan = plan_of(redis_pair(labels={"team": "ops"}), TWO_HOSTS)
    expected = {
        "service:cli": ("shop-cli", "cli", "service", "b"),
        "ambassador-server:redis": ("shop-redis-ambassador", "redis", "ambassador-server", "a"),
        "ambassador-client:redis@b": ("shop-redis-ambassador-b", "redis", "ambassador-client", "b"),
    }
    for step_id, (name, service, role, host) in expected.items():
        spec = plan.step(step_id).container
        assert spec is not None
        labels = dict(spec.labels)
        assert spec.name == name
        assert (labels[LABEL_PROJECT], labels[LABEL_SERVICE], labels[LABEL_ROLE], labels[LABEL_HOST]) == (
            "shop", service, role, host)
    cli = plan.step("service:cli").container
    assert cli is not None and dict(cli.labels)["team"] == "ops"


def test_server_ambassador_publishes_on_the_host_address_only() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    spec = plan.step("ambassador-server:redis").container
    assert spec is not None
    [binding] = spec.ports
    assert (binding.host_ip, binding.host_port, binding.container_port) == ("10.0.0.1", 6379, 6379)
    [relay] = plan.step("ambassador-server:redis").relays
    assert (relay.listen_port, relay.to_host, relay.to_port) == (6379, "redis", 6379)


def test_client_ambassador_relays_to_the_published_port() -> None:
    services = redis_pair()
    services["redis"]["ambassador"] = {"publish": {6379: 16379}}
    plan = plan_of(services, TWO_HOSTS)
    [relay] = plan.step("ambassador-client:redis@b").relays
    assert (relay.listen_port, relay.to_host, relay.to_port) == (6379, "10.0.0.1", 16379)
    spec = plan.step("ambassador-client:redis@b").container
    assert spec is not None and spec.expose == ((6379, "tcp"),)


def test_alias_sits_on_the_target_when_same_host() -> None:
    plan = plan_of({"db": {"image": "p", "expose": [5432]}, "app": {"image": "x", "links": ["db:db1"]}})
    spec = plan.step("service:db").container
    assert spec is not None and spec.aliases == ("db", "db1")


def test_consumer_spec_is_the_same_whether_target_is_local_or_remote() -> None:
    def consumer_hash(target_host: str) -> str:
        services = {
            "db": {"image": "p", "host": target_host, "expose": [5432], "environment": {"A": "1"}},
            "app": {"image": "x", "host": "b", "links": ["db:db1"]},
        }
        spec = plan_of(services, TWO_HOSTS).step("service:app").container
        assert spec is not None
        return spec.config_hash()

    assert consumer_hash("a") == consumer_hash("b")


def test_service_spec_carries_the_compose_keys() -> None:
    plan = plan_of(
        {
            "web": {
                "image": "nginx",
                "command": "nginx -g 'daemon off;'",
                "entrypoint": ["/docker-entrypoint.sh"],
                "environment": {"B": "2", "A": "1", "UNSET": None},
                "expose": [80],
                "ports": ["127.0.0.1:8080:80", "443:443"],
                "volumes": ["./html:/usr/share/nginx/html:ro"],
                "restart": "always",
                "healthcheck": {"test": "curl -f localhost", "interval": "5s", "retries": 2},
                "user": "nginx",
                "cap_add": ["NET_ADMIN"],
            }
        }
    )
    spec = plan.step("service:web").container
    assert spec is not None
    assert spec.command == ("nginx", "-g", "daemon off;")
    assert spec.entrypoint == ("/docker-entrypoint.sh",)
    assert spec.environment == (("A", "1"), ("B", "2"))
    assert [(p.host_ip, p.host_port, p.container_port) for p in spec.ports] == [
        ("127.0.0.1", 8080, 80), (None, 443, 443)]
    assert spec.mounts[0].source == "/srv/html" and spec.mounts[0].read_only
    assert spec.healthcheck is not None
    assert spec.healthcheck.test == ("CMD-SHELL", "curl -f localhost")
    assert (spec.healthcheck.interval_s, spec.healthcheck.retries) == (5.0, 2)
    assert (spec.restart, spec.user, spec.cap_add) == ("always", "nginx", ("NET_ADMIN",))
    assert spec.network == "shop_default"


def test_consumer_environment_wins_over_link_variables() -> None:
    plan = plan_of(
        {"db": {"image": "p", "expose": [5432]},
         "app": {"image": "x", "links": ["db"], "environment": {"DB_PORT": "custom"}}}
    )
    spec = plan.step("service:app").container
    assert spec is not None and dict(spec.environment)["DB_PORT"] == "custom"


def test_ambassador_steps_record_the_effective_tls_setting() -> None:
    services = redis_pair()
    services["redis"]["ambassador"] = {"tls": False}
    plan = plan_of(services, TWO_HOSTS, ambassador={"tls": True})
    assert plan.step("ambassador-server:redis").tls is False
    assert plan.step("ambassador-client:redis@b").tls is False
    assert plan_of(redis_pair(), TWO_HOSTS).step("ambassador-server:redis").tls is True


def test_ambassadors_use_the_project_relay_image() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS, ambassador={"image": "my/socat:1"})
    spec = plan.step("ambassador-client:redis@b").container
    assert spec is not None and spec.image == "my/socat:1" and spec.restart == "unless-stopped"


# -- errors -------------------------------------------------------------------------------


def test_cycle_is_an_error_that_prints_the_cycle() -> None:
    errors = errors_of(
        {
            "a": {"image": "x", "links": ["b"], "expose": [1]},
            "b": {"image": "x", "links": ["c"], "expose": [1]},
            "c": {"image": "x", "depends_on": ["a"], "expose": [1]},
        }
    )
    assert errors == ["/srv/t.yaml: services.a.links[0]: dependency cycle: a -> b -> c -> a "
                      "(links and depends_on must not loop)"]


def test_cross_host_link_to_a_target_without_expose_says_what_to_add() -> None:
    services = redis_pair()
    del services["redis"]["expose"]
    [error] = errors_of(services, TWO_HOSTS)
    assert error.startswith("/srv/t.yaml: services.cli.links[0]: 'redis' runs on host a")
    assert "services.redis.expose" in error and "add `expose: [PORT]` to redis" in error


def test_cross_host_link_needs_the_target_hosts_address() -> None:
    [error] = errors_of(redis_pair(), {"a": {}, "b": {"address": "10.0.0.2"}})
    assert error.startswith("/srv/t.yaml: hosts.a.address: needed because 'cli' on host b links to 'redis'")


def test_missing_address_is_reported_once_per_host() -> None:
    services = {**redis_pair(), "db": {"image": "p", "host": "a", "expose": [5432]},
                "app": {"image": "x", "host": "b", "links": ["db"]}}
    errors = errors_of(services, {"a": {}, "b": {"address": "10.0.0.2"}})
    assert len(errors) == 1 and "hosts.a.address" in errors[0]


def test_two_server_ambassadors_on_one_host_port_name_both_and_the_override() -> None:
    services = {
        "r1": {"image": "redis", "host": "a", "expose": [6379]},
        "r2": {"image": "redis", "host": "a", "expose": [6379]},
        "cli": {"image": "redis", "host": "b", "links": ["r1", "r2"]},
    }
    [error] = errors_of(services, TWO_HOSTS)
    assert "services.r2.expose[0]: host a: port 6379/tcp" in error
    assert "server ambassador of 'r1'" in error and "server ambassador of 'r2'" in error
    assert "services.r2.ambassador.publish" in error


def test_publish_override_resolves_the_host_port_clash() -> None:
    services = {
        "r1": {"image": "redis", "host": "a", "expose": [6379]},
        "r2": {"image": "redis", "host": "a", "expose": [6379], "ambassador": {"publish": {6379: 6380}}},
        "cli": {"image": "redis", "host": "b", "links": ["r1", "r2"]},
    }
    plan = plan_of(services, TWO_HOSTS)
    spec = plan.step("ambassador-server:r2").container
    assert spec is not None and spec.ports[0].host_port == 6380


def test_service_port_and_ambassador_on_one_host_port_is_an_error() -> None:
    services = redis_pair()
    services["web"] = {"image": "x", "host": "a", "ports": ["6379:80"]}
    [error] = errors_of(services, TWO_HOSTS)
    assert "services.redis.expose[0]: host a: port 6379/tcp" in error
    assert "services.web.ports[0]" in error and "services.redis.ambassador.publish" in error


def test_service_ports_published_twice_on_one_host_is_an_error() -> None:
    errors = errors_of({"a": {"image": "x", "ports": ["80:80"]}, "b": {"image": "x", "ports": ["80:8080"]}})
    assert errors == ["/srv/t.yaml: services.b.ports[0]: host local: port 80/tcp is already "
                      "published by services.a.ports[0]"]


def test_same_port_on_different_addresses_is_fine() -> None:
    plan = plan_of({"a": {"image": "x", "ports": ["127.0.0.1:80:80"]},
                    "b": {"image": "x", "ports": ["127.0.0.2:80:80"]}})
    assert "service:b" in plan.graph


def test_alias_used_twice_by_one_consumer_is_an_error() -> None:
    errors = errors_of(
        {"db": {"image": "p", "expose": [1]}, "cache": {"image": "r", "expose": [2]},
         "app": {"image": "x", "links": ["db:store", "cache:store"]}}
    )
    assert errors == ["/srv/t.yaml: services.app.links[1]: alias 'store' is already used by links[0]"]


def test_alias_naming_two_targets_on_one_host_is_an_error() -> None:
    services = {
        "db": {"image": "p", "host": "a", "expose": [1]},
        "other": {"image": "p", "host": "b", "expose": [1]},
        "web": {"image": "x", "host": "b", "links": ["db:store"]},
        "job": {"image": "x", "host": "b", "links": ["other:store"]},
    }
    [error] = errors_of(services, TWO_HOSTS)
    assert error.startswith("/srv/t.yaml: services.job.links[0]: 'store' on host b would name both 'other' and 'db'")


def test_alias_shadowing_a_local_service_is_an_error() -> None:
    errors = errors_of({"db": {"image": "p", "expose": [1]}, "cache": {"image": "r", "expose": [2]},
                        "app": {"image": "x", "links": ["cache:db"]}})
    assert len(errors) == 1 and "'db' on host local would name both 'cache' and 'db'" in errors[0]


def test_unknown_link_target_is_a_located_error_not_a_crash() -> None:
    errors = errors_of({"app": {"image": "x", "links": ["dbb"]}})
    assert errors == ["/srv/t.yaml: services.app.links[0]: unknown service 'dbb'"]


def test_all_errors_are_collected() -> None:
    errors = errors_of(
        {"a": {"image": "x", "ports": ["80:80"]}, "b": {"image": "x", "ports": ["80:80"]},
         "app": {"image": "x", "links": ["nope"]}}
    )
    assert len(errors) == 2


def test_errors_are_located_at_file_and_line() -> None:
    services = {"a": {"image": "x", "ports": ["80:80"]}, "b": {"image": "x", "ports": ["80:80"]}}
    the_project = project(services)
    the_project.locations[("services", "b", "ports", 0)] = ("/srv/t.yaml", 7)
    with pytest.raises(ConfigErrors) as caught:
        build_plan(the_project)
    assert str(caught.value.errors[0]).startswith("/srv/t.yaml:7: services.b.ports[0]: ")


def test_plan_graph_is_acyclic_for_a_valid_topology() -> None:
    assert nx.is_directed_acyclic_graph(plan_of(redis_pair(), TWO_HOSTS).graph)
