"""Faults on real hosts: a host's dockerd or sshd down before or during a run, an ambassador
that crashes, `down` with a host missing, volumes across `down`/`up`, two runs at once.

What is held each time: the failure is named (host, step), the exit code says it, nothing
half-made is left that the next command does not repair, and the next `up` or `down` (the
host back) finishes the job with exactly one container per step.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Literal

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment, Outcome
from xcompose.lab import Lab
from xcompose.plan.naming import LABEL_HOST, LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE

Deploy = Callable[[str, str], Deployment]
Daemon = Literal["dockerd", "sshd"]

THREE = """
hosts: {h1: {}, h2: {}, h3: {}}
services:
  redis: {image: "redis:7", host: h1, expose: [6379]}
  one: {image: "xcompose/tools:latest", host: h2, links: ["redis"], command: sleep infinity}
  three: {image: "xcompose/tools:latest", host: h3, links: ["redis"], command: sleep infinity}
"""

# `slow` on h2 becomes healthy only after a few seconds, and `one` waits for it: a window in
# which `up` is busy on h2 (its network and first container made, the rest to come).
SLOW = """
hosts: {h1: {}, h2: {}, h3: {}}
services:
  redis: {image: "redis:7", host: h1, expose: [6379]}
  slow:
    image: "xcompose/tools:latest"
    host: h2
    command: ["sh", "-c", "sleep 8; touch /tmp/ready; exec sleep infinity"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, retries: 120}
  one:
    image: "xcompose/tools:latest"
    host: h2
    links: ["redis"]
    depends_on: [slow]
    command: sleep infinity
  three: {image: "xcompose/tools:latest", host: h3, links: ["redis"], command: sleep infinity}
