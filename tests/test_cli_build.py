"""`xcompose build`, `up --build` and `plan` with built images, through the command line
against in-memory engines (the real ones run in tests/e2e/test_build.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.cli import cli

COMPOSE = """\
name: demo
hosts:
  h1: {address: 10.0.0.1, docker: "unix:///h1.sock"}
  h2: {address: 10.0.0.2, docker: "unix:///h2.sock"}
services:
  web:
    build: ./web
    host: h1
  client:
    image: redis:7
    host: h2
    depends_on: [web]
"""


@pytest.fixture
def engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeEngine]:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM debian:bookworm\nEXPOSE 8000\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(tmp_path)
    found = {name: FakeEngine(name) for name in ("h1", "h2")}
    # What the Dockerfile EXPOSEs, once the image is built.
    found["h1"].image_ports["demo-web"] = ("8000/tcp",)
    monkeypatch.setattr("xcompose.engines.connect", lambda target: FakeExecutor(target, found[target.name]))
    return found


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["-f", "compose.yaml", *args], prog_name="xcompose")


def events(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_build_builds_on_the_services_host_only(engines: dict[str, FakeEngine]) -> None:
    result = run("build")
    assert result.exit_code == 0, result.output
    assert [c for c in engines["h1"].calls if c.startswith("build")] == ["build demo-web"]
    assert not engines["h2"].calls
    assert "building demo-web for web on h1" in result.stderr
    assert "web | Step 1/1 : FROM demo-web" in result.stderr


def test_build_options_reach_the_engine_and_quiet_prints_nothing(engines: dict[str, FakeEngine]) -> None:
    result = run("build", "--no-cache", "--pull", "-q", "web")
    assert (result.exit_code, result.output) == (0, "")
    spec, names = engines["h1"].builds[0]
    assert (spec.no_cache, spec.pull) == (True, True)
    assert names == ["Dockerfile"]


def test_build_of_a_service_without_build_says_so_and_of_an_unknown_one_is_a_usage_error(
    engines: dict[str, FakeEngine]
) -> None:
    result = run("build", "client")
    assert result.exit_code == 0 and "client has no `build:` section: nothing to build" in result.stderr
    assert not engines["h1"].calls and not engines["h2"].calls
    result = run("build", "nope")
    assert (result.exit_code, result.stderr.strip()) == (2, "error: no such service: nope")


def test_a_failed_build_exits_1_with_the_builders_message(engines: dict[str, FakeEngine]) -> None:
    engines["h1"].fail_build.add("demo-web")
    result = run("build")
    assert result.exit_code == 1
    assert "error: building web on host h1: The command '/bin/sh -c false' returned a non-zero code: 1" in result.stderr


def test_up_builds_first_and_plans_with_what_the_built_image_exposes(engines: dict[str, FakeEngine]) -> None:
    result = run("up", "--format", "json")
    assert result.exit_code == 0, result.output
    assert {"event": "build", "service": "web", "host": "h1", "line": "Step 1/1 : FROM demo-web"} in events(result)
    # web declares no port: its image's EXPOSE 8000, read after the build, brings it to h2.
    assert engines["h2"].named("demo-web-ambassador-h2") is not None

    again = run("up")
    assert again.exit_code == 0 and "demo is up: nothing to change" in again.stderr
    assert [c for c in engines["h1"].calls if c.startswith("build")] == ["build demo-web"]


def test_build_then_plan_shows_the_recreate_and_up_does_it(engines: dict[str, FakeEngine], tmp_path: Path) -> None:
    assert run("up").exit_code == 0
    (tmp_path / "web" / "Dockerfile").write_text("FROM debian:bookworm\nEXPOSE 8000\nENV V=2\n")
    assert run("build", "web").exit_code == 0
    steps = {s["id"]: s for s in json.loads(run("plan", "--format", "json").stdout)["steps"]}
    assert steps["service:web"]["action"] == "recreate"
    assert [i for i, s in steps.items() if s["action"] != "keep"] == ["service:web"]
    result = run("up", "--format", "json")
    changed = {e["id"] for e in events(result) if e.get("status") == "done" and e["action"] != "keep"}
    assert changed == {"service:web"}


def test_up_build_rebuilds_and_an_unchanged_image_recreates_nothing(engines: dict[str, FakeEngine]) -> None:
    assert run("up").exit_code == 0
    result = run("up", "--build")
    assert result.exit_code == 0 and "demo is up: nothing to change" in result.stderr
    assert [c for c in engines["h1"].calls if c.startswith("build")] == ["build demo-web"] * 2
