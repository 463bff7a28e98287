"""The commands on a project's containers, as a Compose user types them, against in-memory
engines: each routed to the host its service runs on. The same commands run on the lab in
tests/e2e/test_container_commands.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.cli import cli
from xcompose.plan.specs import HostTarget
from xcompose.run.statebox import LABEL_BOX

TOPOLOGY = """\
name: shop
hosts:
  a: {address: 10.0.0.1, docker: "unix:///a.sock"}
  b: {address: 10.0.0.2, docker: "unix:///b.sock"}
services:
  db: {image: redis:7, host: a, expose: [6379], ports: ["127.0.0.1:16379:6379"]}
  app: {image: redis:7, host: b, depends_on: [db], scale: 2}
"""


@pytest.fixture
def engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeEngine]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "compose.yaml").write_text(TOPOLOGY)
    timeline: list[str] = []
    found = {name: FakeEngine(name, timeline=timeline) for name in ("a", "b")}

    def connect(target: HostTarget) -> FakeExecutor:
        return FakeExecutor(target, found[target.name])

    monkeypatch.setattr("xcompose.engines.connect", connect)
    monkeypatch.setenv("XCOMPOSE_OPERATOR", "ops@console")
    assert run("up").exit_code == 0
    for engine in found.values():
        engine.calls.clear()
    return found


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="xcompose", input=stdin)


def states(engine: FakeEngine) -> dict[str, str]:
    """The project's containers (not the boxes where the hosts keep its state)."""
    return {c.name: c.state for c in engine.containers.values() if LABEL_BOX not in c.labels}


def test_stop_then_start_act_on_each_host_and_keep_the_containers(engines: dict[str, FakeEngine]) -> None:
    result = run("stop", "app")
    assert result.exit_code == 0, result.output
    assert states(engines["b"]) == {"shop-app": "exited", "shop-app-2": "exited",
                                    "shop-db-ambassador-b": "running"}
    assert "stopped shop-app on b" in result.stderr and states(engines["a"])["shop-db"] == "running"
    assert run("start").exit_code == 0
    assert set(states(engines["b"]).values()) == {"running"}


def test_stop_without_services_stops_consumers_before_what_they_use(engines: dict[str, FakeEngine]) -> None:
    assert run("stop").exit_code == 0
    stops = [call for call in engines["a"].timeline if call.startswith("stop ")]
    assert stops.index("stop shop-app") < stops.index("stop shop-db-ambassador-b") < stops.index("stop shop-db")


def test_kill_pause_unpause_and_restart(engines: dict[str, FakeEngine]) -> None:
    assert run("pause", "db").exit_code == 0 and states(engines["a"])["shop-db"] == "paused"
    assert run("unpause", "db").exit_code == 0 and states(engines["a"])["shop-db"] == "running"
    assert run("kill", "-s", "SIGTERM", "db").exit_code == 0
    assert "kill shop-db SIGTERM" in engines["a"].calls
    assert run("restart", "db").exit_code == 0 and states(engines["a"])["shop-db"] == "running"


def test_rm_removes_stopped_containers_only_unless_told_to_stop_them(engines: dict[str, FakeEngine]) -> None:
    run("stop", "db")
    assert run("rm", "app", "db").exit_code == 0
    assert "shop-db" not in states(engines["a"]) and "shop-app" in states(engines["b"])
    assert run("rm", "-s", "app").exit_code == 0
    assert {"shop-app", "shop-app-2"}.isdisjoint(states(engines["b"]))


def test_exec_runs_in_the_replica_asked_for_and_passes_its_exit_code_and_input(
    engines: dict[str, FakeEngine],
) -> None:
    engines["b"].exec_results[("sh", "-c", "exit 3")] = (3, "")
    assert run("exec", "-T", "app", "sh", "-c", "exit 3").exit_code == 3
    result = run("exec", "-T", "--index", "2", "-e", "A=1", "-u", "nobody", "app", "cat", stdin="hello")
    assert result.exit_code == 0 and result.stdout == "hello"
    name, argv, how = engines["b"].execs[-1]
    assert (name, argv) == ("shop-app-2", ("cat",))
    assert how is not None and (how.user, how.environment) == ("nobody", (("A", "1"),))


