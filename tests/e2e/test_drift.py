"""Containers changed by hand after `up` (`docker update`, `docker network disconnect`,
`docker rename`, with the docker CLI on the host) are drift: `plan` names each with its
field, and `up` puts them back as planned, through both executors. Every container says
who applied it and when, and a later `up` by someone else re-creates only the drifted."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment, Outcome
from xcompose.lab import Lab

FIRST, SECOND = "first@operator", "second@operator"


# `web` has every limit `docker update` changes that a file can set, `worker` two
# networks, `tool` nothing special, `alone` no network; `db`, on the other host, brings a
# pair of ambassadors.
TOPOLOGY = """\
hosts:
  h1: {}
  h2: {}
services:
  db: {image: "redis:7", host: h2, expose: [6379]}
  web:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    host: h1
    depends_on: [db]
    mem_limit: 256m
    memswap_limit: 512m
    mem_reservation: 64m
    cpus: 0.5
    cpu_shares: 512
    cpuset: "0"
    pids_limit: 200
    restart: on-failure:3
  worker:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    host: h1
    networks: [default, back]
  tool:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    host: h1
  alone:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    host: h1
    network_mode: none
networks:
  back: {}
"""


@dataclass
class Drifted:
    app: Deployment
    fresh: dict[str, tuple[str, str | None]]  # step id -> (action, reason), right after `up`
    plan: dict[str, tuple[str, str | None]]  # step id -> (action, reason), after the changes
    repair: Outcome  # the second `up`, by another operator
    after: dict[str, tuple[str, str | None]]  # the plan once repaired


def docker(app: Deployment, host: str, *argv: str) -> None:
    """The docker CLI against the lab host, as an operator there would type it."""
    subprocess.run(["docker", "-H", app.lab_host(host).docker_socket, *argv], check=True, capture_output=True,
                   timeout=60)


def plan_actions(app: Deployment) -> dict[str, tuple[str, str | None]]:
    outcome = app.xcompose("plan", "--format", "json")
    assert outcome.code == 0, outcome.output
    return {s["id"]: (s["action"], s.get("reason")) for s in json.loads(outcome.stdout)["steps"]}


def inspect(app: Deployment, name: str, host: str = "h1") -> dict[str, Any]:
    data: dict[str, Any] = app.client(host).api.inspect_container(name)
    return data


@pytest.fixture(scope="module", params=EXECUTORS)
def drifted(request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drifted]:
    executor = request.param
    project = f"drift-{executor}"
    app = Deployment(lab, tmp_path_factory.mktemp(project), project, executor).use(TOPOLOGY)
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("XCOMPOSE_OPERATOR", FIRST)
        app.up()
        fresh = plan_actions(app)
        docker(app, "h1", "update", "--memory", "128m", "--cpus", "1", f"{project}-web")
        docker(app, "h1", "network", "disconnect", f"{project}_back", f"{project}-worker")
        docker(app, "h1", "rename", f"{project}-tool", f"{project}-tool-mine")
        docker(app, "h2", "update", "--restart", "always", f"{project}-db-ambassador")
        plan = plan_actions(app)
        mp.setenv("XCOMPOSE_OPERATOR", SECOND)
        repair = app.up()
        yield Drifted(app, fresh, plan, repair, plan_actions(app))
    finally:
        mp.undo()
        app.down("--volumes", "--remove-orphans")
        app.close()


def test_a_fresh_up_shows_no_drift_in_plan(drifted: Drifted) -> None:
    assert {step: why for step, why in drifted.fresh.items() if why[0] != "keep"} == {}


def test_plan_names_each_change_by_hand_as_drift_with_its_field(drifted: Drifted) -> None:
    project = drifted.app.project
    assert {step: why for step, why in drifted.plan.items() if why[0] != "keep"} == {
        "service:web": ("recreate", "drift: memory 128MiB -> 256MiB, cpus 1 -> 0.5"),
        "service:worker": ("recreate", f"drift: not on network {project}_back"),
        "service:tool": ("recreate", f"drift: renamed to {project}-tool-mine"),
        "ambassador-server:db": ("recreate", "drift: restart always -> unless-stopped"),
    }


def test_up_repairs_the_drift_so_that_plan_has_nothing_left_to_change(drifted: Drifted) -> None:
    assert drifted.repair.code == 0
    assert {step: why for step, why in drifted.after.items() if why[0] != "keep"} == {}


def test_the_repaired_containers_have_the_planned_values_again(drifted: Drifted) -> None:
    project = drifted.app.project
    web = inspect(drifted.app, f"{project}-web")["HostConfig"]
    assert (web["Memory"], web["NanoCpus"]) == (256 << 20, 500_000_000)
    assert set(inspect(drifted.app, f"{project}-worker")["NetworkSettings"]["Networks"]) == {
        f"{project}_default", f"{project}_back"}
    names = {c.name for c in drifted.app.containers("h1", role="service", service="tool")}
    assert names == {f"{project}-tool"}
    ambassador = inspect(drifted.app, f"{project}-db-ambassador", "h2")["HostConfig"]["RestartPolicy"]
    assert ambassador["Name"] == "unless-stopped"


def test_ps_says_who_applied_every_container_and_when_and_a_repair_relabels_only_what_it_remade(
    drifted: Drifted,
) -> None:
    outcome = drifted.app.xcompose("ps", "--format", "json")
    assert outcome.code == 0, outcome.output
    rows = json.loads(outcome.stdout)
    project = drifted.app.project
    remade = {f"{project}-web", f"{project}-worker", f"{project}-tool", f"{project}-db-ambassador"}
    assert {row["container"]: row["applied_by"] for row in rows} == {
        row["container"]: SECOND if row["container"] in remade else FIRST for row in rows}
    assert len(rows) == 7  # db, its two ambassadors, web, worker, tool, alone
    for row in rows:
        when = datetime.fromisoformat(row["applied_at"].replace("Z", "+00:00"))
        assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=30)
