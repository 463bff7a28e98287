"""`convert --to stack`: the project as a Docker stack file (format 3.8), services pinned by
the node label, links as aliases and variables, what Swarm lacks left out and said."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from xcompose.config.project import Project
from xcompose.plan.convert import to_stack

Load = Callable[..., Project]

REDIS = """\
name: shop
hosts:
  big: {address: 10.0.0.1}
  small: {address: 10.0.0.2}
services:
  redis:
    image: redis:7
    host: big
    expose: [6379]
    environment: {MODE: "a$$b"}
  cli:
    image: redis:7
    host: small
    links: ["redis:cache"]
    depends_on: [redis]
    environment: {CACHE_PORT: mine}
"""


def stack(project: Project, **kwargs: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(to_stack(project, **kwargs).text)
    return loaded


def test_the_stack_file_is_format_3_8(load_text: Load) -> None:
    assert stack(load_text(REDIS))["version"] == "3.8"


def test_each_service_is_pinned_to_its_host_by_the_node_label(load_text: Load) -> None:
    services = stack(load_text(REDIS))["services"]
    assert services["redis"]["deploy"]["placement"]["constraints"] == ["node.labels.io.xcompose.host == big"]
    assert services["cli"]["deploy"]["placement"]["constraints"] == ["node.labels.io.xcompose.host == small"]


def test_a_file_without_hosts_pins_nothing(load_text: Load) -> None:
    services = stack(load_text("services:\n  a: {image: redis:7}\n"))["services"]
    assert "placement" not in services["a"]["deploy"]


def test_other_placement_constraints_are_kept_and_a_hostname_one_becomes_the_label(load_text: Load) -> None:
    project = load_text("""\
        hosts: {h1: {address: 10.0.0.1}, h2: {address: 10.0.0.2}}
        services:
          a:
            image: redis:7
            deploy: {placement: {constraints: ["node.role == manager", "node.hostname == h2"]}}
        """)
    assert stack(project)["services"]["a"]["deploy"]["placement"]["constraints"] == [
        "node.role == manager", "node.labels.io.xcompose.host == h2"]


def test_endpoint_mode_is_dnsrr_unless_vip_is_asked_for(load_text: Load) -> None:
    project = load_text(REDIS)
    assert stack(project)["services"]["redis"]["deploy"]["endpoint_mode"] == "dnsrr"
    assert stack(project, endpoint_mode="vip")["services"]["redis"]["deploy"]["endpoint_mode"] == "vip"


def test_the_header_says_why_dnsrr(load_text: Load) -> None:
    header = to_stack(load_text(REDIS)).text.split("version:")[0]
    assert "IPVS" in header and "--endpoint-mode vip" in header


def test_a_link_alias_becomes_a_network_alias_of_the_target(load_text: Load) -> None:
    services = stack(load_text(REDIS))["services"]
    assert services["redis"]["networks"] == {"default": {"aliases": ["cache"]}}
    assert "links" not in services["cli"]


def test_a_link_gives_the_legacy_variables_and_the_consumers_own_value_wins(load_text: Load) -> None:
    env = stack(load_text(REDIS))["services"]["cli"]["environment"]
    assert env["CACHE_PORT_6379_TCP"] == "tcp://cache:6379"
    assert env["CACHE_PORT_6379_TCP_ADDR"] == "cache"
    assert env["CACHE_PORT"] == "mine"
    assert env["CACHE_NAME"] == "/shop_cli/cache"


def test_dollars_stay_escaped_for_the_stacks_own_interpolation(load_text: Load) -> None:
    services = stack(load_text(REDIS))["services"]
    assert services["redis"]["environment"]["MODE"] == "a$$b"
    assert services["cli"]["environment"]["CACHE_ENV_MODE"] == "a$$b"


def test_every_network_is_an_attachable_overlay(load_text: Load) -> None:
    project = load_text("""\
        services:
          a: {image: redis:7, networks: [front, back]}
        networks:
          front: {driver: bridge}
          back: {internal: true}
        """)
    networks = stack(project)["networks"]
    assert networks == {"front": {"driver": "overlay", "attachable": True},
                        "back": {"driver": "overlay", "attachable": True, "internal": True}}


def test_replicas_come_from_scale_or_deploy(load_text: Load) -> None:
    services = stack(load_text("""\
        services:
          a: {image: redis:7, scale: 3}
          b: {image: redis:7, deploy: {replicas: 2}}
          c: {image: redis:7}
        """))["services"]
    assert [services[n]["deploy"]["replicas"] for n in "abc"] == [3, 2, 1]


def test_restart_becomes_the_restart_policy(load_text: Load) -> None:
    services = stack(load_text("""\
        services:
          a: {image: redis:7, restart: unless-stopped}
          b: {image: redis:7, restart: "on-failure:4"}
          c: {image: redis:7, restart: "no"}
        """))["services"]
    assert services["a"]["deploy"]["restart_policy"] == {"condition": "any"}
    assert services["b"]["deploy"]["restart_policy"] == {"condition": "on-failure", "max_attempts": 4}
    assert services["c"]["deploy"]["restart_policy"] == {"condition": "none"}
    assert "restart" not in services["a"]


def test_limits_become_deploy_resources(load_text: Load) -> None:
    services = stack(load_text("services:\n  a: {image: redis:7, cpus: 0.5, mem_limit: 64m, mem_reservation: 32m}\n"))
    assert services["services"]["a"]["deploy"]["resources"] == {
        "limits": {"cpus": "0.5", "memory": str(64 * 2**20)}, "reservations": {"memory": str(32 * 2**20)}}


def test_ports_are_published_in_host_mode_with_dnsrr_and_through_ingress_with_vip(load_text: Load) -> None:
    project = load_text("services:\n  a: {image: redis:7, ports: ['8080:80', '53/udp']}\n")
    assert stack(project)["services"]["a"]["ports"] == [
        {"target": 80, "published": 8080, "protocol": "tcp", "mode": "host"},
        {"target": 53, "protocol": "udp", "mode": "host"}]
    assert stack(project, endpoint_mode="vip")["services"]["a"]["ports"][0] == {
        "target": 80, "published": 8080, "protocol": "tcp"}


def test_a_key_swarm_lacks_is_left_out_and_warned_where_it_is(load_text: Load) -> None:
    project = load_text("""\
        services:
          a:
            image: redis:7
            privileged: true
            container_name: one
        """)
    converted = to_stack(project)
    service = yaml.safe_load(converted.text)["services"]["a"]
    assert "privileged" not in service and "container_name" not in service
    assert converted.warnings == ["xcompose.yaml:4: services.a.privileged: a Swarm service has no 'privileged'",
                                  "xcompose.yaml:5: services.a.container_name: a Swarm service has no "
                                  "'container_name'"]
    assert "#   services.a.privileged: a Swarm service has no 'privileged'" in converted.text


def test_a_built_image_is_named_and_its_build_left_out(load_text: Load) -> None:
    converted = to_stack(load_text("name: shop\nservices:\n  app: {build: .}\n"))
    assert yaml.safe_load(converted.text)["services"]["app"]["image"] == "shop-app"
    assert "push shop-app to a registry" in converted.warnings[0]


def test_a_secret_file_stays_a_file_and_an_environment_secret_is_made_beforehand(load_text: Load,
                                                                                 tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text("x")
    project = load_text("""\
        name: shop
        services:
          a: {image: redis:7, secrets: [pw, {source: token, target: /t, mode: "0400", uid: "10"}]}
        secrets:
          pw: {file: pw.txt}
          token: {environment: TOKEN}
        """, env={"TOKEN": "s3cr3t-value"})
    converted = to_stack(project)
    data = yaml.safe_load(converted.text)
    assert data["secrets"] == {"pw": {"file": str(tmp_path / "pw.txt")},
                               "token": {"external": True, "name": "shop_token"}}
    assert data["services"]["a"]["secrets"][1] == {"source": "token", "target": "/t", "mode": 0o400, "uid": "10"}
    assert "docker secret create shop_token" in converted.warnings[0]
    assert "s3cr3t-value" not in converted.text


def test_a_relative_bind_source_becomes_absolute(load_text: Load, tmp_path: Path) -> None:
    project = load_text("services:\n  a: {image: redis:7, volumes: ['./conf:/conf:ro', 'data:/data']}\n"
                        "volumes:\n  data: {}\n")
    data = stack(project)
    assert data["services"]["a"]["volumes"] == [f"{tmp_path / 'conf'}:/conf:ro", "data:/data"]
    assert data["volumes"] == {"data": {}}


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI checks the stack file's format")
def test_docker_stack_config_accepts_the_file(load_text: Load, tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text("x")
    cli = ("    ports: ['8080:80']\n    secrets: [{source: pw, mode: '0400', uid: '10'}]\n    restart: always\n"
           "    cpus: 0.5\n    networks: [default, back]\n")
    project = load_text(REDIS.replace("    environment: {CACHE_PORT: mine}\n", cli)
                        + "networks: {back: {}}\nsecrets: {pw: {file: pw.txt}}\n")
    proc = subprocess.run(["docker", "stack", "config", "-c", "-"], input=to_stack(project).text, text=True,
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_pids_limit_is_said_once_to_be_left_out(load_text: Load) -> None:
    converted = to_stack(load_text("services:\n  a: {image: redis:7, pids_limit: 100}\n"))
    assert converted.warnings == ["xcompose.yaml:2: services.a.pids_limit: a pids limit is not in stack file "
                                  "format 3.8"]