def test_exec_of_a_replica_that_does_not_exist_says_so(engines: dict[str, FakeEngine]) -> None:
    result = run("exec", "-T", "--index", "3", "app", "true")
    assert result.exit_code == 1 and "service app has no container number 3" in result.stderr


def test_port_prints_the_published_address(engines: dict[str, FakeEngine]) -> None:
    result = run("port", "db", "6379")
    assert result.exit_code == 0 and result.stdout.strip() == "127.0.0.1:16379"
    assert run("port", "db", "80").exit_code == 1


def test_top_and_images_show_each_container_by_host(engines: dict[str, FakeEngine]) -> None:
    top = run("top", "app")
    assert top.exit_code == 0 and "shop-app on b" in top.stdout and "shop-app-2 on b" in top.stdout
    images = run("images", "db")
    assert images.exit_code == 0 and "shop-db" in images.stdout and "redis:7" in images.stdout


def test_pull_pulls_each_image_on_the_host_of_its_service(engines: dict[str, FakeEngine]) -> None:
    for engine in engines.values():
        engine.pullable.add("redis:7")
    assert run("pull").exit_code == 0
    assert "pull redis:7" in engines["a"].calls and "pull redis:7" in engines["b"].calls


def test_an_unknown_service_is_a_usage_error(engines: dict[str, FakeEngine]) -> None:
    result = run("stop", "nope")
    assert result.exit_code == 2 and "no such service: nope" in result.stderr


def test_version_prints_the_version() -> None:
    result = run("version", "--short")
    assert result.exit_code == 0 and result.stdout.strip()[0].isdigit()


def test_a_failed_pull_names_the_image_and_host_and_exits_1(engines: dict[str, FakeEngine]) -> None:
    result = run("pull", "db")
    assert result.exit_code == 1 and "pulling redis:7 on host a" in result.stderr


@pytest.mark.parametrize(("text", "seconds"), [
    ("1700000000", 1_700_000_000.0), ("2023-11-14T22:13:20Z", 1_700_000_000.0), ("10m", 1_700_000_000.0 - 600),
])
def test_log_times_read_as_docker_logs_reads_them(text: str, seconds: float) -> None:
    from xcompose.run.logs import point_in_time

    assert point_in_time(text, "--since", now=1_700_000_000.0) == seconds


def test_a_log_time_that_is_none_is_a_usage_error(engines: dict[str, FakeEngine]) -> None:
    result = run("logs", "--since", "yesterday-ish")
    assert result.exit_code == 2 and "--since yesterday-ish: give a time" in result.stderr


def test_the_log_window_becomes_the_docker_cli_flags() -> None:
    from xcompose.engines.base import LogWindow

    assert LogWindow(1.5, None, True).cli_args() == ["--since", "1.500", "--timestamps"]
    assert LogWindow().cli_args() == []


def test_ls_lists_the_projects_on_the_files_hosts(engines: dict[str, FakeEngine]) -> None:
    rows = json.loads(run("ls", "--format", "json").stdout)
    assert rows == [{"name": "shop", "status": "running(5)", "hosts": "a, b"}]
    run("stop")
    assert json.loads(run("ls", "--format", "json").stdout) == []
    assert json.loads(run("ls", "-a", "--format", "json").stdout)[0]["status"] == "exited(5)"


def test_cp_puts_a_local_file_into_the_container_and_gets_it_back(
    engines: dict[str, FakeEngine], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    engines["a"].exec_results[("test", "-d", "/srv/notes.txt")] = (1, "")
    assert run("cp", "notes.txt", "db:/srv/notes.txt").exit_code == 0
    assert "put shop-db:/srv" in engines["a"].calls
    (tmp_path / "back").mkdir()
    result = run("cp", "db:/srv/notes.txt", "back")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "back" / "notes.txt").read_text() == "hello"


def test_cp_needs_exactly_one_side_in_a_service(engines: dict[str, FakeEngine]) -> None:
    assert run("cp", "a.txt", "b.txt").exit_code == 2
    assert run("cp", "db:/a", "app:/b").exit_code == 2


