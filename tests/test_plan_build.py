"""The planner: steps, edges, container specs and every error class it reports."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.planning import S, edge, ids, step_ids
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.errors import ConfigErrors
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.naming import LABEL_HOST, LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE
from xcompose.plan.specs import (
    ContainerSpec,
    Device,
    Endpoint,
    HealthSpec,
    Mount,
    PortBinding,
    RelaySetup,
    Ulimit,
)
from xcompose.plan.steps import (
    AMBASSADOR_STEPS,
    CONTAINER_STEPS,
    ClientAmbassadorStep,
    Plan,
    ServerAmbassadorStep,
    ServiceStep,
    VolumeStep,
)

TWO_HOSTS = {"a": {"address": "10.0.0.1"}, "b": {"address": "10.0.0.2"}}
THREE_HOSTS = {**TWO_HOSTS, "c": {"address": "10.0.0.3"}}


def project(services: dict[str, Any], hosts: dict[str, Any] | None = None, **extra: Any) -> Project:
    data: dict[str, Any] = {"services": services, **extra}
    if hosts is not None:
        data["hosts"] = hosts
    return Project(name="shop", topology=Topology.model_validate(data), files=[Path("/srv/t.yaml")])


def plan_of(services: dict[str, Any], hosts: dict[str, Any] | None = None, **extra: Any) -> Plan:
    return build_plan(project(services, hosts, **extra), Credentials.none("shop"))


def errors_of(services: dict[str, Any], hosts: dict[str, Any] | None = None, **extra: Any) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        plan_of(services, hosts, **extra)
    return [str(e) for e in caught.value.errors]


def container(plan: Plan, text: str) -> ContainerSpec:
    step = plan.step(S(text))
    assert isinstance(step, CONTAINER_STEPS)
    return step.container


def relay(plan: Plan, text: str) -> RelaySetup:
    step = plan.step(S(text))
    assert isinstance(step, AMBASSADOR_STEPS)
    return step.relay


def redis_pair(**client: Any) -> dict[str, Any]:
    return {
        "redis": {"image": "redis:7", "host": "a", "expose": [6379]},
        "cli": {"image": "redis:7", "host": "b", "links": ["redis"], **client},
    }


# -- shape of the graph -------------------------------------------------------------------


def test_cross_host_link_orders_service_server_client_consumer() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    path = ["service:redis", "ambassador-server:redis", "ambassador-client:redis@b", "service:cli"]
    assert all(edge(plan, x, y) for x, y in pairwise(path))
    assert [plan.step(S(s)).host for s in path] == ["a", "a", "b", "b"]


def test_every_container_step_waits_for_its_hosts_network() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    for step in plan.steps():
        if isinstance(step, CONTAINER_STEPS):
            assert f"network:{step.host}" in ids(plan.after(step.id))


def test_same_host_link_has_no_ambassador() -> None:
    plan = plan_of(
        {"db": {"image": "p", "expose": [5432]}, "app": {"image": "x", "links": ["db:db1"]}}
    )
    assert step_ids(plan) == ["network:local", "service:app", "service:db"]
    assert edge(plan, "service:db", "service:app")


def test_file_without_hosts_runs_on_the_implicit_local_host() -> None:
    plan = plan_of({"db": {"image": "p"}})
    assert list(plan.hosts) == ["local"]
    assert plan.hosts["local"].docker is None
    assert plan.step(S("service:db")).host == "local"


def test_one_server_ambassador_serves_consumers_on_two_hosts() -> None:
    services = {
        "db": {"image": "p", "host": "a", "expose": [5432]},
        "web": {"image": "x", "host": "b", "links": ["db"]},
        "job": {"image": "x", "host": "c", "links": ["db"]},
    }
    plan = plan_of(services, THREE_HOSTS)
    kinds = [str(s.id) for s in plan.steps() if isinstance(s, AMBASSADOR_STEPS)]
    assert sorted(kinds) == ["ambassador-client:db@b", "ambassador-client:db@c", "ambassador-server:db"]
    assert ids(plan.after(S("ambassador-client:db@c"))) == ["ambassador-server:db", "network:c"]


def test_one_client_ambassador_serves_two_consumers_on_one_host() -> None:
    services = {
        "db": {"image": "p", "host": "a", "expose": [5432]},
        "web": {"image": "x", "host": "b", "links": ["db:database"]},
        "job": {"image": "x", "host": "b", "links": ["db:pg"]},
    }
    plan = plan_of(services, TWO_HOSTS)
    clients = [s for s in plan.steps() if isinstance(s, ClientAmbassadorStep)]
    assert ids(c.id for c in clients) == ["ambassador-client:db@b"]
    assert [e.aliases for e in clients[0].container.networks] == [("db",)]
    assert ids(plan.dependents(S("ambassador-client:db@b"))) == ["service:job", "service:web"]


def test_a_link_alias_is_the_consumers_own() -> None:
    services = {
        "db": {"image": "p", "host": "a", "expose": [5432]},
        "web": {"image": "x", "host": "b", "links": ["db:database"]},
        "job": {"image": "x", "host": "b", "links": ["db:pg"]},
    }
    plan = plan_of(services, TWO_HOSTS)
    assert [e.links for e in container(plan, "service:web").networks] == [("db:database",)]
    assert [e.links for e in container(plan, "service:job").networks] == [("db:pg",)]


def test_depends_on_orders_without_ambassador() -> None:
    plan = plan_of(
        {"migrate": {"image": "x", "host": "a"}, "app": {"image": "x", "host": "b", "depends_on": ["migrate"]}},
        TWO_HOSTS,
    )
    assert edge(plan, "service:migrate", "service:app")
    assert not any(isinstance(s, AMBASSADOR_STEPS) for s in plan.steps())


def test_volume_step_only_on_hosts_whose_services_use_it() -> None:
    plan = plan_of(
        {"db": {"image": "p", "host": "a", "volumes": ["data:/var/lib/db"]}, "web": {"image": "x", "host": "b"}},
        TWO_HOSTS,
        volumes={"data": {}},
    )
    assert [str(s.id) for s in plan.steps() if isinstance(s, VolumeStep)] == ["volume:data@a"]
    volume = plan.step(S("volume:data@a"))
    assert isinstance(volume, VolumeStep) and volume.volume.name == "shop_data"
    assert "volume:data@a" in ids(plan.after(S("service:db")))


def test_external_volume_keeps_its_name_and_gets_no_step() -> None:
    plan = plan_of({"db": {"image": "p", "volumes": ["data:/d"]}}, volumes={"data": {"external": True}})
    assert not any(isinstance(s, VolumeStep) for s in plan.steps())
    assert container(plan, "service:db").mounts[0].source == "data"


def test_waves_put_each_step_after_all_its_predecessors() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    wave = {s.id: i for i, steps in enumerate(plan.waves()) for s in steps}
    assert all(wave[u] < wave[v] for u, v in plan.edges())
    assert wave[S("service:cli")] == 4


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
        spec = container(plan, step_id)
        labels = dict(spec.labels)
        assert spec.name == name
        assert (labels[LABEL_PROJECT], labels[LABEL_SERVICE], labels[LABEL_ROLE], labels[LABEL_HOST]) == (
            "shop", service, role, host)
    cli = container(plan, "service:cli")
    assert dict(cli.labels)["team"] == "ops"


def test_server_ambassador_publishes_on_the_host_address_only() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    spec = container(plan, "ambassador-server:redis")
    [binding] = spec.ports
    assert (binding.host_ip, binding.host_port, binding.container_port) == ("10.0.0.1", 6379, 6379)
    [port] = relay(plan, "ambassador-server:redis").ports
    assert (port.listen_port, port.to_host, port.to_port) == (6379, "redis", 6379)


def test_client_ambassador_relays_to_the_published_port() -> None:
    services = redis_pair()
    services["redis"]["ambassador"] = {"publish": {6379: 16379}}
    plan = plan_of(services, TWO_HOSTS)
    [port] = relay(plan, "ambassador-client:redis@b").ports
    assert (port.listen_port, port.to_host, port.to_port) == (6379, "10.0.0.1", 16379)
    spec = container(plan, "ambassador-client:redis@b")
    assert spec.expose == ((6379, "tcp"),)


def test_a_link_reaches_its_target_by_service_name_wherever_it_runs() -> None:
    def app_spec(db_host: str) -> ContainerSpec:
        services = {"db": {"image": "p", "host": db_host, "expose": [5432]},
                    "app": {"image": "x", "host": "b", "links": ["db:db1"]}}
        return container(plan_of(services, TWO_HOSTS), "service:app")

    assert app_spec("a") == app_spec("b")
    assert app_spec("a").networks[0].links == ("db:db1",)


def test_consumer_spec_is_the_same_whether_target_is_local_or_remote() -> None:
    def consumer_hash(target_host: str) -> str:
        services = {
            "db": {"image": "p", "host": target_host, "expose": [5432], "environment": {"A": "1"}},
            "app": {"image": "x", "host": "b", "links": ["db:db1"]},
        }
        spec = container(plan_of(services, TWO_HOSTS), "service:app")
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
    spec = container(plan, "service:web")
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
    assert [e.network for e in spec.networks] == ["shop_default"]


def test_service_spec_carries_the_container_options() -> None:
    spec = container(plan_of({"web": {
        "image": "nginx", "stop_signal": "SIGQUIT", "stop_grace_period": "1500ms", "stdin_open": True, "tty": True,
        "init": True, "read_only": True, "sysctls": {"net.core.somaxconn": 1024}, "ulimits": {"nofile": 1024},
        "shm_size": "64m", "tmpfs": ["/run:size=16m", "/tmp"], "extra_hosts": ["db=10.0.0.5"], "dns": "9.9.9.9",
        "dns_search": "x.test", "dns_opt": ["ndots:2"], "devices": ["/dev/zero:/dev/xzero:r"],
        "security_opt": ["no-new-privileges:true"], "mem_limit": "64m", "memswap_limit": "128m",
        "mem_reservation": "32m", "cpus": 0.5, "cpu_shares": 512, "cpuset": "0", "pids_limit": 100,
        "oom_score_adj": 200, "logging": {"driver": "json-file", "options": {"max-size": "5m"}}, "pid": "host",
        "ipc": "shareable", "platform": "linux/amd64", "runtime": "runc", "group_add": [123],
        "domainname": "example.org", "mac_address": "02:42:ac:11:00:99", "userns_mode": "host",
        "cgroup_parent": "/xc", "cgroup": "host", "container_name": "web",
    }}), "service:web")
    assert (spec.name, spec.stop_signal, spec.stop_timeout) == ("web", "SIGQUIT", 2)  # rounded up
    assert (spec.stdin_open, spec.tty, spec.init, spec.read_only) == (True, True, True, True)
    assert spec.sysctls == (("net.core.somaxconn", "1024"),)
    assert spec.ulimits == (Ulimit("nofile", 1024, 1024),)
    assert spec.tmpfs == (("/run", "size=16m"), ("/tmp", ""))
    assert (spec.extra_hosts, spec.dns, spec.dns_search, spec.dns_opt) == (
        ("db:10.0.0.5",), ("9.9.9.9",), ("x.test",), ("ndots:2",))
    assert spec.devices == (Device("/dev/zero", "/dev/xzero", "r"),)
    assert (spec.shm_size, spec.mem_limit, spec.memswap_limit, spec.mem_reservation) == (
        64 * 2**20, 64 * 2**20, 128 * 2**20, 32 * 2**20)
    assert (spec.nano_cpus, spec.cpu_shares, spec.cpuset, spec.pids_limit, spec.oom_score_adj) == (
        500_000_000, 512, "0", 100, 200)
    assert (spec.log_driver, spec.log_options) == ("json-file", (("max-size", "5m"),))
    assert (spec.pid, spec.ipc, spec.platform, spec.runtime, spec.group_add) == (
        "host", "shareable", "linux/amd64", "runc", ("123",))
    assert (spec.domainname, spec.mac_address, spec.userns_mode, spec.cgroup_parent, spec.cgroupns) == (
        "example.org", "02:42:ac:11:00:99", "host", "/xc", "host")


def test_volume_options_reach_the_mounts() -> None:
    spec = container(plan_of({"app": {"image": "a", "volumes": [
        "./conf:/conf:ro,Z,rshared", "data:/data:nocopy",
        {"type": "bind", "source": "/srv", "target": "/srv", "bind": {"create_host_path": False}},
        {"type": "tmpfs", "target": "/scratch", "tmpfs": {"size": "16m", "mode": 0o1777}},
    ]}}, volumes={"data": None}), "service:app")
    conf, data, srv, scratch = spec.mounts
    assert (conf.source, conf.read_only, conf.selinux, conf.propagation) == ("/srv/conf", True, "Z", "rshared")
    assert conf.as_bind() == "/srv/conf:/conf:ro,Z,rshared"
    assert (data.source, data.no_copy, data.as_bind()) == ("shop_data", True, None)
    assert (srv.create_host_path, srv.as_bind()) == (False, None)
    assert (scratch.tmpfs_size, scratch.tmpfs_mode) == (16 * 2**20, 0o1777)


def test_a_spec_without_the_new_options_keeps_its_hash() -> None:
    """Containers made before the container options existed are kept by the next `up`."""
    spec = ContainerSpec(
        name="shop-db", image="redis:7", networks=(Endpoint("shop_default", ("db",)),),
        mounts=(Mount("volume", "shop_data", "/data"), Mount("bind", "/srv", "/srv", True), Mount("tmpfs", None, "/t")),
        ports=(PortBinding(6379, "tcp", 16379, "10.0.0.1"),), healthcheck=HealthSpec(("CMD", "x")), restart="always",
    )
    assert spec.config_hash() == "d6a44232235a16af60bdb28d8ea3e9c669b6a883810e867b676e8484f3e3c531"
    assert dataclasses.replace(spec, tty=True).config_hash() != spec.config_hash()
    moved = dataclasses.replace(spec, mounts=(dataclasses.replace(spec.mounts[0], no_copy=True), *spec.mounts[1:]))
    assert moved.config_hash() != spec.config_hash()


def test_a_stamped_spec_differs_from_its_original_by_the_stamp_alone() -> None:
    spec = ContainerSpec(name="shop-db", image="redis:7", labels=(("tier", "db"),), restart="always")
    stamp = (("io.xcompose.applied-by", "ops@console"),)
    stamped = spec.stamped(stamp)
    assert stamped == dataclasses.replace(spec, stamp=stamp) and spec.stamp == ()
    assert stamped.config_hash() == spec.config_hash()
    assert stamped.labels_with_hash()["io.xcompose.applied-by"] == "ops@console"


def test_deploy_resources_stand_in_for_the_service_keys() -> None:
    deploy = {"resources": {"limits": {"cpus": "1.5", "memory": "300M", "pids": 50},
                            "reservations": {"memory": "100M"}}}
    spec = container(plan_of({"app": {"image": "a", "deploy": deploy}}), "service:app")
    assert (spec.nano_cpus, spec.mem_limit, spec.pids_limit, spec.mem_reservation) == (
        1_500_000_000, 300 * 2**20, 50, 100 * 2**20)
    own = container(plan_of({"app": {"image": "a", "deploy": deploy, "mem_limit": "300m", "cpus": 1.5}}), "service:app")
    assert (own.mem_limit, own.nano_cpus) == (300 * 2**20, 1_500_000_000)


def test_service_keys_and_deploy_resources_must_agree() -> None:
    errors = errors_of({"app": {"image": "a", "mem_limit": "1g",
                                "deploy": {"resources": {"limits": {"memory": "2g"}}}}})
    assert errors == ["/srv/t.yaml: services.app.deploy.resources.limits.memory: deploy.resources.limits.memory is "
                      "2147483648 but mem_limit is 1073741824; they must agree (or set only one)"]


def test_a_swap_limit_needs_a_memory_limit_below_it() -> None:
    assert errors_of({"app": {"image": "a", "memswap_limit": "1g"}}) == [
        "/srv/t.yaml: services.app.memswap_limit: a swap limit needs a memory limit: set mem_limit too"]
    assert "cannot be below mem_limit" in errors_of({"app": {"image": "a", "mem_limit": "2g",
                                                             "memswap_limit": "1g"}})[0]
    assert container(plan_of({"app": {"image": "a", "memswap_limit": -1}}), "service:app").memswap_limit == -1


def test_a_hostname_constraint_places_the_service_on_that_host() -> None:
    services = {"db": {"image": "p", "deploy": {"placement": {"constraints": ["node.hostname == b"]}}}}
    assert plan_of(services, TWO_HOSTS).step(S("service:db")).host == "b"


def test_ipc_pid_and_volumes_from_name_the_other_container_and_wait_for_it() -> None:
    plan = plan_of({
        "db": {"image": "p", "host": "a", "ipc": "shareable", "container_name": "the-db"},
        "data": {"image": "d", "host": "a"},
        "app": {"image": "x", "host": "a", "ipc": "service:db", "pid": "service:db",
                "volumes_from": ["data:ro", "container:elsewhere", "db"]},
    }, TWO_HOSTS)
    app = container(plan, "service:app")
    assert (app.ipc, app.pid) == ("container:the-db", "container:the-db")
    assert app.volumes_from == ("shop-data:ro", "elsewhere", "the-db")
    assert edge(plan, "service:db", "service:app") and edge(plan, "service:data", "service:app")


def test_a_namespace_or_volumes_are_shared_on_one_host_only() -> None:
    errors = errors_of({
        "db": {"image": "p", "host": "a"},
        "app": {"image": "x", "host": "b", "ipc": "service:db", "volumes_from": ["db:ro"]},
    }, TWO_HOSTS)
    assert errors == [
        "/srv/t.yaml: services.app.ipc: 'app' shares the IPC namespace of 'db', so both must run on one host, "
        "but 'app' is on host b and 'db' on host a",
        "/srv/t.yaml: services.app.volumes_from[0]: 'app' mounts the volumes of 'db', so both must run on one "
        "host, but 'app' is on host b and 'db' on host a",
    ]


def test_container_name_is_used_and_names_the_link_variables() -> None:
    plan = plan_of({"db": {"image": "p", "expose": [5432]},
                    "app": {"image": "x", "container_name": "shop-frontend", "links": ["db"]}})
    app = container(plan, "service:app")
    assert app.name == "shop-frontend"
    assert dict(app.environment)["DB_NAME"] == "/shop-frontend/db"


def test_a_container_name_is_unique_on_its_host() -> None:
    services = {
        "a1": {"image": "x", "host": "a", "container_name": "web"},
        "a2": {"image": "x", "host": "a", "container_name": "web"},
        "b1": {"image": "x", "host": "b", "container_name": "web"},  # another host: fine
        "a3": {"image": "x", "host": "a", "container_name": "shop-a4"},
        "a4": {"image": "x", "host": "a"},
    }
    assert errors_of(services, TWO_HOSTS) == [
        "/srv/t.yaml: services.a2.container_name: container name 'web' on host a is taken by both service 'a1' "
        "and service 'a2'; container names must be unique on a host",
        "/srv/t.yaml: services.a3.container_name: container name 'shop-a4' on host a is taken by both service "
        "'a3' and service 'a4'; container names must be unique on a host",
    ]


def test_a_container_name_may_not_take_an_ambassadors_name() -> None:
    services = {**redis_pair(), "x": {"image": "x", "host": "a", "container_name": "shop-redis-ambassador"}}
    assert errors_of(services, TWO_HOSTS) == [
        "/srv/t.yaml: services.x.container_name: container name 'shop-redis-ambassador' on host a is taken by "
        "both service 'x' and the server ambassador of 'redis'; container names must be unique on a host"]


def test_consumer_environment_wins_over_link_variables() -> None:
    plan = plan_of(
        {"db": {"image": "p", "expose": [5432]},
         "app": {"image": "x", "links": ["db"], "environment": {"DB_PORT": "custom"}}}
    )
    spec = container(plan, "service:app")
    assert dict(spec.environment)["DB_PORT"] == "custom"


def test_ambassador_steps_record_the_effective_tls_setting() -> None:
    services = redis_pair()
    services["redis"]["ambassador"] = {"tls": False}
    plan = plan_of(services, TWO_HOSTS, ambassador={"tls": True})
    assert relay(plan, "ambassador-server:redis").tls is False
    assert relay(plan, "ambassador-client:redis@b").tls is False
    assert relay(plan_of(redis_pair(), TWO_HOSTS), "ambassador-server:redis").tls is True


def test_ambassadors_use_the_project_relay_image() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS, ambassador={"image": "my/socat:1"})
    spec = container(plan, "ambassador-client:redis@b")
    assert spec.image == "my/socat:1" and spec.restart == "unless-stopped"


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


def test_cross_host_link_to_a_target_without_any_port_says_what_to_add() -> None:
    services = redis_pair()
    del services["redis"]["expose"]
    with pytest.raises(ConfigErrors) as caught:
        build_plan(project(services, TWO_HOSTS), Credentials.none("shop"), {"redis:7": ()})
    [error] = map(str, caught.value.errors)
    assert error.startswith("/srv/t.yaml: services.cli.links[0]: 'redis' runs on host a")
    assert "neither redis nor its image offers one" in error and "add `expose: [PORT]` to redis" in error


def test_cross_host_link_to_a_target_without_a_declared_port_waits_for_its_image() -> None:
    services = redis_pair()
    del services["redis"]["expose"]
    plan = plan_of(services, TWO_HOSTS)
    assert plan.needs_image_ports == {"redis": "redis:7"}
    assert any("'redis'" in note and "images expose" in note for note in plan.notes)


def test_cross_host_link_to_a_target_of_unknown_ports_waits_for_the_target_itself() -> None:
    services = redis_pair()
    del services["redis"]["expose"]
    plan = plan_of(services, TWO_HOSTS)
    assert ids(plan.after(S("service:cli"))) == ["network:b", "service:redis"]
    assert not [step for step in plan.steps() if step.id.kind.startswith("ambassador")]


def test_cross_host_link_needs_the_target_hosts_address() -> None:
    [error] = errors_of(redis_pair(), {"a": {}, "b": {"address": "10.0.0.2"}})
    assert error.startswith("/srv/t.yaml: hosts.a.address: needed because 'redis' on host a is reached from host b")


def test_missing_address_is_reported_once_per_host() -> None:
    services = {**redis_pair(), "db": {"image": "p", "host": "a", "expose": [5432]},
                "app": {"image": "x", "host": "b", "links": ["db"]}}
    errors = errors_of(services, {"a": {}, "b": {"address": "10.0.0.2"}})
    assert len(errors) == 1 and "hosts.a.address" in errors[0]


def test_two_targets_of_one_port_on_one_host_get_their_own_host_ports() -> None:
    services = {
        "r1": {"image": "redis", "host": "a", "expose": [6379]},
        "r2": {"image": "redis", "host": "a", "expose": [6379]},
        "cli": {"image": "redis", "host": "b", "links": ["r1", "r2"]},
    }
    plan = plan_of(services, TWO_HOSTS)
    r1, r2 = (container(plan, f"ambassador-server:{t}").ports[0].host_port for t in ("r1", "r2"))
    assert r1 == 6379 and r2 is not None and 20000 <= r2 < 60000
    assert relay(plan, "ambassador-client:r2@b").ports[0].to_port == r2
    # The same on every run: the number comes from the target's name and port.
    assert container(plan_of(services, TWO_HOSTS), "ambassador-server:r2").ports[0].host_port == r2


def test_a_chosen_host_port_that_is_taken_is_an_error() -> None:
    services = {
        "r1": {"image": "redis", "host": "a", "expose": [6379]},
        "r2": {"image": "redis", "host": "a", "expose": [6379], "ambassador": {"publish": {6379: 80}}},
        "web": {"image": "x", "host": "a", "ports": ["80:8080"]},
        "cli": {"image": "redis", "host": "b", "links": ["r1", "r2"]},
    }
    assert errors_of(services, TWO_HOSTS) == [
        "/srv/t.yaml: services.r2.ambassador.publish.6379: host a: port 80/tcp is already published by "
        "services.web.ports[0]"]


def test_publish_override_resolves_the_host_port_clash() -> None:
    services = {
        "r1": {"image": "redis", "host": "a", "expose": [6379]},
        "r2": {"image": "redis", "host": "a", "expose": [6379], "ambassador": {"publish": {6379: 6380}}},
        "cli": {"image": "redis", "host": "b", "links": ["r1", "r2"]},
    }
    plan = plan_of(services, TWO_HOSTS)
    spec = container(plan, "ambassador-server:r2")
    assert spec.ports[0].host_port == 6380


def test_a_service_port_keeps_its_number_and_the_ambassador_takes_another() -> None:
    services = redis_pair()
    services["web"] = {"image": "x", "host": "a", "ports": ["6379:80"]}
    plan = plan_of(services, TWO_HOSTS)
    assert container(plan, "service:web").ports[0].host_port == 6379
    assert container(plan, "ambassador-server:redis").ports[0].host_port != 6379


def test_service_ports_published_twice_on_one_host_is_an_error() -> None:
    errors = errors_of({"a": {"image": "x", "ports": ["80:80"]}, "b": {"image": "x", "ports": ["80:8080"]}})
    assert errors == ["/srv/t.yaml: services.b.ports[0]: host local: port 80/tcp is already "
                      "published by services.a.ports[0]"]


def test_same_port_on_different_addresses_is_fine() -> None:
    plan = plan_of({"a": {"image": "x", "ports": ["127.0.0.1:80:80"]},
                    "b": {"image": "x", "ports": ["127.0.0.2:80:80"]}})
    assert S("service:b") in plan


def test_alias_used_twice_by_one_consumer_is_an_error() -> None:
    errors = errors_of(
        {"db": {"image": "p", "expose": [1]}, "cache": {"image": "r", "expose": [2]},
         "app": {"image": "x", "links": ["db:store", "cache:store"]}}
    )
    assert errors == ["/srv/t.yaml: services.app.links[1]: alias 'store' is already used by links[0]"]


def test_two_consumers_on_one_host_may_give_one_alias_to_two_targets() -> None:
    services = {
        "db": {"image": "p", "host": "a", "expose": [1]},
        "other": {"image": "p", "host": "b", "expose": [1]},
        "web": {"image": "x", "host": "b", "links": ["db:store"]},
        "job": {"image": "x", "host": "b", "links": ["other:store"]},
    }
    plan = plan_of(services, TWO_HOSTS)
    assert container(plan, "service:web").networks[0].links == ("db:store",)
    assert container(plan, "service:job").networks[0].links == ("other:store",)


def test_a_network_alias_naming_another_service_on_the_host_is_an_error() -> None:
    errors = errors_of({"db": {"image": "p"}, "cache": {"image": "r", "networks": {"default": {"aliases": ["db"]}}}})
    assert errors == ["/srv/t.yaml: services.cache.networks.default: 'db' on network shop_default of host "
                      "local would name both 'cache' and 'db' (service 'db' runs there); use another alias"]


def test_all_errors_are_collected() -> None:
    errors = errors_of(
        {"a": {"image": "x", "ports": ["80:80"]}, "b": {"image": "x", "ports": ["80:80"]},
         "db": {"image": "p", "expose": [1]}, "app": {"image": "x", "links": ["db:x", "db:x"]}}
    )
    assert len(errors) == 2


def test_errors_are_located_at_file_and_line() -> None:
    services = {"a": {"image": "x", "ports": ["80:80"]}, "b": {"image": "x", "ports": ["80:80"]}}
    the_project = project(services)
    the_project.locations[("services", "b", "ports", 0)] = ("/srv/t.yaml", 7)
    with pytest.raises(ConfigErrors) as caught:
        build_plan(the_project, Credentials.none("shop"))
    assert str(caught.value.errors[0]).startswith("/srv/t.yaml:7: services.b.ports[0]: ")


def test_plan_of_a_valid_topology_orders_every_step() -> None:
    plan = plan_of(redis_pair(), TWO_HOSTS)
    order = {step.id: index for index, step in enumerate(plan.steps())}
    assert len(order) == len(plan) and all(order[u] < order[v] for u, v in plan.edges())


def udp_pair(**ambassador: Any) -> dict[str, Any]:
    return {
        "ns": {"image": "ns:1", "host": "a", "expose": [8053, "53/udp"], "ambassador": ambassador},
        "app": {"image": "x", "host": "b", "links": ["ns"]},
        "job": {"image": "x", "host": "b", "links": ["ns:dns"]},
    }


def test_a_udp_port_crossing_hosts_with_tls_on_is_refused_once_with_the_fix() -> None:
    [error] = errors_of(udp_pair(), TWO_HOSTS)
    assert error.startswith("/srv/t.yaml: services.ns.expose[1]: 53/udp would cross hosts")
    assert "encrypt TCP only" in error and "tls: false, image: alpine/socat:latest" in error


def test_a_udp_port_crossing_hosts_through_haproxy_is_refused() -> None:
    [error] = errors_of(udp_pair(tls=False), TWO_HOSTS)
    assert "haproxy relay carries TCP only" in error and "image: alpine/socat:latest" in error


def test_a_udp_port_crosses_hosts_through_socat_without_tls() -> None:
    plan = plan_of(udp_pair(tls=False, image="alpine/socat:latest"), TWO_HOSTS)
    server = relay(plan, "ambassador-server:ns")
    assert server.kind == "socat" and not server.tls
    assert [(p.listen_port, p.protocol) for p in server.ports] == [(53, "udp"), (8053, "tcp")]


def test_a_udp_port_on_the_same_host_needs_no_relay() -> None:
    services = udp_pair()
    services["app"]["host"] = services["job"]["host"] = "a"
    assert not any(isinstance(s, AMBASSADOR_STEPS) for s in plan_of(services, TWO_HOSTS).steps())


# -- replicas -----------------------------------------------------------------------------


def test_scale_or_deploy_replicas_give_the_service_step_its_replicas() -> None:
    for key in ({"scale": 3}, {"deploy": {"replicas": 3}}, {"scale": 3, "deploy": {"replicas": 3}}):
        step = plan_of({"api": {"image": "a", **key}}).step(S("service:api"))
        assert isinstance(step, ServiceStep) and step.replicas == 3


def test_a_server_ambassador_balances_over_the_targets_replicas() -> None:
    services = redis_pair()
    services["redis"]["scale"] = 2
    step = plan_of(services, TWO_HOSTS).step(S("ambassador-server:redis"))
    assert isinstance(step, ServerAmbassadorStep)
    assert b"server-template relay 2 redis:6379" in b"".join(f.data for f in step.relay.files)


@pytest.mark.parametrize(("service", "wanted"), [
    ({"scale": 2, "deploy": {"replicas": 3}}, "services.api.scale: scale is 2 but deploy.replicas is 3; they must agree"),
    ({"scale": 2, "container_name": "api"}, "services.api.container_name: 'api' runs 2 containers, and a "
                                            "container_name names one"),
    ({"scale": 2, "ports": ["8080:80"]}, "services.api.ports[0]: host port 8080 can be published by one "
                                         "container, and 'api' runs 2"),
    ({"scale": 3, "ports": ["8080-8081:80"]}, "services.api.ports[0]: host ports 8080-8081 can be published by 2 "
                                              "containers, and 'api' runs 3"),
])
def test_replicas_that_cannot_run_side_by_side_are_refused(service: dict[str, Any], wanted: str) -> None:
    [error] = errors_of({"api": {"image": "a", **service}})
    assert wanted in error


def test_replicas_publish_a_range_of_host_ports_each_taking_one() -> None:
    spec = container(plan_of({"api": {"image": "a", "scale": 3, "ports": ["6005-6007:80"]}}), "service:api")
    [binding] = spec.ports
    assert binding.host_ports == "6005-6007"


def test_a_host_port_range_clashes_with_a_port_inside_it() -> None:
    [error] = errors_of({"a": {"image": "a", "ports": ["6005-6015:80"]}, "b": {"image": "b", "ports": ["6010:80"]}})
    assert "services.b.ports[0]: host" in error and "port 6010/tcp is already published by services.a.ports[0]" in error
