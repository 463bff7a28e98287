"""Building images before `up`, against in-memory engines: when a build is due, that a
built image is never pulled unless its policy says so, and that a rebuilt image re-creates
its service alone. The same runs for real on the lab in tests/e2e/test_build.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeEngine, FakeExecutor
from tests.planning import S
from xcompose.cli.output import QuietReporter
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.engines.fleet import Fleet, reach
from xcompose.errors import StepFailed
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.converge import decide
from xcompose.plan.steps import Plan
from xcompose.run.images import build_images, image_action, pin_images
from xcompose.run.up import up

CREDENTIALS = Credentials("demo", CertificateAuthority.new("demo"))


class Notes(QuietReporter):
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.lines: list[tuple[str, str, str]] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def build_output(self, service: str, host: str, line: str) -> None:
        self.lines.append((service, host, line))


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The compose file's folder: a context `web/` with a Dockerfile and a page."""
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM debian:bookworm\nCOPY page.txt /srv/\n")
    (tmp_path / "web" / "page.txt").write_text("v1\n")
    return tmp_path


def topology(**web: Any) -> dict[str, Any]:
    return {
        "hosts": {"h1": {"address": "10.0.0.1", "docker": "unix:///a.sock"},
                  "h2": {"address": "10.0.0.2", "docker": "unix:///b.sock"}},
        "services": {
            "web": {"build": "./web", "host": "h1", "expose": [8000], **web},
            "client": {"image": "redis:7", "host": "h2", "depends_on": ["web"]},
        },
    }


def plan_in(folder: Path, data: dict[str, Any]) -> Plan:
    project = Project(name="demo", topology=Topology.model_validate(data), files=[folder / "compose.yaml"])
    return build_plan(project, CREDENTIALS)


@pytest.fixture
def engines() -> dict[str, FakeEngine]:
    timeline: list[str] = []
    return {name: FakeEngine(name, timeline=timeline) for name in ("h1", "h2")}


def connect_to(engines: dict[str, FakeEngine], plan: Plan) -> Fleet:
    return reach(plan.hosts.values(), lambda t: FakeExecutor(t, engines[t.name]))


def up_with_builds(plan: Plan, fleet: Fleet, reporter: Notes | None = None, force: bool = False) -> Any:
    """What `xcompose up [--build]` does: images first, then the walk with their ids."""
    reporter = reporter or Notes()
    ids = build_images(plan, fleet, reporter, build=["web", "client"], force=force)
    return up(pin_images(plan, ids), fleet, reporter)


def calls(engine: FakeEngine, prefix: str) -> list[str]:
    return [c for c in engine.calls if c.startswith(prefix)]


@pytest.mark.parametrize(("policy", "present", "force", "action"), [
    ("missing", False, False, "build"), ("missing", True, False, "none"), ("missing", True, True, "build"),
    ("never", False, False, "build"), ("never", True, False, "none"),
    ("build", True, False, "build"), ("always", True, False, "pull"), ("always", False, True, "build"),
])
def test_a_build_is_due_as_compose_up_decides_it(policy: str, present: bool, force: bool, action: str) -> None:
    assert image_action(policy, present, force) == action


def test_up_builds_a_missing_image_once_and_a_second_up_changes_nothing(
    app: Path, engines: dict[str, FakeEngine]
) -> None:
    plan = plan_in(app, topology())
    reporter = Notes()
    assert up_with_builds(plan, connect_to(engines, plan), reporter).ok
    assert calls(engines["h1"], "build") == ["build demo-web"] and not calls(engines["h1"], "pull")
    web = engines["h1"].named("demo-web")
    assert web is not None and web.image == "demo-web"
    assert web.image_id == engines["h1"].image_ids["demo-web"]
    assert ("web", "h1", "Step 1/1 : FROM demo-web") in reporter.lines
    assert any(n.startswith("building demo-web for web on h1, context ") for n in reporter.notes)

    engines["h1"].calls.clear()
    again = up_with_builds(plan, connect_to(engines, plan))
    assert again.convergence.changes == 0
    assert not calls(engines["h1"], "build") and not calls(engines["h1"], "create")


def test_up_build_with_an_unchanged_context_rebuilds_but_recreates_nothing(
    app: Path, engines: dict[str, FakeEngine]
) -> None:
    plan = plan_in(app, topology())
    up_with_builds(plan, connect_to(engines, plan))
    engines["h1"].calls.clear()
    result = up_with_builds(plan, connect_to(engines, plan), force=True)
    assert calls(engines["h1"], "build") == ["build demo-web"]
    assert result.convergence.changes == 0


