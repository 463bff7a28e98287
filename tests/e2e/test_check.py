"""`xcompose check` on the lab: a healthy project passes; each broken hop is named."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.e2e.deploy import credentials_of, plan_for_up, plan_of, rotate_ca
from xcompose.cli import cli
from xcompose.cli.output import QuietReporter
from xcompose.config.load import load_project
from xcompose.engines.fleet import reach
from xcompose.lab import Lab, LabHost
from xcompose.plan.build import build_plan
from xcompose.run.down import down
from xcompose.run.probe import CheckReport, check
from xcompose.run.up import UpOptions, up

TOPOLOGY = """\
name: {project}
hosts:
  db1: {{address: {a1}, docker: "{d1}"}}
  web1: {{address: {a2}, docker: "{d2}"}}
ambassador:
  image: haproxy:2.6
services:
  redis:
    image: redis:7
    host: db1
    expose: [6379]
  deaf:
    image: xcompose/tools:latest
    host: db1
    expose: [7000]
  app:
    image: xcompose/tools:latest
    host: web1
    links: ["redis:db"]
  listener:
    image: xcompose/tools:latest
    host: web1
    links: ["deaf"]
"""


@dataclass
class Deployed:
    project: str
    file: Path
    db: LabHost
    web: LabHost


def _check(d: Deployed) -> CheckReport:
    project = load_project([str(d.file)])
    credentials = credentials_of([d.file])
    plan = build_plan(project, credentials)
    with reach(plan.hosts.values()) as fleet:
        return check(plan, fleet, credentials)


def _up(d: Deployed) -> None:
    plan = plan_for_up([d.file])
    hosts = reach(plan.hosts.values())
    try:
        result = up(plan, hosts, QuietReporter(), UpOptions(wait_timeout=90))
        assert result.ok, [f.error for f in result.walk.failed]
    finally:
        hosts.close()


@pytest.fixture(scope="module")
def deployed(lab: Lab, lab_hosts: list[LabHost], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    folder = tmp_path_factory.mktemp("check")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_STATE_HOME", str(folder / "state"))
    project = f"xchk{uuid.uuid4().hex[:6]}"
    db, web = lab_hosts[0], lab_hosts[1]
    topo = folder / "topology.yaml"
    topo.write_text(TOPOLOGY.format(project=project, a1=db.address, a2=web.address,
                                    d1=db.docker_socket, d2=web.docker_socket))
    d = Deployed(project, topo, db, web)
    try:
        _up(d)
        yield d
    finally:
        plan = plan_of([d.file])
        hosts = reach(plan.hosts.values())
        try:
            down(plan.project, hosts, plan=plan)
        finally:
            hosts.close()
            mp.undo()


def _link(report, target: str):  # type: ignore[no-untyped-def]
    return next(link for link in report.links if link.target == target)


def test_a_working_link_is_open_end_to_end_with_tls_verified(deployed: Deployed) -> None:
    report = _check(deployed)
    assert all(h.ok and h.docker_version for h in report.hosts)
    link = _link(report, "redis")
    assert link.ok and link.end_to_end and link.tls == "verified", link.errors
    assert link.cross_host_ms is not None and link.target_ms is not None


def test_a_target_that_does_not_listen_is_named(deployed: Deployed) -> None:
    link = _link(_check(deployed), "deaf")
    assert not link.ok
    assert any("target deaf on db1 is not listening on 7000" in e for e in link.errors), link.errors


def test_cli_exit_code_and_json(deployed: Deployed) -> None:
    result = CliRunner().invoke(cli, ["-f", str(deployed.file), "check", "--format", "json"])
    assert result.exit_code == 1, result.output  # the deaf target
    data = json.loads(result.output)
    assert data["ok"] is False and any("deaf" in e for e in data["errors"])
    assert {link["target"] for link in data["links"] if link["ok"]} == {"redis"}


def test_a_stopped_server_ambassador_is_named(lab: Lab, deployed: Deployed) -> None:
    client = lab.docker_client(deployed.db)
    name = f"{deployed.project}-redis-ambassador"
    try:
        client.containers.get(name).stop(timeout=2)
        link = _link(_check(deployed), "redis")
        assert any(f"server ambassador {name} on db1 is not running" in e for e in link.errors), link.errors
    finally:
        client.containers.get(name).start()
        client.close()


def test_a_rotated_ca_before_up_is_reported_as_tls_refused_then_up_heals_it(deployed: Deployed) -> None:
    rotate_ca([deployed.file])
    link = _link(_check(deployed), "redis")
    assert link.tls == "refused" and any("TLS refused" in e for e in link.errors), link.errors
    _up(deployed)  # new certificates -> new config hash -> the ambassadors are re-created
    link = _link(_check(deployed), "redis")
    assert link.ok and link.tls == "verified", link.errors
