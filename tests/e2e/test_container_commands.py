"""Compose's commands on the containers of a project split over two hosts, through both
executors: each finds the host of the service it is given, as `docker compose` finds the
container on one host."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment

Deploy = Callable[[str, str], Deployment]
pytestmark = pytest.mark.parametrize("executor", EXECUTORS)

COMPOSE = """\
services:
  db:
    image: redis:7
    ports: ["16379:6379"]
  app:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    depends_on: [db]
"""
PLACEMENT = """\
hosts: {h1: {}, h2: {}}
services:
  db: {host: h1}
  app: {host: h2}
"""


def state(app: Deployment, service: str, host: str) -> str:
    return str(app.container(service, host).attrs["State"]["Status"])


def test_exec_runs_on_the_services_host_with_its_input_and_exit_code(deploy: Deploy, executor: str) -> None:
    app = deploy(f"exec-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    ping = app.xcompose("exec", "-T", "app", "redis-cli", "-h", "db", "ping")
    assert (ping.code, ping.stdout) == (0, "PONG\n"), ping.output
    assert app.xcompose("exec", "-T", "app", "sh", "-c", "echo oops >&2; exit 7").code == 7
    piped = subprocess.run(app.argv("exec", "-T", "-e", "WHO=you", "app", "sh", "-c", 'echo "$WHO"; cat'),
                           input="hello\n", capture_output=True, text=True, timeout=60, check=False)
    assert (piped.returncode, piped.stdout) == (0, "you\nhello\n"), piped.stderr
    user = app.xcompose("exec", "-T", "-u", "nobody", "-w", "/tmp", "db", "sh", "-c", "id -un; pwd")
    assert user.stdout == "nobody\n/tmp\n", user.output


def test_the_lifecycle_commands_reach_each_host(deploy: Deploy, executor: str) -> None:
    app = deploy(f"life-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    assert app.xcompose("stop", "app").code == 0 and state(app, "app", "h2") == "exited"
    assert state(app, "db", "h1") == "running"
    assert app.xcompose("start", "app").code == 0 and state(app, "app", "h2") == "running"
    assert app.xcompose("pause", "db").code == 0 and state(app, "db", "h1") == "paused"
    assert app.xcompose("unpause", "db").code == 0 and state(app, "db", "h1") == "running"
    started = app.container("db", "h1").attrs["State"]["StartedAt"]
    assert app.xcompose("restart", "db").code == 0
    assert app.container("db", "h1").attrs["State"]["StartedAt"] != started
    assert app.xcompose("kill", "app").code == 0 and state(app, "app", "h2") == "exited"
    assert app.xcompose("rm", "app").code == 0 and app.containers("h2", role="service") == []
    app.up()
    assert state(app, "app", "h2") == "running"


def test_top_port_and_images_read_each_host(deploy: Deploy, executor: str) -> None:
    app = deploy(f"show-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    top = app.xcompose("top", "db")
    assert top.code == 0 and "redis-server" in top.stdout, top.output
    port = app.xcompose("port", "db", "6379")
    assert port.code == 0 and "0.0.0.0:16379" in port.stdout.splitlines(), port.output
    images = app.xcompose("images")
    assert images.code == 0 and "redis:7" in images.stdout and "xcompose/tools:latest" in images.stdout


def test_logs_take_composes_window_and_format(deploy: Deploy, executor: str) -> None:
    app = deploy(f"logs-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    plain = app.xcompose("logs", "--no-log-prefix", "--no-color", "db")
    assert plain.code == 0 and "Ready to accept connections" in plain.stdout and "db@h1" not in plain.stdout
    stamped = app.xcompose("logs", "-t", "--no-log-prefix", "db")
    assert [line[:2] for line in stamped.stdout.splitlines() if line] == ["20"] * len(stamped.stdout.splitlines())
    later = app.xcompose("logs", "--since", str(int(time.time()) + 3600), "db")
    assert later.code == 0 and later.stdout.strip() == "", later.output


def test_ls_finds_the_project_on_both_hosts(deploy: Deploy, executor: str) -> None:
    app = deploy(f"ls-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    listed = app.xcompose("ls", "--format", "json")
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows[app.project] == {"name": app.project, "status": "running(4)", "hosts": "h1, h2"}, listed.output


def test_cp_moves_files_both_ways_between_here_and_the_services_host(
    deploy: Deploy, executor: str, tmp_path: Path
) -> None:
    app = deploy(f"cp-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    (tmp_path / "notes.txt").write_text("from here\n")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<p>hi</p>\n")
    assert app.xcompose("cp", str(tmp_path / "notes.txt"), "app:/tmp/renamed.txt").code == 0
    assert app.xcompose("cp", str(tmp_path / "site"), "app:/tmp/").code == 0
    assert app.exec("app", "h2", "cat /tmp/renamed.txt /tmp/site/index.html") == (0, "from here\n<p>hi</p>\n")
    back = tmp_path / "back"
    back.mkdir()
    copied = app.xcompose("cp", "db:/etc/hostname", str(back))
    assert copied.code == 0, copied.output
    assert (back / "hostname").read_text().strip() == app.container("db", "h1").attrs["Config"]["Hostname"]
    assert app.xcompose("cp", "app:/tmp/site", str(back / "site-copy")).code == 0
    assert (back / "site-copy" / "index.html").read_text() == "<p>hi</p>\n"


def test_events_stream_what_happens_on_each_host(deploy: Deploy, executor: str) -> None:
    app = deploy(f"events-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    app.up()
    watcher = app.start("events", "--json")
    try:
        time.sleep(3)  # the streams are open
        assert app.xcompose("restart", "db").code == 0
        assert app.xcompose("stop", "app").code == 0
        deadline, seen = time.monotonic() + 30, set()
        assert watcher.stdout is not None
        os.set_blocking(watcher.stdout.fileno(), False)
        while time.monotonic() < deadline and not {("h1", "start"), ("h2", "stop")} <= seen:
            line = watcher.stdout.readline()
            if not line:
                time.sleep(0.2)
                continue
            event = json.loads(line)
            seen.add((event["host"], event["Action"]))
        assert {("h1", "start"), ("h2", "stop")} <= seen, seen
    finally:
        watcher.terminate()
        watcher.communicate(timeout=30)


def test_run_is_a_one_off_wired_as_the_service_is(deploy: Deploy, executor: str) -> None:
    app = deploy(f"run-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    ping = app.xcompose("run", "--rm", "-T", "app", "redis-cli", "-h", "db", "ping")  # db is brought up first
    assert (ping.code, ping.stdout) == (0, "PONG\n"), ping.output
    assert app.containers("h2", role="service") == []  # the service itself was not started
    assert app.xcompose("run", "--rm", "-T", "app", "sh", "-c", "exit 5").code == 5
    piped = subprocess.run(app.argv("run", "--rm", "-T", "-e", "WHO=you", "app", "sh", "-c", 'echo "$WHO"; cat'),
                           input="hi\n", capture_output=True, text=True, timeout=120, check=False)
    assert (piped.returncode, piped.stdout) == (0, "you\nhi\n"), piped.stderr
    assert [c for c in app.containers("h2") if "-run-" in c.name] == []  # --rm
