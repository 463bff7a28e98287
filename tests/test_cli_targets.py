"""Which container a command that acts on one acts on."""

from __future__ import annotations

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.cli.targets import Target, one
from xcompose.live import LiveContainer
from xcompose.plan.naming import LABEL_SERVICE
from xcompose.plan.specs import HostTarget


def target(container_id: str, state: str) -> Target:
    container = LiveContainer(container_id, f"shop_db.1.{container_id}", "redis:7", "sha256:x",
                              {LABEL_SERVICE: "db"}, state, None, ())
    return Target("a", container, FakeExecutor(HostTarget("a", None, None), FakeEngine("a")))


def test_a_running_container_is_chosen_before_a_stopped_one_of_the_same_replica() -> None:
    # A swarm keeps the containers of a service's replaced tasks, stopped, beside the new one.
    assert one([target("old", "exited"), target("new", "running")], "db", 1).container.id == "new"
