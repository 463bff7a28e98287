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
