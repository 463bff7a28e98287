"""The commands as a user runs them without reachable hosts: what they print, their exit
codes, and that previews write nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from xcompose import __version__
from xcompose.cli import cli
from xcompose.plan.specs import HostTarget

TOPOLOGY = """\
name: shop
hosts:
  a: {address: 10.0.0.1, docker: "unix://{sockets}/a.sock"}
  b: {address: 10.0.0.2, docker: "unix://{sockets}/b.sock"}
services:
  db: {image: redis:7, host: a, expose: [6379]}
  app: {image: redis:7, host: b, links: [db]}
"""


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    (tmp_path / "t.yaml").write_text(TOPOLOGY.replace("{sockets}", str(tmp_path)))
    monkeypatch.chdir(tmp_path)
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["-f", "t.yaml", *args], prog_name="xcompose")


@pytest.mark.parametrize("command", [["plan", "--offline"], ["plan"], ["config"], ["check"], ["ps"]])
def test_a_command_that_changes_nothing_writes_no_key_or_lock(state: Path, command: list[str]) -> None:
    run(*command)
    assert not state.exists()


def test_plan_with_a_host_down_names_it_and_exits_1(state: Path) -> None:
    result = run("plan")
    assert result.exit_code == 1
    assert "error: host a (unix://" in result.stderr and "error: host b (unix://" in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_the_offline_plan_of_tls_ambassadors_is_json_with_notes(state: Path) -> None:
    data = json.loads(run("plan", "--offline", "--format", "json").stdout)
    assert data["notes"] == []  # offline: the credentials were not read, so nothing is said
    assert [s["id"] for s in data["steps"] if s["kind"].startswith("ambassador")] == [
        "ambassador-server:db", "ambassador-client:db@b"]


def test_ps_with_every_host_down_prints_the_empty_table_and_each_host(state: Path) -> None:
    result = run("ps")
    assert result.exit_code == 1
    assert "SERVICE" in result.stdout
    assert [line.split()[2] for line in result.stderr.splitlines() if line.startswith("error: host")] == ["a", "b"]


def test_up_of_an_unknown_service_is_a_usage_error(state: Path) -> None:
    result = run("up", "nope")
    assert (result.exit_code, result.stderr.strip()) == (2, "error: no such service: nope")
    assert not state.exists()


def test_help_lists_every_command_and_does_not_load_the_lab() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "xcompose", "--help"],
                          capture_output=True, text=True, timeout=60, check=True)
    for command in ("plan", "up", "down", "ps", "logs", "config", "schema", "check", "pki", "lab"):
        assert f"\n  {command} " in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "xcompose.cli" in imported and not {m for m in imported if m.startswith("xcompose.lab")}


def test_version_loads_no_command_and_none_of_the_heavy_libraries() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "xcompose", "--version"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith("xcompose, version ")
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert {m for m in imported if m.startswith("xcompose.cli.")} == {"xcompose.cli.main"}
    assert not imported & {"networkx", "pydantic", "docker", "cryptography", "paramiko", "yaml"}


def test_a_command_is_loaded_when_it_is_used() -> None:
    result = run("version", "--short")
    assert result.exit_code == 0 and result.stdout.strip() == __version__


@pytest.mark.parametrize(("value", "seconds"), [("7", 7.0), ("1m30s", 90.0)])
def test_host_timeout_bounds_every_host_without_its_own(
    state: Path, monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    from xcompose.engines import fleet

    seen: list[float | None] = []
    real_reach = fleet.reach

    def spy(targets: Iterable[HostTarget], make: Any = None, *, lost_after: float | None = None) -> fleet.Fleet:
        seen.append(lost_after)
        return real_reach(targets, make, lost_after=lost_after)

    monkeypatch.setattr(fleet, "reach", spy)
    CliRunner().invoke(cli, ["--host-timeout", value, "-f", "t.yaml", "ps"], prog_name="xcompose")
    monkeypatch.setenv("XCOMPOSE_HOST_TIMEOUT", value)
    run("ps")
    assert seen == [seconds, seconds]


@pytest.mark.parametrize("value", ["0.5", "abc", "inf", "-3"])
def test_a_host_timeout_that_is_no_bound_is_a_usage_error(state: Path, value: str) -> None:
    result = CliRunner().invoke(cli, ["--host-timeout", value, "-f", "t.yaml", "ps"], prog_name="xcompose")
    assert result.exit_code == 2
    assert "Invalid value for '--host-timeout'" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--force-recreate", "--no-recreate"], "contradict"),
    (["--no-deps"], "--no-deps needs the services"),
    (["--scale", "db"], "--scale db: give SERVICE=N"),
    (["--scale", "db=0"], "N at least 1"),
    (["--scale", "nope=2"], "--scale: no such service: nope"),
])
def test_up_flags_that_cannot_be_carried_out_are_usage_errors(state: Path, args: list[str], message: str) -> None:
    result = run("up", *args)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not state.exists()


def test_scale_and_pull_given_to_up_override_the_file() -> None:
    from xcompose.cli.commands import with_overrides
    from xcompose.config.model import Topology
    from xcompose.config.project import Project

    topology = Topology.model_validate({"services": {
        "db": {"image": "redis:7", "deploy": {"replicas": 2}}, "app": {"build": ".", "pull_policy": "build"}}})
    project = with_overrides(Project("shop", topology), {"db": 4}, "always")
    db, app = project.topology.services["db"], project.topology.services["app"]
    assert (db.replicas(), db.pull_policy, app.pull_policy) == (4, "always", "build")


@pytest.mark.parametrize(("flag", "lines"), [
    ("--services", ["db", "app"]), ("--images", ["redis:7", "redis:7"]), ("--hosts", ["a", "b"]),
    ("--volumes", []),
])
def test_config_lists_what_compose_lists(state: Path, flag: str, lines: list[str]) -> None:
    result = run("config", flag)
    assert result.exit_code == 0 and result.stdout.splitlines() == lines


def test_config_quiet_only_checks_and_json_and_output_file_say_the_same(state: Path, tmp_path: Path) -> None:
    assert (run("config", "-q").exit_code, run("config", "-q").stdout) == (0, "")
    as_json = json.loads(run("config", "--format", "json").stdout)
    assert run("config", "-o", str(tmp_path / "out.yaml")).exit_code == 0
    import yaml

    assert yaml.safe_load((tmp_path / "out.yaml").read_text()) == as_json


def test_config_hash_is_the_container_config_each_service_runs_with(state: Path) -> None:
    lines = run("config", "--hash", "*").stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["app", "db"] and all(len(line.split()[1]) == 64 for line in lines)
    assert run("config", "--hash", "nope").exit_code == 2


def test_up_in_json_says_a_preflight_failure_as_events_too(state: Path) -> None:
    result = run("up", "--format", "json", "--lock-wait", "0")
    assert result.exit_code == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["error", "error", "error"]
    assert "host a (unix://" in events[0]["text"] and events[-1]["text"].startswith("nothing was changed")


def test_shell_completion_offers_the_services_of_the_files_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web: {image: a}\n  worker: {image: a}\n  db: {image: b}\n")
    monkeypatch.chdir(tmp_path)
    done = subprocess.run([sys.executable, "-m", "xcompose", "logs", "w"], capture_output=True, text=True, check=False,
                          env={**os.environ, "COMP_WORDS": "xcompose logs w", "COMP_CWORD": "2",
                               "_XCOMPOSE_COMPLETE": "bash_complete"})
    assert done.stdout.split() == ["plain,web", "plain,worker"]


def test_the_operator_is_the_user_at_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass
    import socket

    from xcompose.run.operator import operator

    monkeypatch.delenv("XCOMPOSE_OPERATOR", raising=False)
    assert operator() == f"{getpass.getuser()}@{socket.gethostname()}"


def test_xcompose_operator_names_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    from xcompose.run.operator import operator

    monkeypatch.setenv("XCOMPOSE_OPERATOR", "deploy-bot@ci")
    assert operator() == "deploy-bot@ci"


def test_up_reads_ahead_the_ports_of_images_it_does_not_build(load_text: Any) -> None:
    from xcompose.cli.planning import make_plan, unbuilt_images

    project = load_text("""
        hosts: {a: {}, b: {}}
        services:
          web: {image: shop/web:1, host: a, links: [db, app]}
          db: {image: shop/db:1, host: b}
          app: {image: shop/app:1, host: b, build: .}
    """)
    assert unbuilt_images(project, make_plan(project)) == {"b": {"shop/db:1"}}
