"""`xcompose convert` output run by Docker's own tools on the lab: the stack file of the seeds'
redis scenario and of a by-name app deployed with `docker stack deploy` on the lab swarm
answers across nodes as xcompose's ambassadors do, and `docker stack rm` leaves nothing;
the per-host compose files run with docker-compose v1 reach across hosts too."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.deploy import Deployment
from xcompose.lab import Lab, LabHost
from xcompose.lab.swarm import NODE_LABEL

Deploy = Callable[[str, str], Deployment]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_docker(host: LabHost, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "-H", host.docker_socket, *args], input=stdin, capture_output=True, text=True,
                          timeout=180, check=False)


def docker(host: LabHost, *args: str, stdin: str | None = None, check: bool = True) -> str:
    proc = run_docker(host, *args, stdin=stdin)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


@pytest.fixture
def node_names(lab_swarm: Lab) -> Iterator[Callable[[list[str]], None]]:
    """Label the first nodes with a topology's host names, as the stack file's header tells
    a user to; the lab's own names come back afterwards."""
    manager = lab_swarm.hosts[0]

    def label(names: list[str]) -> None:
        for node, name in zip(lab_swarm.swarm_nodes(), names, strict=False):
            docker(manager, "node", "update", "--label-add", f"{NODE_LABEL}={name}", node.node_id)

    yield label
    label([h.name for h in lab_swarm.hosts])


@pytest.fixture
def stacks(lab_swarm: Lab) -> Iterator[Callable[[str, str], str]]:
    """Deploy stack files with the docker CLI against the manager, which must find nothing
    in them to ignore; each stack is removed after the test, and the test may check that
    its removal left nothing."""
    manager = lab_swarm.hosts[0]
    made: list[str] = []

    def deploy(name: str, text: str) -> str:
        made.append(name)
        done = subprocess.run(["docker", "-H", manager.docker_socket, "stack", "deploy", "--resolve-image", "never",
                               "-c", "-", name], input=text, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr
        # The stack file holds only what Swarm acts on: Docker has nothing to ignore in it.
        assert "Ignoring" not in done.stdout + done.stderr, done.stdout + done.stderr
        return name

    yield deploy
    for name in made:
        remove_stack(manager, name)
        wait_gone(lab_swarm, name)


def remove_stack(manager: LabHost, stack: str, timeout: float = 90) -> None:
    """`docker stack rm`, repeated as Docker's users do (moby/moby#30942): it removes the
    services and then at once their networks, which a node may still hold for a task that is
    shutting down ("network ... is in use by task"); a second run removes what is left."""
    deadline = time.monotonic() + timeout
    while True:
        proc = run_docker(manager, "stack", "rm", stack)
        if proc.returncode == 0 or "in use by task" not in proc.stderr or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert proc.returncode == 0, f"docker stack rm {stack}: {proc.stderr.strip()}"


def task_container(host: LabHost, stack: str, service: str, timeout: float = 120) -> str:
    """The id of the running container of a stack's service on that host."""
    label = f"com.docker.swarm.service.name={stack}_{service}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = docker(host, "ps", "-q", "--filter", f"label={label}", "--filter", "status=running").split()
        if found:
            return found[0]
        time.sleep(1)
    raise AssertionError(f"no running task of {stack}_{service} on {host.name} after {timeout:.0f}s")


def answer(host: LabHost, container: str, command: str, want: str, timeout: float = 60) -> str:
    """What `sh -c COMMAND` prints in the container, retried until it prints `want`."""
    reply, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = docker(host, "exec", container, "sh", "-c", command, check=False).strip()
        if reply == want:
            break
        time.sleep(1)
    return reply


def leftovers(lab: Lab, stack: str) -> list[str]:
    namespace = f"label=com.docker.stack.namespace={stack}"
    manager = lab.hosts[0]
    found = [f"service {s}" for s in docker(manager, "service", "ls", "-q", "--filter", namespace).split()]
    found += [f"secret {s}" for s in docker(manager, "secret", "ls", "-q", "--filter", namespace).split()]
    for host in lab.hosts:
        found += [f"{host.name}: container {c}" for c in docker(host, "ps", "-aq", "--filter", namespace).split()]
        found += [f"{host.name}: network {n}" for n in docker(host, "network", "ls", "-q", "--filter", namespace).split()]
    return found


def wait_gone(lab: Lab, stack: str, timeout: float = 90) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := leftovers(lab, stack)) and time.monotonic() < deadline:
        time.sleep(1)
    return left


