"""A service with replicas (`deploy.replicas`, `scale`) runs that many containers on its
host; a consumer on another host reaches all of them by the service's name, the server
ambassador taking turns; scaling up keeps the running ones, scaling down removes the
highest numbers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import yaml

from tests.e2e.deploy import EXECUTORS, Deployment

Deploy = Callable[[str, str], Deployment]
pytestmark = pytest.mark.parametrize("executor", EXECUTORS)

COMPOSE = """\
services:
  words:
    image: xcompose/tools:latest
    deploy: {replicas: 3}
    expose: [8080]
    # Each replica answers with its own container id (its hostname).
    command: [socat, "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo $$HOSTNAME"]
  web:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    depends_on: [words]
"""
PLACEMENT = """\
hosts: {h1: {}, h2: {}}
services:
  words: {host: h2}
  web: {host: h1}
"""
ASK_TEN_TIMES = "for i in 1 2 3 4 5 6 7 8 9 10; do socat -t3 -T5 - TCP:words:8080 </dev/null; done"


def answers(app: Deployment, wanted: int, within: float = 30) -> set[str]:
    """The replicas that answer `web` by name, once `wanted` of them did or time is up."""
    seen: set[str] = set()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        _, output = app.exec("web", "h1", ASK_TEN_TIMES)
        seen |= {line.strip() for line in output.splitlines() if line.strip()}
        if len(seen) >= wanted:
            break
        time.sleep(1)
    return seen


def replica_ids(app: Deployment) -> dict[str, str]:
    return {c.name: c.id[:12] for c in app.containers("h2", role="service", service="words")}


def scaled(app: Deployment, count: int) -> None:
    data = yaml.safe_load(app.files[0].read_text())
    data["services"]["words"]["deploy"]["replicas"] = count
    app.files[0].write_text(yaml.safe_dump(data, sort_keys=False))


def test_replicas_on_one_host_answer_a_consumer_on_another_in_turn(deploy: Deploy, executor: str) -> None:
    app = deploy(f"replicas-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    ids = replica_ids(app)
    project = app.project
    assert sorted(ids) == [f"{project}-words", f"{project}-words-2", f"{project}-words-3"]
    assert answers(app, 3) == set(ids.values())

    scaled(app, 4)
    app.up()
    more = replica_ids(app)
    assert {name: more[name] for name in ids} == ids  # the running replicas were kept
    assert answers(app, 4) == set(more.values())

    scaled(app, 2)
    app.up()
    assert replica_ids(app) == {name: ids[name] for name in (f"{project}-words", f"{project}-words-2")}
    ps = app.xcompose("ps")
    assert ps.code == 0 and f"{project}-words-2" in ps.stdout and f"{project}-words-3" not in ps.stdout
    assert answers(app, 2) == {ids[f"{project}-words"], ids[f"{project}-words-2"]}


RANGE = """\
services:
  words:
    image: xcompose/tools:latest
    scale: 2
    ports: ["6005-6006:8080"]
    command: [socat, "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo $$HOSTNAME"]
"""


def test_replicas_take_one_free_host_port_each_from_a_range(deploy: Deploy, executor: str) -> None:
    app = deploy(f"portrange-{executor}", executor).use_compose(RANGE, "hosts: {h1: {}}\nservices:\n  words: {host: h1}\n")
    app.up()
    bound = sorted(int(c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
                   for c in app.containers("h1", role="service", service="words"))
    assert bound == [6005, 6006]
