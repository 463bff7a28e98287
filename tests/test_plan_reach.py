"""Compose's network semantics across hosts, as the planner lays them out: a service reaches
every service it shares a network with, by name and alias, wherever each runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.planning import S, ids
from xcompose.config.model import Service, Topology
from xcompose.config.project import Project
from xcompose.config.syntax import PortSpec
from xcompose.errors import ConfigErrors
from xcompose.pki import Credentials
from xcompose.plan.build import ImagePorts, build_plan, names_host
from xcompose.plan.steps import AMBASSADOR_STEPS, CONTAINER_STEPS, Plan

HOSTS = {"h1": {"address": "10.0.0.1"}, "h2": {"address": "10.0.0.2"}, "h3": {"address": "10.0.0.3"}}


def plan_of(services: dict[str, Any], image_ports: ImagePorts | None = None, **top: Any) -> Plan:
    topology = Topology.model_validate({"hosts": HOSTS, "services": services, **top})
    project = Project(name="shop", topology=topology, files=[Path("/srv/compose.yaml")])
    return build_plan(project, Credentials.none("shop"), image_ports)


def relays(plan: Plan) -> list[str]:
    return sorted(str(s.id) for s in plan.steps() if isinstance(s, AMBASSADOR_STEPS))


def names_on(plan: Plan, step: str) -> dict[str, tuple[str, ...]]:
    found = plan.step(S(step))
    assert isinstance(found, CONTAINER_STEPS)
    return {e.network: e.aliases for e in found.container.networks}


WORDPRESS = {
    "db": {"image": "mariadb:10.6", "host": "h1", "expose": [3306]},
    "wordpress": {"image": "wordpress:6", "host": "h2", "depends_on": ["db"],
                  "environment": {"WORDPRESS_DB_HOST": "db"}},
}


def test_a_service_is_reached_by_name_from_another_host_without_links() -> None:
    plan = plan_of(WORDPRESS)
    assert relays(plan) == ["ambassador-client:db@h2", "ambassador-server:db"]
    assert names_on(plan, "ambassador-client:db@h2") == {"shop_default": ("db",)}
    # Waiting for db means waiting until it can be reached from h2.
    assert S("ambassador-client:db@h2") in plan.after(S("service:wordpress"))


def test_a_service_reaches_another_by_its_alias_on_a_shared_network() -> None:
    services = {
        "db": {"image": "p", "host": "h1", "expose": [5432], "networks": {"back": {"aliases": ["database"]}}},
        "api": {"image": "a", "host": "h2", "networks": ["back"]},
    }
    plan = plan_of(services, networks={"back": {}})
    assert names_on(plan, "ambassador-client:db@h2") == {"shop_back": ("db", "database")}


def test_services_on_networks_they_do_not_share_stay_apart_across_hosts() -> None:
    services = {
        "db": {"image": "p", "host": "h1", "expose": [5432], "networks": ["back"]},
        "web": {"image": "w", "host": "h2", "expose": [80], "networks": ["front"]},
        "api": {"image": "a", "host": "h3", "expose": [8000], "networks": ["front", "back"]},
    }
    plan = plan_of(services, networks={"front": {}, "back": {}})
    assert relays(plan) == [
        "ambassador-client:api@h1", "ambassador-client:api@h2", "ambassador-client:db@h3",
        "ambassador-client:web@h3", "ambassador-server:api", "ambassador-server:db", "ambassador-server:web"]
    # api is on both networks: the relay for it on h1 answers on back only, on h2 on front only.
    assert names_on(plan, "ambassador-client:api@h1") == {"shop_back": ("api",)}
    assert names_on(plan, "ambassador-client:api@h2") == {"shop_front": ("api",)}


def test_each_network_is_made_on_the_hosts_that_join_it() -> None:
    services = {
        "db": {"image": "p", "host": "h1", "networks": ["back"]},
        "web": {"image": "w", "host": "h2", "networks": ["front"]},
    }
    plan = plan_of(services, networks={"front": {}, "back": {}})
    assert ids(s.id for s in plan.steps() if s.id.kind == "network") == ["network:back@h1", "network:front@h2"]


def test_ports_of_a_target_that_declares_none_come_from_its_image() -> None:
    services = {**WORDPRESS, "db": {"image": "mariadb:10.6", "host": "h1"}}
    offline = plan_of(services)
    assert relays(offline) == []
    assert offline.needs_image_ports == {"db": "mariadb:10.6"}
    assert offline.notes == ("'db' declare no port: other hosts reach them on the ports their images expose, "
                             "read when planning against the hosts",)
    online = plan_of(services, {"mariadb:10.6": (PortSpec(port=3306),)})
    assert relays(online) == ["ambassador-client:db@h2", "ambassador-server:db"]
    assert online.notes == ()


def test_a_target_without_declared_ports_that_nobody_names_costs_no_relay() -> None:
    services = {**WORDPRESS, "migrate": {"image": "wordpress:6", "host": "h1", "command": ["wp", "migrate"]}}
    plan = plan_of(services, {"wordpress:6": (PortSpec(port=80),)})
    assert relays(plan) == ["ambassador-client:db@h2", "ambassador-server:db"]


def test_a_target_named_in_the_environment_is_reached_through_its_image_ports() -> None:
    services = {"cache": {"image": "redis:7", "host": "h1"},
                "app": {"image": "a", "host": "h2", "environment": {"REDIS_URL": "redis://cache:6379/0"}}}
    plan = plan_of(services, {"redis:7": (PortSpec(port=6379),)})
    assert relays(plan) == ["ambassador-client:cache@h2", "ambassador-server:cache"]


def test_waiting_for_a_target_that_offers_no_port_is_an_error_once_its_image_is_known() -> None:
    services = {**WORDPRESS, "db": {"image": "mariadb:10.6", "host": "h1"}}
    with pytest.raises(ConfigErrors) as caught:
        plan_of(services, {"mariadb:10.6": ()})
    assert [str(e) for e in caught.value.errors] == [
        "/srv/compose.yaml: services.wordpress.depends_on.db: 'wordpress' on host h2 waits for 'db' on host h1, "
        "which offers no port to reach it by: its image exposes none and it declares none; add `expose: [PORT]` to db"]


def test_an_image_not_on_its_host_yet_is_said_not_refused() -> None:
    services = {**WORDPRESS, "db": {"image": "mariadb:10.6", "host": "h1"}}
    plan = plan_of(services, {"mariadb:10.6": None})
    assert relays(plan) == []
    assert "until their images are pulled: 'db' (mariadb:10.6 is not on host h1 yet)" in plan.notes[0]


def test_a_named_volume_lives_on_one_host() -> None:
    services = {"a": {"image": "x", "host": "h1", "volumes": ["data:/d"]},
                "b": {"image": "x", "host": "h2", "volumes": ["data:/d"]}}
    with pytest.raises(ConfigErrors) as caught:
        plan_of(services, volumes={"data": {}})
    assert [str(e) for e in caught.value.errors] == [
        "/srv/compose.yaml: services.b.volumes[0]: named volume 'data' lives on one host: 'a' uses it on host h1 "
        "and 'b' on host h2; pin both to one host, or give each its own volume"]


def test_sharing_a_network_namespace_needs_one_host() -> None:
    services = {"vpn": {"image": "v", "host": "h1"}, "app": {"image": "a", "host": "h2", "network_mode": "service:vpn"}}
    with pytest.raises(ConfigErrors) as caught:
        plan_of(services)
    assert "'app' shares the network of 'vpn', so both must run on one host" in str(caught.value)
    plan = plan_of({**services, "app": {**services["app"], "host": "h1"}})
    app = plan.step(S("service:app"))
    assert isinstance(app, CONTAINER_STEPS)
    assert app.container.network_mode == "container:shop-vpn" and app.container.networks == ()
    assert S("service:vpn") in plan.after(S("service:app"))


def test_with_reach_used_only_services_that_name_or_wait_for_a_target_bring_it_in() -> None:
    services = {
        "db": {"image": "p", "host": "h1", "expose": [5432]},
        "cache": {"image": "r", "host": "h1", "expose": [6379]},
        "web": {"image": "w", "host": "h2", "environment": {"DATABASE_URL": "postgres://db:5432/app"}},
        "job": {"image": "w", "host": "h3", "depends_on": ["cache"]},
    }
    assert relays(plan_of(services)) == [
        "ambassador-client:cache@h2", "ambassador-client:cache@h3", "ambassador-client:db@h2",
        "ambassador-client:db@h3", "ambassador-server:cache", "ambassador-server:db"]
    assert relays(plan_of(services, ambassador={"reach": "used"})) == [
        "ambassador-client:cache@h3", "ambassador-client:db@h2", "ambassador-server:cache", "ambassador-server:db"]


def test_a_relative_bind_path_for_a_remote_host_says_where_it_is_resolved() -> None:
    services = {"web": {"image": "nginx", "host": "h1", "volumes": ["./html:/usr/share/nginx/html:ro"]}}
    topology = Topology.model_validate({"hosts": {"h1": {"address": "10.0.0.1", "docker": "ssh://root@10.0.0.1"}},
                                        "services": services})
    project = Project(name="shop", topology=topology, files=[Path("/srv/compose.yaml")])
    plan = build_plan(project, Credentials.none("shop"))
    assert plan.notes == ("/srv/compose.yaml: services.web.volumes[0]: ./html is this machine's /srv/html, but 'web' "
                          "runs on host h1: the folder must exist there at that path",)
    assert plan_of(services).notes == ()  # h1 without a docker URL: this machine's engine


@pytest.mark.parametrize(("environment", "command", "named"), [
    ({"WORDPRESS_DB_HOST": "db"}, None, True),
    ({"DB_HOST": "db:3306"}, None, True),
    ({"DATABASE_URL": "postgres://app:pw@db/app"}, None, True),
    ({"CACHE": "redis://db:6379/0"}, None, True),
    ({"UPSTREAM": "db"}, None, True),
    ({"MYSQL_DATABASE": "db"}, None, False),
    ({"GREETING": "hello db"}, None, False),
    ({}, "redis-cli -h db ping", True),
    ({}, ["wait-for", "db:5432", "--", "run"], True),
    ({}, "echo db", False),
])
def test_a_host_is_named_by_a_url_a_port_or_a_variable_that_holds_a_host(
    environment: dict[str, str], command: str | list[str] | None, named: bool,
) -> None:
    consumer = Service.model_validate({"image": "x", "environment": environment, "command": command})
    assert names_host({"db"}, consumer) is named
