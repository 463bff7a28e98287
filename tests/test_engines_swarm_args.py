"""A planned Swarm service as docker-py's create_service arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xcompose.config.project import Project
from xcompose.engines.swarm_args import restart_policy, service_args
from xcompose.plan.swarm import build_swarm_plan
from xcompose.plan.swarm_steps import EndpointMode, SwarmServiceSpec

Load = Callable[..., Project]

TEXT = """\
name: shop
engine: swarm
hosts:
  h1: {address: 10.0.0.1}
secrets:
  token: {environment: TOKEN}
services:
  web:
    image: nginx:1
    host: h1
    ports: ['8080:80']
    secrets: [token]
    volumes: ['data:/data']
    healthcheck: {test: 'true', interval: 2s}
    deploy: {replicas: 2}
volumes:
  data: {}
"""


def args_of(load_text: Load, mode: EndpointMode, text: str = TEXT) -> tuple[SwarmServiceSpec, dict[str, Any]]:
    plan = build_swarm_plan(load_text(text, env={"TOKEN": "t"}), mode)
    spec = plan.step("service:web").spec
    assert isinstance(spec, SwarmServiceSpec)
    ids = {f.object_name: "secret-id" for f in spec.files}
    return spec, service_args(spec, "shop", ids)


def test_the_service_is_pinned_replicated_and_labelled(load_text: Load) -> None:
    spec, args = args_of(load_text, "vip")
    assert args["name"] == "shop_web"
    assert args["task_template"]["Placement"]["Constraints"] == ["node.labels.io.xcompose.host == h1"]
    assert args["mode"]["replicated"] == {"Replicas": 2}
    assert args["labels"]["io.xcompose.config-hash"] == spec.digest()
    assert args["task_template"]["ContainerSpec"]["Labels"]["io.xcompose.config-hash"] == spec.digest()


def test_vip_publishes_through_the_routing_mesh(load_text: Load) -> None:
    _, args = args_of(load_text, "vip")
    assert args["endpoint_spec"] == {"Mode": "vip", "Ports": [
        {"Protocol": "tcp", "TargetPort": 80, "PublishMode": "ingress", "PublishedPort": 8080}]}


def test_dnsrr_publishes_on_the_node_itself(load_text: Load) -> None:
    _, args = args_of(load_text, "dnsrr", TEXT.replace("deploy: {replicas: 2}", "deploy: {replicas: 1}"))
    assert args["endpoint_spec"]["Mode"] == "dnsrr"
    assert args["endpoint_spec"]["Ports"][0]["PublishMode"] == "host"


def test_secrets_are_referenced_by_id_by_their_name_in_run_secrets(load_text: Load) -> None:
    _, args = args_of(load_text, "vip")
    (secret,) = args["task_template"]["ContainerSpec"]["Secrets"]
    assert secret["SecretID"] == "secret-id" and secret["File"]["Name"] == "token"


def test_the_healthcheck_is_in_nanoseconds(load_text: Load) -> None:
    _, args = args_of(load_text, "vip")
    health = args["task_template"]["ContainerSpec"]["Healthcheck"]
    assert (health["Test"], health["Interval"]) == (["CMD-SHELL", "true"], 2_000_000_000)


def test_a_named_volume_is_made_on_the_node_with_the_project_label(load_text: Load) -> None:
    _, args = args_of(load_text, "vip")
    (mount,) = args["task_template"]["ContainerSpec"]["Mounts"]
    assert (mount["Source"], mount["Target"], mount["VolumeOptions"]["Labels"]) == (
        "shop_data", "/data", {"io.xcompose.project": "shop"})


def test_restart_maps_to_swarm_conditions() -> None:
    assert restart_policy("no")["Condition"] == "none"
    assert (restart_policy("on-failure:3")["Condition"], restart_policy("on-failure:3")["MaxAttempts"]) == (
        "on-failure", 3)
    assert restart_policy(None)["Condition"] == "any"