def test_events_merge_every_hosts_stream_with_its_host(engines: dict[str, FakeEngine]) -> None:
    def event(action: str, name: str, service: str) -> dict[str, object]:
        return {"Type": "container", "Action": action, "timeNano": 1_700_000_000_000_000_000,
                "Actor": {"ID": "c1", "Attributes": {"name": name, "io.xcompose.project": "shop",
                                                      "io.xcompose.service": service}}}

    engines["a"].events.append(event("stop", "shop-db", "db"))
    engines["b"].events.append(event("start", "shop-app", "app"))
    text = run("events")
    assert text.exit_code == 0 and "2023-11-14T22:13:20.000+00:00 a container stop shop-db (service=db)" in text.stdout
    lines = [json.loads(line) for line in run("events", "--json", "app").stdout.splitlines()]
    assert [(e["host"], e["Action"]) for e in lines] == [("b", "start")]


def test_run_makes_a_one_off_of_the_service_on_its_host_and_passes_its_code(engines: dict[str, FakeEngine]) -> None:
    engines["b"].exec_results[("migrate", "--check")] = (4, "2 to apply\n")
    result = run("run", "--rm", "-T", "-e", "A=1", "--name", "shop-app-once", "app", "migrate", "--check")
    assert result.exit_code == 4 and result.stdout == "2 to apply\n"
    spec = next(s for s in engines["b"].specs.values() if s.name == "shop-app-once")
    assert ("A", "1") in spec.environment and spec.restart is None
    assert dict(spec.labels)["io.xcompose.role"] == "run"
    assert all(e.aliases == () for e in spec.networks)  # the service's names stay the service's
    assert "shop-app-once" not in states(engines["b"])  # --rm


def test_a_one_off_is_left_alone_by_up(engines: dict[str, FakeEngine]) -> None:
    assert run("run", "-T", "--name", "shop-app-kept", "app", "true").exit_code == 0
    engines["b"].calls.clear()
    assert run("up").exit_code == 0
    assert "shop-app-kept" in states(engines["b"]) and not any("kept" in c for c in engines["b"].calls)


def test_run_brings_up_what_the_service_needs_but_not_the_service(engines: dict[str, FakeEngine]) -> None:
    assert run("down").exit_code == 0
    assert run("run", "-T", "--rm", "app", "true").exit_code == 0
    assert {"shop-db", "shop-db-ambassador"} <= set(states(engines["a"]))
    assert set(states(engines["b"])) == {"shop-db-ambassador-b"}  # the consumer side, without the service


def test_up_labels_every_container_with_who_applied_it_and_when(engines: dict[str, FakeEngine]) -> None:
    made = [c for engine in engines.values() for c in engine.containers.values() if LABEL_BOX not in c.labels]
    assert len(made) == 5 and {c.labels["io.xcompose.applied-by"] for c in made} == {"ops@console"}
    for container in made:
        when = datetime.fromisoformat(container.labels["io.xcompose.applied-at"].replace("Z", "+00:00"))
        assert when.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - when) < timedelta(minutes=5)


def test_an_up_by_another_operator_changes_nothing(engines: dict[str, FakeEngine], monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    monkeypatch.setenv("XCOMPOSE_OPERATOR", "ci@runner")
    result = run("up")
    assert result.exit_code == 0 and "shop is up: nothing to change" in result.stderr
    assert {c.labels["io.xcompose.applied-by"] for e in engines.values() for c in e.containers.values()
            if LABEL_BOX not in c.labels} == {"ops@console"}


def test_ps_json_says_who_applied_each_container_and_when(engines: dict[str, FakeEngine]) -> None:
    rows = json.loads(run("ps", "--format", "json").stdout)
    assert len(rows) == 5 and {row["applied_by"] for row in rows} == {"ops@console"}
    assert all(row["applied_at"].endswith("Z") for row in rows)


def test_run_labels_the_one_off_with_who_ran_it(engines: dict[str, FakeEngine]) -> None:
    assert run("run", "-T", "--name", "shop-app-once", "app", "true").exit_code == 0
    assert engines["b"].named("shop-app-once").labels["io.xcompose.applied-by"] == "ops@console"  # type: ignore[union-attr]
