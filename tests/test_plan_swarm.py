"""The swarm plan: overlays, secrets and configs, services pinned to their hosts' nodes,
in the order plain engines use, and what Swarm services cannot do refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xcompose.config.project import Project
from xcompose.errors import ConfigErrors
from xcompose.plan.swarm import build_swarm_plan, manager_of, resolved_endpoint_mode
from xcompose.plan.swarm_steps import OverlaySpec, SwarmObjectSpec, SwarmPlan, SwarmServiceSpec

Load = Callable[..., Project]

HEAD = """\
name: shop
engine: swarm
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
"""

REDIS = HEAD + """\
services:
  redis:
    image: redis:7
    host: h1
    expose: [6379]
    healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 1s}
  cli:
    image: redis:7
    host: h2
    links: ["redis:cache"]
"""


def service(plan: SwarmPlan, name: str) -> SwarmServiceSpec:
    spec = plan.step(f"service:{name}").spec
    assert isinstance(spec, SwarmServiceSpec)
    return spec


def errors_of(load_text: Load, text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        build_swarm_plan(load_text(text))
    return [str(e) for e in info.value.errors]


def test_services_run_in_the_order_of_their_links_without_ambassadors(load_text: Load) -> None:
    plan = build_swarm_plan(load_text(REDIS))
    assert [[step.id for step in wave] for wave in plan.waves()] == [
        ["overlay:default"], ["service:redis"], ["service:cli"]]


def test_each_service_is_pinned_to_the_node_labelled_with_its_host(load_text: Load) -> None:
    plan = build_swarm_plan(load_text(REDIS))
    assert service(plan, "redis").constraint == "node.labels.io.xcompose.host == h1"
    assert service(plan, "cli").constraint == "node.labels.io.xcompose.host == h2"


def test_a_project_network_is_one_attachable_overlay_encrypted_by_default(load_text: Load) -> None:
    overlay = build_swarm_plan(load_text(REDIS)).step("overlay:default").spec
    assert isinstance(overlay, OverlaySpec)
    assert (overlay.name, overlay.encrypted) == ("shop_default", True)


def test_encryption_is_off_when_the_file_says_so(load_text: Load) -> None:
    text = REDIS.replace("engine: swarm\n", "engine: swarm\nswarm: {encrypted: false}\n")
    overlay = build_swarm_plan(load_text(text)).step("overlay:default").spec
    assert isinstance(overlay, OverlaySpec) and not overlay.encrypted


def test_a_link_gives_the_legacy_variables_and_its_alias_names_the_target(load_text: Load) -> None:
    plan = build_swarm_plan(load_text(REDIS))
    env = dict(service(plan, "cli").environment)
    assert env["CACHE_PORT_6379_TCP"] == "tcp://cache:6379"
    assert env["CACHE_PORT_6379_TCP_ADDR"] == "cache"
    assert service(plan, "redis").networks == (("shop_default", ("cache", "redis")),)


def test_a_link_across_hosts_to_a_service_without_ports_is_no_error(load_text: Load) -> None:
    plan = build_swarm_plan(load_text(REDIS.replace("    expose: [6379]\n", "")))
    assert "CACHE_NAME" in dict(service(plan, "cli").environment)


def test_replicas_come_from_scale_or_deploy(load_text: Load) -> None:
    text = REDIS.replace("    host: h2\n", "    host: h2\n    deploy: {replicas: 3}\n")
    assert service(build_swarm_plan(load_text(text)), "cli").replicas == 3


def test_the_healthcheck_is_carried_over(load_text: Load) -> None:
    health = service(build_swarm_plan(load_text(REDIS)), "redis").healthcheck
    assert health is not None and (health.test, health.interval_s) == (("CMD", "redis-cli", "ping"), 1.0)


def test_a_secret_becomes_a_swarm_secret_named_by_its_content(load_text: Load) -> None:
    text = REDIS + "    secrets: [token]\nsecrets:\n  token: {environment: TOKEN}\n"
    first = build_swarm_plan(load_text(text, env={"TOKEN": "one"}))
    second = build_swarm_plan(load_text(text, env={"TOKEN": "two"}))
    secret = first.step("secret:token").spec
    assert isinstance(secret, SwarmObjectSpec) and secret.name.startswith("shop_token_")
    assert secret.name != second.step("secret:token").spec.name
    grant = service(first, "cli").files[0]
    assert (grant.object_name, grant.path, grant.mode) == (secret.name, "/run/secrets/token", 0o444)
    assert "secret:token" in first.after("service:cli")


def test_a_config_becomes_a_swarm_config(load_text: Load) -> None:
    text = REDIS + "    configs: [{source: conf, target: /etc/app.conf}]\nconfigs:\n  conf: {content: x=1}\n"
    plan = build_swarm_plan(load_text(text))
    assert service(plan, "cli").files[0].path == "/etc/app.conf"
    assert plan.step("config:conf").kind == "config"


def test_an_external_secret_is_given_by_its_swarm_name_and_made_by_no_step(load_text: Load) -> None:
    text = REDIS + "    secrets: [cert]\nsecrets:\n  cert: {external: true, name: prod_cert}\n"
    plan = build_swarm_plan(load_text(text))
    grant = service(plan, "cli").files[0]
    assert (grant.kind, grant.object_name, grant.path) == ("secret", "prod_cert", "/run/secrets/cert")
    assert "secret:cert" not in plan and plan.after("service:cli") == ["overlay:default", "service:redis"]


def test_the_digest_changes_with_the_spec_only(load_text: Load) -> None:
    same = build_swarm_plan(load_text(REDIS))
    changed = build_swarm_plan(load_text(REDIS.replace("image: redis:7\n    host: h2", "image: redis:8\n    host: h2")))
    assert service(same, "redis").digest() == service(build_swarm_plan(load_text(REDIS)), "redis").digest()
    assert service(same, "cli").digest() != service(changed, "cli").digest()


def test_ports_and_endpoint_mode_are_planned(load_text: Load) -> None:
    text = REDIS.replace("    expose: [6379]\n", "    ports: ['16379:6379']\n")
    spec = service(build_swarm_plan(load_text(text), "dnsrr"), "redis")
    assert spec.endpoint_mode == "dnsrr"
    assert [(p.host_port, p.container_port) for p in spec.ports] == [(16379, 6379)]


def test_auto_is_vip_only_where_the_nodes_carry_it(load_text: Load) -> None:
    project = load_text(REDIS)
    assert [resolved_endpoint_mode(project, known) for known in (True, False, None)] == ["vip", "dnsrr", None]
    fixed = load_text(REDIS.replace("engine: swarm\n", "engine: swarm\nswarm: {endpoint_mode: vip}\n"))
    assert resolved_endpoint_mode(fixed, False) == "vip"


def test_the_manager_is_the_first_host_unless_named(load_text: Load) -> None:
    assert manager_of(load_text(REDIS)) == "h1"
    assert manager_of(load_text(REDIS.replace("engine: swarm\n", "engine: swarm\nswarm: {manager: h2}\n"))) == "h2"


def test_a_privileged_service_is_refused_where_it_says_so(load_text: Load) -> None:
    errors = errors_of(load_text, REDIS + "    privileged: true\n")
    assert len(errors) == 1 and errors[0].startswith("xcompose.yaml:16: services.cli.privileged: Swarm services")


def test_sharing_a_namespace_is_refused(load_text: Load) -> None:
    text = REDIS.replace("    links: [\"redis:cache\"]\n", "    network_mode: service:redis\n").replace("h2\n", "h1\n")
    assert any("services.cli.network_mode: a Swarm service's tasks have namespaces of their own" in e
               for e in errors_of(load_text, text))


def test_build_is_refused(load_text: Load) -> None:
    errors = errors_of(load_text, REDIS + "    build: .\n")
    assert any("services.cli.build: a swarm does not build" in e for e in errors)


def test_a_named_volume_used_on_two_hosts_is_refused(load_text: Load) -> None:
    text = REDIS.replace("    expose: [6379]\n", "    volumes: ['data:/data']\n") + \
        "    volumes: ['data:/data']\nvolumes:\n  data: {}\n"
    errors = errors_of(load_text, text)
    assert any("named volume 'data' lives on one node" in e for e in errors)


def test_a_link_alias_that_names_another_service_is_refused(load_text: Load) -> None:
    text = REDIS + "  other:\n    image: redis:7\n    host: h1\n    links: ['redis:cli']\n"
    errors = errors_of(load_text, text)
    assert any("services.other.links[0]:" in e and "'cli' already names 'cli'" in e for e in errors)


def test_replicas_share_a_published_port_through_the_routing_mesh(load_text: Load) -> None:
    text = REDIS.replace("    expose: [6379]\n", "    ports: ['16379:6379']\n    scale: 2\n")
    assert service(build_swarm_plan(load_text(text), "vip"), "redis").replicas == 2


def test_under_dnsrr_replicas_cannot_share_a_fixed_host_port(load_text: Load) -> None:
    text = REDIS.replace("    expose: [6379]\n", "    ports: ['16379:6379']\n    scale: 2\n")
    with pytest.raises(ConfigErrors, match="host port 16379 serves one task"):
        build_swarm_plan(load_text(text), "dnsrr")


def test_the_files_own_constraints_go_beside_the_hosts(load_text: Load) -> None:
    text = REDIS.replace("    host: h2\n", "    host: h2\n    deploy: {placement: {constraints: ['node.role == worker']}}\n")
    project = load_text(text)
    assert service(build_swarm_plan(project), "cli").placement == [
        "node.labels.io.xcompose.host == h2", "node.role == worker"]
    assert not project.warnings


def test_no_deps_keeps_the_networks_and_secrets_a_service_needs_but_not_the_services(load_text: Load) -> None:
    text = REDIS + "    secrets: [token]\nsecrets:\n  token: {environment: TOKEN}\n"
    plan = build_swarm_plan(load_text(text, env={"TOKEN": "t"}))
    alone = plan.needed_for(["service:cli"], services=False)
    assert sorted(step.id for step in alone.steps()) == ["overlay:default", "secret:token", "service:cli"]
    assert "service:redis" in plan.needed_for(["service:cli"])
