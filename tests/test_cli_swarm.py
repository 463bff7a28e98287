"""The commands of a project with `engine: swarm`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from xcompose.cli import cli

TOPOLOGY = """\
name: shop
engine: swarm
hosts:
  a: {address: 10.0.0.1, docker: "unix://{sockets}/a.sock"}
  b: {address: 10.0.0.2, docker: "unix://{sockets}/b.sock"}
services:
  db: {image: redis:7, host: a}
  app: {image: redis:7, host: b, links: [db]}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "t.yaml").write_text(TOPOLOGY.replace("{sockets}", str(tmp_path)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["-f", "t.yaml", *args], prog_name="xcompose")


def test_plan_offline_shows_the_swarm_steps_without_ambassadors(folder: Path) -> None:
    result = run("plan", "--offline", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["engine"] == "swarm"
    assert [step["id"] for step in data["steps"]] == ["overlay:default", "service:db", "service:app"]


def test_up_refuses_what_a_swarm_does_not_do_before_asking_any_host(folder: Path) -> None:
    result = run("up", "--no-start")
    assert result.exit_code == 2
    assert "--no-start: not supported with engine: swarm" in result.output


def test_up_of_a_service_the_file_does_not_have_is_refused(folder: Path) -> None:
    result = run("up", "dbb")
    assert result.exit_code == 2 and "no such service: dbb" in result.output


def test_a_manager_that_does_not_answer_stops_plan_and_is_named(folder: Path) -> None:
    result = run("plan")
    assert result.exit_code == 1
    assert "host a (unix://" in result.output and "the swarm's manager is host a" in result.output


def test_down_refuses_rmi_on_a_swarm(folder: Path) -> None:
    result = run("down", "--rmi", "all")
    assert result.exit_code == 2 and "--rmi: not supported with engine: swarm" in result.output
