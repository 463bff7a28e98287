"""The hosts of a plan together: reading the project's live state on all of them, also
ahead of time."""

from __future__ import annotations

import threading

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.engines.fleet import Fleet, reach
from xcompose.live import LiveContainer
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.specs import HostTarget


class Counted(FakeExecutor):
    """Counts the readings of the project's containers; each waits until let go."""

    def __init__(self, target: HostTarget, engine: FakeEngine) -> None:
        super().__init__(target, engine)
        self.reads = 0
        self.go = threading.Event()

    def containers(self, project: str | None) -> list[LiveContainer]:
        self.go.wait(5)
        self.reads += 1
        return super().containers(project)


def fleet_of(*names: str) -> tuple[Fleet, dict[str, Counted]]:
    made: dict[str, Counted] = {}

    def make(target: HostTarget) -> Counted:
        made[target.name] = Counted(target, FakeEngine(target.name))
        return made[target.name]

    return reach([HostTarget(name, None, None) for name in names], make), made


def test_a_prefetched_reading_is_the_next_read_and_only_that_one() -> None:
    fleet, made = fleet_of("db", "web")
    fleet.prefetch_live("shop")
    for executor in made.values():
        executor.go.set()
    fleet.read_live("shop")
    assert [e.reads for e in made.values()] == [1, 1]
    fleet.read_live("shop")
    assert [e.reads for e in made.values()] == [2, 2]


def test_a_prefetched_reading_runs_while_the_caller_goes_on() -> None:
    fleet, made = fleet_of("db")
    fleet.prefetch_live("shop")  # returns while the host has not answered yet
    db = made["db"]
    db.engine.containers["c1"] = LiveContainer(id="c1", name="shop-db-1", image="redis:7", image_id="sha256:r",
                                               labels={LABEL_PROJECT: "shop"}, state="running", health=None, ports=())
    db.go.set()
    live, failures = fleet.read_live("shop")
    assert failures == [] and db.reads == 1
    assert [c.id for c in live.containers["db"]] == ["c1"]  # read when the host answered


class Ports(FakeExecutor):
    """Counts the questions about images' ports."""

    def __init__(self, target: HostTarget, engine: FakeEngine) -> None:
        super().__init__(target, engine)
        self.asked: list[str] = []

    def image_ports(self, image: str) -> tuple[str, ...] | None:
        self.asked.append(image)
        return super().image_ports(image)


def test_ports_read_ahead_are_not_asked_again_and_a_missing_image_is_still_pulled() -> None:
    engine = FakeEngine("db", images={"redis:7"}, pullable={"shop/app:1"})
    executor = Ports(HostTarget("db", None, None), engine)
    fleet = reach([executor.target], lambda _t: executor)
    fleet.prefetch_image_ports({"db": ["redis:7", "shop/app:1"]})
    found = fleet.image_ports({"db": {"redis:7": True, "shop/app:1": True}})
    assert found["redis:7"] is not None and found["shop/app:1"] == ()
    assert sorted(executor.asked) == ["redis:7", "shop/app:1", "shop/app:1"]  # asked again after the pull
    assert "pull shop/app:1" in engine.calls