def test_a_changed_context_with_up_build_recreates_only_that_service(
    app: Path, engines: dict[str, FakeEngine]
) -> None:
    plan = plan_in(app, topology())
    up_with_builds(plan, connect_to(engines, plan))
    before = {c.name: c.id for e in engines.values() for c in e.containers.values()}
    (app / "web" / "page.txt").write_text("v2\n")

    result = up_with_builds(plan, connect_to(engines, plan), force=True)
    changed = {str(k): a for k, a in result.convergence.actions.items() if a.action != "keep"}
    assert list(changed) == ["service:web"]
    assert changed["service:web"].action == "recreate"
    assert changed["service:web"].reason == "image demo-web rebuilt"
    after = {c.name: c.id for e in engines.values() for c in e.containers.values()}
    assert [name for name in before if before[name] != after.get(name)] == ["demo-web"]


def test_an_image_rebuilt_elsewhere_under_the_same_name_is_picked_up_by_the_next_up(
    app: Path, engines: dict[str, FakeEngine]
) -> None:
    plan = plan_in(app, topology())
    up_with_builds(plan, connect_to(engines, plan))
    engines["h1"].image_ids["demo-web"] = "sha256:from-xcompose-build"
    result = up_with_builds(plan, connect_to(engines, plan))
    assert result.convergence.actions[S("service:web")].reason == "image demo-web rebuilt"
    assert not calls(engines["h1"], "build demo-web")[1:]


def test_with_image_and_build_the_image_is_built_under_that_name_and_not_pulled(
    app: Path, engines: dict[str, FakeEngine]
) -> None:
    plan = plan_in(app, topology(image="shop/web:1.4"))
    assert up_with_builds(plan, connect_to(engines, plan)).ok
    assert calls(engines["h1"], "build") == ["build shop/web:1.4"]
    assert not calls(engines["h1"], "pull")


def test_pull_policy_build_builds_every_time(app: Path, engines: dict[str, FakeEngine]) -> None:
    plan = plan_in(app, topology(pull_policy="build"))
    up_with_builds(plan, connect_to(engines, plan))
    up_with_builds(plan, connect_to(engines, plan))
    assert calls(engines["h1"], "build") == ["build demo-web"] * 2


def test_pull_policy_always_pulls_and_builds_when_the_pull_fails(app: Path, engines: dict[str, FakeEngine]) -> None:
    plan = plan_in(app, topology(image="shop/web:1.4", pull_policy="always"))
    reporter = Notes()
    assert up_with_builds(plan, connect_to(engines, plan), reporter).ok
    assert calls(engines["h1"], "pull") == ["pull shop/web:1.4"]
    assert calls(engines["h1"], "build") == ["build shop/web:1.4"]
    assert any("pulling shop/web:1.4 for web failed" in n and "building it instead" in n for n in reporter.notes)


def test_a_failed_build_names_service_and_host_and_nothing_is_created(
    app: Path, engines: dict[str, FakeEngine]
) -> None:
    engines["h1"].fail_build.add("demo-web")
    plan = plan_in(app, topology())
    with pytest.raises(StepFailed, match=r"^building web on host h1: The command '/bin/sh -c false' returned"):
        up_with_builds(plan, connect_to(engines, plan))
    assert not engines["h1"].containers and not engines["h2"].containers


def test_a_missing_context_folder_is_named(tmp_path: Path, engines: dict[str, FakeEngine]) -> None:
    plan = plan_in(tmp_path, topology())
    with pytest.raises(StepFailed, match=rf"building web on host h1: build context {tmp_path}/web is not a folder"):
        up_with_builds(plan, connect_to(engines, plan))


def test_up_alone_builds_an_image_that_is_missing_and_never_pulls_it(app: Path, engines: dict[str, FakeEngine]) -> None:
    plan = plan_in(app, topology())
    assert up(plan, connect_to(engines, plan), Notes()).ok
    assert calls(engines["h1"], "build") == ["build demo-web"]
    assert not calls(engines["h1"], "pull")


def test_only_the_services_asked_for_are_built_but_every_built_image_is_read(
    app: Path, engines: dict[str, FakeEngine]
) -> None:
    data = topology()
    data["services"]["other"] = {"build": "./web", "host": "h2"}
    plan = plan_in(app, data)
    fleet = connect_to(engines, plan)
    assert build_images(plan, fleet, Notes(), build=["web"]) == {"web": engines["h1"].image_ids["demo-web"],
                                                                  "other": None}
    assert not calls(engines["h2"], "build")


def test_plan_shows_the_recreate_a_rebuilt_image_asks_for(app: Path, engines: dict[str, FakeEngine]) -> None:
    plan = plan_in(app, topology())
    up_with_builds(plan, connect_to(engines, plan))
    engines["h1"].image_ids["demo-web"] = "sha256:other"
    fleet = connect_to(engines, plan)
    pinned = pin_images(plan, build_images(plan, fleet, Notes()))
    live, _ = fleet.read_live("demo")
    assert decide(pinned, live).actions[S("service:web")].reason == "image demo-web rebuilt"