"""


@pytest.fixture
def faults(lab: Lab) -> Iterator[Callable[..., None]]:
    """Take a daemon of a lab host down; whatever a test took down is started again when it
    ends, pass or fail (before the deployments are taken down: request it after `deploy`)."""
    downed: list[tuple[str, Daemon]] = []

    def take_down(host: str, daemon: Daemon, kill: bool = False) -> None:
        downed.append((host, daemon))
        lab.stop_daemon(host, daemon, kill=kill)

    yield take_down
    for host, daemon in reversed(downed):
        lab.start_daemon(host, daemon)


def lab_name(app: Deployment, host: str) -> str:
    return str(app.lab_host(host).name)


def inventory(app: Deployment, hosts: list[str]) -> list[str]:
    """Everything of the project on those hosts: containers, networks, volumes."""
    found = app_leftovers(app, hosts)
    for host in hosts:
        volumes = app.client(host).volumes.list(filters={"label": f"{LABEL_PROJECT}={app.project}"})
        found += [f"volume {v.name}@{host}" for v in volumes]
    return found


def app_leftovers(app: Deployment, hosts: list[str]) -> list[str]:
    found: list[str] = []
    label = {"label": f"{LABEL_PROJECT}={app.project}"}
    for host in hosts:
        client = app.client(host)
        found += [f"{c.name}@{host}" for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
        found += [f"network {n.name}@{host}" for n in client.networks.list(filters=label)]
    return found


def plan_steps(app: Deployment) -> list[dict[str, object]]:
    outcome = app.xcompose("plan", "--offline", "--format", "json")
    assert outcome.code == 0, outcome.output
    return list(json.loads(outcome.stdout)["steps"])


def step_of(labels: dict[str, str]) -> str:
    role, service = labels.get(LABEL_ROLE), labels.get(LABEL_SERVICE)
    if role == "ambassador-client":
        return f"ambassador-client:{service}@{labels.get(LABEL_HOST)}"
    return f"{role}:{service}"


def assert_one_container_per_step(app: Deployment) -> None:
    """Every container step of the plan has exactly one container, on its host, running;
    no container of the project is anything else."""
    wanted = {str(s["id"]): str(s["host"]) for s in plan_steps(app)
              if s["kind"] in ("service", "ambassador-server", "ambassador-client")}
    found: Counter[str] = Counter()
    where: dict[str, str] = {}
    for host in app.host_names:
        for container in app.containers(host):
            step = step_of(container.labels)
            found[step] += 1
            where[step] = host
            assert container.status == "running", f"{container.name} on {host} is {container.status}"
    assert dict(found) == dict.fromkeys(wanted, 1), f"containers per step: {dict(found)}"
    assert where == wanted


def start(app: Deployment, *args: str) -> subprocess.Popen[str]:
    """The CLI of the deployment in the background (Deployment.xcompose waits for it)."""
    argv = [sys.executable, "-m", "xcompose", "-p", app.project]
    for file in app.files:
        argv += ["-f", str(file)]
    return subprocess.Popen([*argv, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> Outcome:
    stdout, stderr = proc.communicate(timeout=timeout)
    return Outcome(proc.returncode, stdout, stderr)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, pause: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(pause)


# --- a host down before `up` -----------------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("daemon", ["dockerd", "sshd"])
def test_a_host_down_before_up_is_named_by_preflight_and_nothing_changes(
    deploy: Deploy, faults: Callable[..., None], executor: str, daemon: Daemon
) -> None:
    app = deploy(f"pre-{daemon}-{executor}", executor).use(THREE)
    faults(lab_name(app, "h2"), daemon)
    started = time.monotonic()
    outcome = app.xcompose("up", timeout=120)
    took = time.monotonic() - started
    assert outcome.code == 1, outcome.output
    assert "Traceback" not in outcome.output
    [line] = [text for text in outcome.stderr.splitlines() if text.startswith("error:")]
    assert "h2" in line and app.lab_host("h2").address in line, outcome.stderr
    assert "nothing was changed" in outcome.stderr
    assert inventory(app, ["h1", "h3"]) == []
    assert took < 60, f"pre-flight took {took:.1f}s to give up"


# --- a host's dockerd killed during `up` -----------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
def test_dockerd_killed_during_up_is_named_and_the_next_up_converges_without_duplicates(
    deploy: Deploy, faults: Callable[..., None], lab: Lab, executor: str
) -> None:
    app = deploy(f"crash-{executor}", executor).use(SLOW)
    watch = app.client("h2")
    label = {"label": f"{LABEL_PROJECT}={app.project}"}
    proc = start(app, "up", "--wait-timeout", "90")
    try:
        wait_for(lambda: bool(watch.containers.list(all=True, filters=label, ignore_removed=True)), 120,
                 "the first container of the project on h2")
        faults(lab_name(app, "h2"), "dockerd", kill=True)
        outcome = finish(proc, timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert outcome.code == 1, outcome.output
    assert "Traceback" not in outcome.output
    failed = [text for text in outcome.stderr.splitlines() if text.startswith("error: step ")]
    assert failed, outcome.stderr
    assert all("on host h2" in text for text in failed), outcome.stderr
    assert "run `xcompose up` again to resume" in outcome.stderr

    lab.start_daemon(lab_name(app, "h2"), "dockerd")
    again = app.xcompose("up")
    assert again.code == 0, again.output
    assert_one_container_per_step(app)
    assert app.exec("one", "h2", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
    assert app.exec("three", "h3", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
    third = app.xcompose("up", "--format", "json")
    actions = {json.loads(text)["action"] for text in third.stdout.splitlines()
               if text.startswith("{") and json.loads(text).get("event") == "step"}
    assert actions == {"keep"}, third.stdout


# --- an ambassador that dies -----------------------------------------------------------


def _server_ambassador(app: Deployment):  # type: ignore[no-untyped-def]
    [server] = app.containers("h1", role="ambassador-server")
    return server


def test_a_crashed_server_ambassador_is_restarted_by_docker_and_the_link_works_again(
    deploy: Deploy,
) -> None:
    app = deploy("amb-crash", "api").use(THREE)
    app.up()
    assert app.exec("one", "h2", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
    server = _server_ambassador(app)
    assert server.attrs["HostConfig"]["RestartPolicy"]["Name"] in ("always", "unless-stopped")
    restarts = server.attrs["RestartCount"]
    # A crash: the relay's process dies of SIGKILL from outside, as the OOM killer does it.
    os.kill(server.attrs["State"]["Pid"], signal.SIGKILL)

    def restarted() -> bool:
        server.reload()
        return server.attrs["RestartCount"] > restarts and server.status == "running"

    wait_for(restarted, 30, "Docker to restart the server ambassador", pause=0.2)
    # No xcompose command in between: the consumer's next requests go through.
    assert app.exec("one", "h2", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
    assert app.exec("three", "h3", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
    assert [c.id for c in app.containers("h1", role="ambassador-server")] == [server.id]


def test_a_docker_killed_server_ambassador_is_brought_back_by_the_next_up_alone(
    deploy: Deploy,
) -> None:
    """`docker kill` counts as a deliberate stop to Docker: the restart policy leaves the
    container down. The next `up` sees it and re-creates that step only."""
    app = deploy("amb-kill", "ssh").use(THREE)
    app.up()
    server = _server_ambassador(app)
    server.kill()
    wait_for(lambda: (server.reload(), server.status)[1] == "exited", 20, "the kill")
    others = {c.name: c.id for h in app.host_names for c in app.containers(h) if c.id != server.id}
    outcome = app.up()
    events = [json.loads(text) for text in outcome.stdout.splitlines() if text.startswith("{")]
    changed = {e["id"] for e in events if e.get("event") == "step" and e["action"] != "keep"}
    assert changed == {"ambassador-server:redis"}, outcome.stdout
    assert {c.name: c.id for h in app.host_names for c in app.containers(h)
            if c.labels.get(LABEL_ROLE) != "ambassador-server"} == others
    assert_one_container_per_step(app)
    assert app.exec("one", "h2", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")


# --- `down` with a host missing ----------------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
def test_down_with_a_host_down_cleans_the_others_and_a_later_down_finishes(
    deploy: Deploy, faults: Callable[..., None], lab: Lab, executor: str
) -> None:
    app = deploy(f"down-{executor}", executor).use(THREE)
    app.up()
    faults(lab_name(app, "h3"), "dockerd")
    outcome = app.down()
    assert outcome.code == 1, outcome.output
    assert "Traceback" not in outcome.output
    errors = [text for text in outcome.stderr.splitlines() if text.startswith("error:")]
    assert errors and all("h3" in text for text in errors), outcome.stderr
    assert app_leftovers(app, ["h1", "h2"]) == []

    lab.start_daemon(lab_name(app, "h3"), "dockerd")
    assert app_leftovers(app, ["h3"]) != []  # what h3 had is still there until told
    again = app.down()
    assert again.code == 0, again.output
    assert app.leftovers() == []


# --- named volumes ---------------------------------------------------------------------

VOLUME = """
hosts: {h1: {}, h2: {}}
services:
  store:
    image: "xcompose/tools:latest"
    host: h1
    command: sleep infinity
    volumes: ["data:/data"]
  app: {image: "xcompose/tools:latest", host: h2, command: sleep infinity}
