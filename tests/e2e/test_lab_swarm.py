"""The lab as a Docker Swarm: three nodes ready and labelled by host, and a service pinned to
one node by that label answering a task pinned to another over an attachable overlay, by
name (`endpoint_mode: dnsrr`: this kernel has no IPVS for Swarm's virtual IPs)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from xcompose.lab import Lab, LabHost
from xcompose.lab.cli import lab as lab_cli
from xcompose.lab.swarm import NODE_LABEL


def docker(host: LabHost, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", "-H", host.docker_socket, *args], capture_output=True, text=True,
                          timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


@pytest.fixture
def overlay(lab_swarm: Lab) -> Iterator[str]:
    """An attachable overlay network, and every service made on it removed afterwards."""
    manager = lab_swarm.hosts[0]
    name = f"e2e-ov-{uuid.uuid4().hex[:6]}"
    docker(manager, "network", "create", "--driver", "overlay", "--attachable", name)
    try:
        yield name
    finally:
        for service in docker(manager, "service", "ls", "-q", "--filter", f"label=e2e={name}").split():
            docker(manager, "service", "rm", service, check=False)
        deadline = time.monotonic() + 60  # the network stays in use until the tasks are gone
        while docker(manager, "network", "rm", name, check=False).strip() != name and time.monotonic() < deadline:
            time.sleep(0.5)


def test_the_swarm_has_every_lab_host_as_a_ready_node_labelled_with_its_name(lab_swarm: Lab) -> None:
    nodes = lab_swarm.swarm_nodes()
    assert [(n.host, n.status, n.label) for n in nodes] == [(h.name, "ready", h.name) for h in lab_swarm.hosts]
    assert [n.role for n in nodes] == ["manager"] + ["worker"] * (len(nodes) - 1)
    shown = CliRunner().invoke(lab_cli, ["status", "--name", lab_swarm.prefix])
    assert shown.exit_code == 0, shown.output
    assert f"swarm of lab {lab_swarm.prefix}" in shown.output and "manager (leader)" in shown.output


def test_forming_the_swarm_again_changes_nothing(lab_swarm: Lab) -> None:
    before = lab_swarm.swarm_nodes()
    assert lab_swarm.form_swarm() == before


def test_a_task_on_node2_reaches_redis_pinned_to_node1_by_name(lab_swarm: Lab, overlay: str) -> None:
    manager, h1, h2 = lab_swarm.hosts[0], lab_swarm.hosts[0], lab_swarm.hosts[1]
    common = ["--label", f"e2e={overlay}", "--endpoint-mode", "dnsrr", "--no-resolve-image", "--detach"]
    docker(manager, "service", "create", "--name", f"{overlay}-redis", *common,
           "--network", f"name={overlay},alias=redis",
           "--constraint", f"node.labels.{NODE_LABEL}=={h1.name}", "redis:7")
    docker(manager, "service", "create", "--name", f"{overlay}-probe", *common, "--network", overlay,
           "--constraint", f"node.labels.{NODE_LABEL}=={h2.name}", "--entrypoint", "sleep", "redis:7", "infinity")
    reply, deadline = "", time.monotonic() + 90
    while time.monotonic() < deadline:
        probe = docker(h2, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={overlay}-probe").split()
        redis = docker(h1, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={overlay}-redis").split()
        if probe and redis:
            reply = docker(h2, "exec", probe[0], "redis-cli", "-h", "redis", "ping", check=False).strip()
            if reply == "PONG":
                break
        time.sleep(1)
    assert reply == "PONG"
