"""`up` and `down` against in-memory engines: order, convergence, failure and resume.

The decisions are pure (converge.py); these tests check that the apply layer carries them
out as a user relies on. The same behaviours run for real on the lab in tests/e2e/."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeEngine, FakeExecutor
from tests.planning import S
from xcompose.cli.output import QuietReporter
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.engines.fleet import Fleet, reach
from xcompose.live import LiveContainer
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.converge import StepAction, decide
from xcompose.plan.specs import UploadFile
from xcompose.plan.steps import Plan, ServiceStep, Step, StepId
from xcompose.run.down import DownOptions, down
from xcompose.run.hostpki import HostPki
from xcompose.run.statebox import box_name
from xcompose.run.up import UpOptions, ensure_image, up
from xcompose.run.walk import StepResult


def redis_topology(**overrides: Any) -> dict[str, Any]:
    topology: dict[str, Any] = {
        "hosts": {
            "big-server": {"address": "10.0.0.1", "docker": "unix:///a.sock"},
            "client-server": {"address": "10.0.0.2", "docker": "unix:///b.sock"},
        },
        "services": {
            "redis": {"image": "redis:7", "host": "big-server", "expose": [6379]},
            "redis-cli": {"image": "redis:7", "host": "client-server", "links": ["redis:redis"]},
        },
    }
    topology["services"].update(overrides)
    return topology


# One CA and one set of certificates for every plan of a test run, as `up` keeps them.
CREDENTIALS = Credentials("demo", CertificateAuthority.new("demo"))


def make_plan(topology: dict[str, Any]) -> Plan:
    project = Project(name="demo", topology=Topology.model_validate(topology), files=[Path("t.yaml")])
    return build_plan(project, CREDENTIALS)


class Recorder(QuietReporter):
    def __init__(self) -> None:
        self.finished: list[tuple[str, str, str]] = []

    def step_finished(self, step: Step, action: StepAction, result: StepResult[StepId]) -> None:
        self.finished.append((str(step.id), action.action, result.outcome))


@pytest.fixture
def engines() -> dict[str, FakeEngine]:
    timeline: list[str] = []
    return {name: FakeEngine(name, timeline=timeline) for name in ("big-server", "client-server")}


def connect_to(engines: dict[str, FakeEngine], plan: Plan) -> Fleet:
    return reach(plan.hosts.values(), lambda t: FakeExecutor(t, engines[t.name]))


def names(engine: FakeEngine) -> set[str]:
    return {c.name for c in engine.containers.values()}


def test_up_creates_each_side_of_a_cross_host_link_on_its_own_host(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    result = up(plan, connect_to(engines, plan), QuietReporter())
    assert result.ok
    assert names(engines["big-server"]) == {"demo-redis", "demo-redis-ambassador"}
    assert names(engines["client-server"]) == {
        "demo-redis-cli", "demo-redis-ambassador-client-server"}


def test_up_starts_the_service_then_server_then_client_ambassador_then_the_consumer(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    timeline = engines["big-server"].timeline
    starts = [c.split()[1] for c in timeline if c.startswith("start")]
    assert starts == ["demo-redis", "demo-redis-ambassador", "demo-redis-ambassador-client-server",
                      "demo-redis-cli"]


def test_a_second_up_with_nothing_changed_touches_nothing(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    for engine in engines.values():
        engine.calls.clear()
    recorder = Recorder()
    result = up(plan, connect_to(engines, plan), recorder)
    assert result.ok
    assert {action for _, action, _ in recorder.finished} == {"keep"}
    assert all(engine.calls == [] for engine in engines.values())


def test_a_changed_service_is_recreated_and_its_consumer_kept(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    consumer_id = engines["client-server"].named("demo-redis-cli").id  # type: ignore[union-attr]
    changed = make_plan(redis_topology(redis={
        "image": "redis:7", "host": "big-server", "expose": [6379], "command": ["redis-server", "--save", ""]}))
    recorder = Recorder()
    assert up(changed, connect_to(engines, changed), recorder).ok
    assert ("service:redis", "recreate", "done") in recorder.finished
    assert engines["client-server"].named("demo-redis-cli").id == consumer_id  # type: ignore[union-attr]
    assert names(engines["big-server"]) == {"demo-redis", "demo-redis-ambassador"}


def test_moving_a_service_recreates_it_on_the_new_host_and_keeps_its_consumer(
    engines: dict[str, FakeEngine],
) -> None:
    engines["third"] = FakeEngine("third", timeline=engines["big-server"].timeline)
    topology = redis_topology()
    topology["hosts"]["third"] = {"address": "10.0.0.3", "docker": "unix:///c.sock"}
    plan = make_plan(topology)
    up(plan, connect_to(engines, plan), QuietReporter())
    consumer_id = engines["client-server"].named("demo-redis-cli").id  # type: ignore[union-attr]

    topology["services"]["redis"]["host"] = "third"
    moved = make_plan(topology)
    recorder = Recorder()
    assert up(moved, connect_to(engines, moved), recorder).ok
    assert names(engines["big-server"]) == set()
    assert names(engines["third"]) == {"demo-redis", "demo-redis-ambassador"}
    assert engines["client-server"].named("demo-redis-cli").id == consumer_id  # type: ignore[union-attr]
    actions = {step: action for step, action, _ in recorder.finished}
    assert actions["service:redis-cli"] == "keep"
    assert actions["service:redis"] == "recreate"


def test_a_failed_step_stops_its_dependents_and_the_next_up_resumes(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology())
    engines["big-server"].fail_create.add("demo-redis-ambassador")
    result = up(plan, connect_to(engines, plan), QuietReporter())
    assert not result.ok
    failed = result.walk.failed[0]
    assert failed.step_id == S("ambassador-server:redis")
    assert "Conflict creating demo-redis-ambassador" in (failed.error or "")
    assert engines["client-server"].named("demo-redis-cli") is None

    engines["big-server"].fail_create.clear()
    assert up(plan, connect_to(engines, plan), QuietReporter()).ok
    assert len(engines["big-server"].containers) == 2
    assert len(engines["client-server"].containers) == 2


def test_a_missing_image_that_cannot_be_pulled_fails_with_dockers_message(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology(redis={"image": "postgres:16", "host": "big-server", "expose": [5432]}))
    result = up(plan, connect_to(engines, plan), QuietReporter())
    assert "pull access denied for postgres:16" in (result.walk.failed[0].error or "")


def test_an_image_found_on_a_host_during_a_run_is_not_asked_for_again(
    engines: dict[str, FakeEngine], monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = make_plan(redis_topology(cache={"image": "redis:7", "host": "big-server"}))
    executor = FakeExecutor(plan.hosts["big-server"], engines["big-server"])
    asked: list[str] = []
    original = FakeExecutor.image_id
    monkeypatch.setattr(FakeExecutor, "image_id", lambda self, image: asked.append(image) or original(self, image))
    present: set[tuple[str, str]] = set()
    for service in ("redis", "cache"):
        step = plan.step(S(f"service:{service}"))
        assert isinstance(step, ServiceStep)
        ensure_image(executor, step, QuietReporter(), present)
    assert asked == ["redis:7"]


def test_an_image_is_pulled_for_the_services_platform(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology(redis={"image": "postgres:16", "host": "big-server", "expose": [5432],
                                           "platform": "linux/arm64"}))
    up(plan, connect_to(engines, plan), QuietReporter())
    assert "pull postgres:16 for linux/arm64" in engines["big-server"].calls


def test_services_removed_from_the_file_are_kept_and_named_unless_orphans_are_to_go(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology(extra={"image": "redis:7", "host": "big-server"}))
    up(plan, connect_to(engines, plan), QuietReporter())
    smaller = make_plan(redis_topology())
    result = up(smaller, connect_to(engines, smaller), QuietReporter())
    assert (result.kept_orphans, result.removed_orphans) == (["demo-extra on big-server"], [])
    assert "demo-extra" in names(engines["big-server"])
    result = up(smaller, connect_to(engines, smaller), QuietReporter(), UpOptions(remove_orphans=True))
    assert result.removed_orphans == ["demo-extra on big-server"]
    assert "demo-extra" not in names(engines["big-server"])


def test_an_ambassador_no_longer_needed_always_goes(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    together = make_plan(redis_topology(**{"redis-cli": {"image": "redis:7", "host": "big-server",
                                                        "links": ["redis:redis"]}}))
    result = up(together, connect_to(engines, together), QuietReporter())
    assert result.ok and "demo-redis-ambassador-client-server" not in names(engines["client-server"])


def test_force_recreate_makes_every_service_container_anew_and_no_recreate_none(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    before = {c.name: c.id for e in engines.values() for c in e.containers.values()}
    recorder = Recorder()
    assert up(plan, connect_to(engines, plan), recorder, UpOptions(recreate="always")).ok
    assert {(step, action) for step, action, _ in recorder.finished if step.startswith("service:")} == {
        ("service:redis", "recreate"), ("service:redis-cli", "recreate")}
    after = {c.name: c.id for e in engines.values() for c in e.containers.values()}
    assert after["demo-redis"] != before["demo-redis"]
    assert after["demo-redis-ambassador"] == before["demo-redis-ambassador"]  # ambassadors: when changed only
    changed = make_plan(redis_topology(redis={"image": "redis:7", "host": "big-server", "expose": [6379],
                                              "command": ["redis-server", "--save", ""]}))
    assert up(changed, connect_to(engines, changed), QuietReporter(), UpOptions(recreate="never")).ok
    assert engines["big-server"].named("demo-redis").id == after["demo-redis"]  # type: ignore[union-attr]


def test_no_deps_brings_up_the_service_alone(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    options = UpOptions(services=("redis-cli",), no_deps=True)
    assert up(plan, connect_to(engines, plan), QuietReporter(), options).ok
    assert names(engines["client-server"]) == {"demo-redis-cli"} and names(engines["big-server"]) == set()


def test_an_unreachable_host_is_reported_by_preflight(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    engines["client-server"].down = True
    hosts = connect_to(engines, plan)
    assert [e.host for e in hosts.errors] == ["client-server"]
    assert set(hosts.executors) == {"big-server"}


def test_down_removes_containers_and_networks_but_keeps_volumes(engines: dict[str, FakeEngine]) -> None:
    topology = redis_topology(redis={"image": "redis:7", "host": "big-server", "expose": [6379],
                                     "volumes": ["data:/data"]})
    topology["volumes"] = {"data": None}
    plan = make_plan(topology)
    up(plan, connect_to(engines, plan), QuietReporter())
    result = down("demo", connect_to(engines, plan), plan=plan)
    assert result.ok
    for engine in engines.values():
        assert engine.containers == {} and engine.networks == {}
    assert set(engines["big-server"].volumes) == {"demo_data"}
    down("demo", connect_to(engines, plan), plan=plan, options=DownOptions(volumes=True))
    assert engines["big-server"].volumes == {}


def test_down_keeps_the_projects_ca_on_the_hosts_unless_volumes_go_too(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    fleet = connect_to(engines, plan)
    store = HostPki(fleet.executors, "demo", "ann@laptop")
    store.read()
    store.save(store.ensure_ca())
    down("demo", fleet, plan=plan)
    assert all(e.named(box_name("demo", "pki")) is not None for e in engines.values())
    result = down("demo", fleet, plan=plan, options=DownOptions(volumes=True))
    assert all(e.named(box_name("demo", "pki")) is None for e in engines.values())
    assert "the project's PKI copy on big-server" in result.removed


def test_down_removes_consumers_before_what_they_consume(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    engines["big-server"].calls.clear()
    down("demo", connect_to(engines, plan), plan=plan)
    removed = [c.split()[1] for c in engines["big-server"].calls if c.startswith("remove")]
    assert removed == ["demo-redis-ambassador", "demo-redis"]


def test_every_stop_waits_the_grace_period_the_container_was_made_with(engines: dict[str, FakeEngine]) -> None:
    graceful = {"image": "redis:7", "host": "big-server", "expose": [6379], "stop_grace_period": "45s"}
    extra = {"image": "redis:7", "host": "big-server", "stop_grace_period": "1m"}
    plan = make_plan(redis_topology(redis=graceful, extra=extra))
    up(plan, connect_to(engines, plan), QuietReporter())
    stops = engines["big-server"].stop_timeouts
    # replaced (its new spec asks for 5 s, the running one was made with 45 s), orphan, then down
    changed = make_plan(redis_topology(redis={**graceful, "stop_grace_period": "5s"}))
    up(changed, connect_to(engines, changed), QuietReporter(), UpOptions(remove_orphans=True))
    assert sorted(stops) == [("demo-extra", 60), ("demo-redis", 45)]
    stops.clear()
    down("demo", connect_to(engines, changed), plan=changed)
    assert dict(stops) == {"demo-redis": 5, "demo-redis-ambassador": None}


def test_down_with_one_host_unreachable_cleans_the_others_and_reports_it(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    engines["client-server"].down = True
    result = down("demo", connect_to(engines, plan), plan=plan)
    assert not result.ok
    assert "client-server" in result.errors[0]
    assert engines["big-server"].containers == {}
    engines["client-server"].down = False
    assert down("demo", connect_to(engines, plan), plan=plan).ok
    assert engines["client-server"].containers == {}


def test_up_of_one_service_brings_up_only_it_and_what_it_needs(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology(other={"image": "redis:7", "host": "big-server"}))
    assert up(plan, connect_to(engines, plan), QuietReporter(), UpOptions(services=("redis-cli",))).ok
    assert names(engines["big-server"]) == {"demo-redis", "demo-redis-ambassador"}
    assert names(engines["client-server"]) == {
        "demo-redis-cli", "demo-redis-ambassador-client-server"}


class NeverHealthy(FakeExecutor):
    """An engine whose containers stay `starting` forever."""

    def inspect(self, container_id: str):  # type: ignore[no-untyped-def]
        return replace(super().inspect(container_id), health="starting")


def test_a_readiness_timeout_names_what_was_awaited(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology(redis={
        "image": "redis:7", "host": "big-server", "expose": [6379],
        "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "1s"}}))
    hosts = reach(plan.hosts.values(), lambda t: NeverHealthy(t, engines[t.name]))
    result = up(plan, hosts, QuietReporter(), UpOptions(wait_timeout=0.3))
    failure = result.walk.failed[0]
    assert failure.step_id == S("service:redis")
    assert failure.error == (
        "service:redis on big-server: timed out after 0.3s waiting for demo-redis "
        "to become healthy (health: starting)")
    assert result.walk.results[S("service:redis-cli")].outcome == "not-started"


class CrashesOnStart(FakeExecutor):
    def inspect(self, container_id: str):  # type: ignore[no-untyped-def]
        return replace(super().inspect(container_id), state="exited", exit_code=3)

    def logs(self, container_id: str, *, follow: bool = False, tail: int | None = None, window: object = None):  # type: ignore[no-untyped-def]
        yield "redis: bad config line 3"


def test_a_container_that_exits_fails_its_step_with_its_exit_code_and_last_output(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology())
    hosts = reach(plan.hosts.values(), lambda t: CrashesOnStart(t, engines[t.name]))
    failure = up(plan, hosts, QuietReporter()).walk.failed[0]
    assert failure.step_id == S("service:redis")
    assert failure.error == (
        "service:redis on big-server: container exited with code 3; last output:\n"
        "redis: bad config line 3")


INSPECTED: list[str] = []


class CountsInspects(FakeExecutor):
    def inspect(self, container_id: str):  # type: ignore[no-untyped-def]
        found = super().inspect(container_id)
        INSPECTED.append(found.name)
        return found


def test_an_ambassador_is_ready_once_its_probe_passes_without_an_inspect(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    INSPECTED.clear()
    assert up(plan, reach(plan.hosts.values(), lambda t: CountsInspects(t, engines[t.name])), QuietReporter()).ok
    assert sorted(INSPECTED) == ["demo-redis", "demo-redis-cli"]
    probed = [name for name, _, _ in engines["big-server"].execs + engines["client-server"].execs]
    assert sorted(probed) == ["demo-redis-ambassador", "demo-redis-ambassador-client-server"]


LAUNCHED: list[tuple[str, bool]] = []


class LooksAtStart(CountsInspects):
    """The look that comes with a start (one session over ssh) is not counted as an inspect."""

    def launch(self, container_id: str, files: Sequence[UploadFile], *, inspect: bool) -> LiveContainer | None:
        super().launch(container_id, files, inspect=False)
        LAUNCHED.append((self._find(container_id).name, inspect))
        return self._find(container_id) if inspect else None


def test_a_service_seen_running_as_it_starts_is_not_inspected_again(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    INSPECTED.clear()
    LAUNCHED.clear()
    assert up(plan, reach(plan.hosts.values(), lambda t: LooksAtStart(t, engines[t.name])), QuietReporter()).ok
    assert INSPECTED == []
    assert sorted(LAUNCHED) == [("demo-redis", True), ("demo-redis-ambassador", False),
                                ("demo-redis-ambassador-client-server", False), ("demo-redis-cli", True)]


def test_a_service_with_post_start_hooks_is_looked_at_after_them(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_with_hooks(post_start=[{"command": ["true"]}]))
    INSPECTED.clear()
    LAUNCHED.clear()
    assert up(plan, reach(plan.hosts.values(), lambda t: LooksAtStart(t, engines[t.name])), QuietReporter()).ok
    assert ("demo-redis", False) in LAUNCHED and INSPECTED == ["demo-redis"]


class AmbassadorsCrash(FakeExecutor):
    def start(self, container_id: str) -> None:
        super().start(container_id)
        current = self._find(container_id)
        if "ambassador" in current.name:
            self.engine.containers[current.id] = replace(current, state="exited", exit_code=3)


def test_an_ambassador_that_exits_fails_its_step_with_its_exit_code_though_its_probe_came_first(
    engines: dict[str, FakeEngine],
) -> None:
    plan = make_plan(redis_topology())
    hosts = reach(plan.hosts.values(), lambda t: AmbassadorsCrash(t, engines[t.name]))
    failure = up(plan, hosts, QuietReporter()).walk.failed[0]
    assert failure.step_id == S("ambassador-server:redis")
    assert "container exited with code 3" in (failure.error or "")


def test_a_failed_create_puts_the_old_container_back(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    up(plan, connect_to(engines, plan), QuietReporter())
    old = engines["big-server"].named("demo-redis")
    changed = make_plan(redis_topology(redis={
        "image": "redis:7", "host": "big-server", "expose": [6379], "user": "redis"}))
    engines["big-server"].fail_create.add("demo-redis")
    result = up(changed, connect_to(engines, changed), QuietReporter())
    assert not result.ok
    restored = engines["big-server"].named("demo-redis")
    assert restored is not None and old is not None
    assert (restored.id, restored.state) == (old.id, "running")


def test_a_plan_without_certificates_for_its_tls_ambassadors_is_not_carried_out(
    engines: dict[str, FakeEngine],
) -> None:
    project = Project(name="demo", topology=Topology.model_validate(redis_topology()), files=[Path("t.yaml")])
    unsigned = build_plan(project, Credentials.none("demo"))
    with pytest.raises(ValueError, match="without the project's credentials"):
        up(unsigned, connect_to(engines, unsigned), QuietReporter())
    assert all(engine.calls == [] for engine in engines.values())


def _with_secret(password: bytes) -> Plan:
    topology = redis_topology(redis={"image": "redis:7", "host": "big-server", "expose": [6379],
                                     "secrets": [{"source": "pw", "uid": 999, "mode": 0o440}]})
    topology["secrets"] = {"pw": {"environment": "PW"}}
    project = Project(name="demo", topology=Topology.model_validate(topology), files=[Path("t.yaml")],
                      contents={("secrets", "pw"): password})
    return build_plan(project, CREDENTIALS)


def test_a_services_secrets_are_uploaded_between_create_and_start(engines: dict[str, FakeEngine]) -> None:
    plan = _with_secret(b"hunter2")
    assert up(plan, connect_to(engines, plan), QuietReporter()).ok
    engine = engines["big-server"]
    calls = [c for c in engine.calls if c.endswith(("demo-redis", "demo-redis:/"))]
    assert calls[-3:] == ["create demo-redis", "put demo-redis:/", "start demo-redis"]
    container = engine.named("demo-redis")
    assert container is not None
    [(path, tar_bytes)] = engine.archives[container.id]
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        [member] = tar.getmembers()
        assert (path, member.name, member.mode, member.uid, member.gid) == ("/", "run/secrets/pw", 0o440, 999, 0)
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"hunter2"
    assert "hunter2" not in repr(engine.specs[container.id])


def test_a_changed_secret_recreates_the_service_that_uses_it_and_nothing_else(
    engines: dict[str, FakeEngine],
) -> None:
    plan = _with_secret(b"hunter2")
    up(plan, connect_to(engines, plan), QuietReporter())
    same = Recorder()
    assert up(_with_secret(b"hunter2"), connect_to(engines, plan), same).ok
    assert {action for _, action, _ in same.finished} == {"keep"}
    changed = _with_secret(b"correct horse")
    recorder = Recorder()
    assert up(changed, connect_to(engines, changed), recorder).ok
    assert [(step, action) for step, action, _ in recorder.finished if action != "keep"] == [
        ("service:redis", "recreate")]
    live, _ = connect_to(engines, plan).read_live("demo")
    assert decide(plan, live).actions[S("service:redis")] == StepAction("recreate", "secrets or configs changed")


def redis_with_replicas(count: int) -> dict[str, Any]:
    return redis_topology(redis={"image": "redis:7", "host": "big-server", "expose": [6379], "scale": count})


def test_replicas_run_as_containers_named_by_number_on_the_services_host(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_with_replicas(3))
    assert up(plan, connect_to(engines, plan), QuietReporter()).ok
    assert names(engines["big-server"]) == {"demo-redis", "demo-redis-2", "demo-redis-3", "demo-redis-ambassador"}
    assert all(c.state == "running" for c in engines["big-server"].containers.values())


def test_scaling_up_keeps_the_running_replicas_and_adds_the_others(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_with_replicas(1))
    up(plan, connect_to(engines, plan), QuietReporter())
    first = engines["big-server"].named("demo-redis").id  # type: ignore[union-attr]
    more = make_plan(redis_with_replicas(3))
    recorder = Recorder()
    assert up(more, connect_to(engines, more), recorder).ok
    assert ("service:redis", "recreate", "done") in recorder.finished
    assert engines["big-server"].named("demo-redis").id == first  # type: ignore[union-attr]
    assert {"demo-redis-2", "demo-redis-3"} <= names(engines["big-server"])


def test_scaling_down_removes_the_highest_replicas_only(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_with_replicas(3))
    up(plan, connect_to(engines, plan), QuietReporter())
    kept = {engines["big-server"].named(n).id for n in ("demo-redis", "demo-redis-2")}  # type: ignore[union-attr]
    fewer = make_plan(redis_with_replicas(2))
    decision = decide(fewer, connect_to(engines, fewer).read_live("demo")[0])
    assert decision.actions[S("service:redis")] == StepAction("recreate", "3 containers -> 2")
    assert up(fewer, connect_to(engines, fewer), QuietReporter()).ok
    assert "demo-redis-3" not in names(engines["big-server"])
    assert {engines["big-server"].named(n).id for n in ("demo-redis", "demo-redis-2")} == kept  # type: ignore[union-attr]
    assert up(fewer, connect_to(engines, fewer), Recorder()).ok
    assert decide(fewer, connect_to(engines, fewer).read_live("demo")[0]).changes == 0


def redis_with_hooks(**hooks: Any) -> dict[str, Any]:
    return redis_topology(redis={"image": "redis:7", "host": "big-server", "expose": [6379], **hooks})


def test_post_start_runs_in_the_new_container_before_its_dependents_start(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_with_hooks(post_start=[{"command": "redis-cli set ready 1", "user": "redis",
                                                   "environment": {"A": "1"}}]))
    assert up(plan, connect_to(engines, plan), QuietReporter()).ok
    [(name, argv, options)] = engines["big-server"].execs[:1]
    assert (name, argv) == ("demo-redis", ("redis-cli", "set", "ready", "1"))
    assert options is not None and (options.user, options.environment) == ("redis", (("A", "1"),))
    timeline = engines["big-server"].timeline
    assert timeline.index("exec demo-redis") < timeline.index("start demo-redis-ambassador")


def test_a_failed_post_start_fails_the_step_and_the_next_up_runs_it_again(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_with_hooks(post_start=[{"command": ["false"]}]))
    engines["big-server"].exec_results[("false",)] = (1, "no luck")
    recorder = Recorder()
    assert not up(plan, connect_to(engines, plan), recorder).ok
    assert ("service:redis", "create", "failed") in recorder.finished
    assert "demo-redis" not in names(engines["big-server"])  # so that the next up makes it and runs the hook
    del engines["big-server"].exec_results[("false",)]
    assert up(plan, connect_to(engines, plan), QuietReporter()).ok
    assert [argv for _, argv, _ in engines["big-server"].execs].count(("false",)) == 2


def test_pre_stop_runs_before_down_stops_the_container(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_with_hooks(pre_stop=[{"command": "redis-cli save"}]))
    up(plan, connect_to(engines, plan), QuietReporter())
    assert down("demo", connect_to(engines, plan), plan=plan).ok
    timeline = engines["big-server"].timeline
    assert timeline.index("exec demo-redis") < timeline.index("stop demo-redis")


def test_a_stop_timeout_given_to_up_replaces_the_containers_own(engines: dict[str, FakeEngine]) -> None:
    graceful = {"image": "redis:7", "host": "big-server", "expose": [6379], "stop_grace_period": "45s"}
    plan = make_plan(redis_topology(redis=graceful))
    up(plan, connect_to(engines, plan), QuietReporter())
    changed = make_plan(redis_topology(redis={**graceful, "command": ["redis-server", "--save", ""]}))
    up(changed, connect_to(engines, changed), QuietReporter(), UpOptions(stop_timeout=3))
    assert engines["big-server"].stop_timeouts == [("demo-redis", 3)]


def test_down_keeps_orphans_unless_told_and_can_remove_the_images(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology(extra={"image": "redis:7", "host": "big-server"}))
    up(plan, connect_to(engines, plan), QuietReporter())
    smaller = make_plan(redis_topology())
    result = down("demo", connect_to(engines, smaller), plan=smaller, options=DownOptions(rmi="all"))
    assert result.ok and names(engines["big-server"]) == {"demo-extra"}
    assert any("kept orphan containers" in note and "demo-extra on big-server" in note for note in result.notes)
    assert "rmi redis:7" in engines["big-server"].calls
    result = down("demo", connect_to(engines, smaller), plan=smaller, options=DownOptions(remove_orphans=True))
    assert result.ok and names(engines["big-server"]) == set()


def test_no_start_creates_the_containers_and_starts_none(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    assert up(plan, connect_to(engines, plan), QuietReporter(), UpOptions(no_start=True)).ok
    states = {c.name: c.state for e in engines.values() for c in e.containers.values()}
    assert set(states) == {"demo-redis", "demo-redis-ambassador", "demo-redis-ambassador-client-server",
                           "demo-redis-cli"} and set(states.values()) == {"created"}


def test_no_step_starts_on_a_host_where_the_lock_can_no_longer_be_proven(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology())
    result = up(plan, connect_to(engines, plan), QuietReporter(), may_work_on=lambda host: host != "client-server")
    assert not result.ok
    assert names(engines["client-server"]) == set() and "demo-redis" in names(engines["big-server"])
    assert all("could not renew the project lock" in str(f.error) for f in result.walk.failed)


def test_up_replaces_a_container_changed_by_hand_then_changes_nothing(engines: dict[str, FakeEngine]) -> None:
    plan = make_plan(redis_topology(redis={"image": "redis:7", "host": "big-server", "expose": [6379],
                                           "mem_limit": "256m"}))
    assert up(plan, connect_to(engines, plan), QuietReporter()).ok
    engine = engines["big-server"]
    before = engine.named("demo-redis")
    assert before is not None and before.updatable is not None
    engine.containers[before.id] = replace(before, updatable=replace(before.updatable, memory=128 << 20))
    recorder = Recorder()
    assert up(plan, connect_to(engines, plan), recorder).ok
    assert [(step, action) for step, action, _ in recorder.finished if action != "keep"] == [
        ("service:redis", "recreate")]
    after = engine.named("demo-redis")
    assert after is not None and after.id != before.id and after.updatable == before.updatable
    assert decide(plan, connect_to(engines, plan).read_live("demo")[0]).changes == 0