volumes:
  data: {}
"""


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_named_volume_keeps_its_data_across_down_and_up_until_down_volumes(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"vol-{executor}", executor).use(VOLUME)
    app.up()
    token = f"kept-{time.time_ns()}"
    assert app.exec("store", "h1", f"echo {token} > /data/token")[0] == 0
    label = {"label": f"{LABEL_PROJECT}={app.project}"}
    [volume] = app.client("h1").volumes.list(filters=label)

    assert app.down().code == 0
    assert app.leftovers() == []
    assert [v.name for v in app.client("h1").volumes.list(filters=label)] == [volume.name]

    app.up()
    assert app.exec("store", "h1", "cat /data/token") == (0, f"{token}\n")

    outcome = app.down("--volumes")
    assert outcome.code == 0, outcome.output
    assert app.client("h1").volumes.list(filters=label) == []
    assert app.leftovers() == []


# --- two runs at once ------------------------------------------------------------------


def test_two_ups_started_together_take_turns_and_leave_one_container_per_service(
    deploy: Deploy,
) -> None:
    app = deploy("twice", "api").use(THREE)
    first, second = start(app, "up"), start(app, "up")
    outcomes = [finish(first), finish(second)]
    for outcome in outcomes:
        assert outcome.code == 0, outcome.output
        assert "Traceback" not in outcome.output
    waited = [o for o in outcomes if "waiting for the project lock" in o.stderr]
    assert len(waited) == 1, [o.stderr for o in outcomes]
    assert "is up: nothing to change" in waited[0].stderr
    assert_one_container_per_step(app)


def test_a_run_that_cannot_wait_for_the_lock_refuses_and_changes_nothing(
    deploy: Deploy,
) -> None:
    app = deploy("locked", "api").use(SLOW)
    holder = start(app, "up")
    try:
        wait_for(lambda: bool(app.containers("h1")), 120, "the first run to start work")
        refused = app.xcompose("down", "--lock-wait", "1")
        assert refused.code == 1, refused.output
        assert re.search(r"is locked by \S+ \(pid \d+\) since \S+ on host h\d", refused.stderr), refused.stderr
        assert "gave up after 1s" in refused.stderr
        held = finish(holder)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert held.code == 0, held.output
    assert_one_container_per_step(app)