def test_the_redis_scenarios_stack_answers_across_nodes_and_its_removal_leaves_nothing(
        lab_swarm: Lab, deploy: Deploy, node_names: Callable[[list[str]], None],
        stacks: Callable[[str, str], str]) -> None:
    app = deploy("cv-redis", "api").use(EXAMPLES / "redis-ambassador.yaml")
    converted = app.xcompose("convert", "--to", "stack")
    assert converted.code == 0, converted.output
    node_names(app.host_names)
    stack = stacks("cvredis", converted.stdout)
    h1, h2 = lab_swarm.hosts[0], lab_swarm.hosts[1]
    task_container(h1, stack, "redis")
    client = task_container(h2, stack, "redis-cli")
    ping = 'redis-cli -h "$REDIS_PORT_6379_TCP_ADDR" -p "$REDIS_PORT_6379_TCP_PORT" ping'
    assert answer(h2, client, ping, "PONG") == "PONG"
    remove_stack(h1, stack)
    assert wait_gone(lab_swarm, stack) == []


BY_NAME = """\
name: cv-byname
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
  h3: {address: 10.0.0.3}
services:
  db:
    image: redis:7
    host: h1
    networks:
      back: {aliases: [cache]}
  api:
    image: xcompose/tools:latest
    host: h2
    command: [sleep, infinity]
    networks: [front, back]
  web:
    image: xcompose/tools:latest
    host: h3
    command: [sleep, infinity]
    networks: [front]
networks:
  front: {}
  back: {}
"""


def test_a_by_name_apps_stack_reaches_by_name_and_alias_only_over_shared_networks(
        lab_swarm: Lab, deploy: Deploy, node_names: Callable[[list[str]], None],
        stacks: Callable[[str, str], str]) -> None:
    app = deploy("cv-byname", "api").use(BY_NAME)
    converted = app.xcompose("convert", "--to", "stack")
    assert converted.code == 0, converted.output
    node_names(app.host_names)
    stack = stacks("cvbyname", converted.stdout)
    h1, h2, h3 = lab_swarm.hosts
    task_container(h1, stack, "db")
    api, web = task_container(h2, stack, "api"), task_container(h3, stack, "web")
    assert answer(h2, api, "redis-cli -h db ping", "PONG") == "PONG"
    assert answer(h2, api, "redis-cli -h cache ping", "PONG") == "PONG"
    assert answer(h3, web, "getent hosts api >/dev/null && echo found", "found") == "found"
    assert docker(h3, "exec", web, "getent", "hosts", "db", check=False).strip() == ""


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose v1 is not installed")
def test_the_per_host_compose_files_run_with_docker_compose_v1_and_reach_across_hosts(
        lab: Lab, deploy: Deploy, tmp_path: Path) -> None:
    app = deploy("cv-compose", "api").use(EXAMPLES / "redis-ambassador.yaml")
    out = tmp_path / "hosts"
    converted = app.xcompose("convert", "--to", "compose", "--output", str(out))
    assert converted.code == 0, converted.output
    h1, h2 = lab.hosts[0], lab.hosts[1]
    runs = [(h1, out / "big-server.yaml"), (h2, out / "client-server.yaml")]

    def compose(host: LabHost, file: Path, *args: str) -> None:
        env = {**os.environ, "DOCKER_HOST": host.docker_socket}
        done = subprocess.run(["docker-compose", "-p", "cvcompose", "-f", str(file), *args], env=env,
                              capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr

    try:
        for host, file in runs:
            compose(host, file, "up", "-d")
        client = docker(h2, "ps", "-q", "--filter", "label=com.docker.compose.service=redis-cli").split()[0]
        ping = 'redis-cli -h "$REDIS_PORT_6379_TCP_ADDR" -p "$REDIS_PORT_6379_TCP_PORT" ping'
        assert answer(h2, client, ping, "PONG") == "PONG"
    finally:
        for host, file in runs:
            compose(host, file, "down", "--volumes")
