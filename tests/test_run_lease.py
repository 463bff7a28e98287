"""The project lock across machines: a box per host, a heartbeat, a lease. Two "machines"
here are two sets of executors on the same fake engines."""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.errors import HostError, LockTimeout
from xcompose.plan.specs import ContainerSpec, HostTarget
from xcompose.run.lease import Holder, ProjectLock, machine_id, project_lock
from xcompose.run.statebox import StateBox, box_name


def machine(*engines: FakeEngine) -> dict[str, FakeExecutor]:
    return {e.host: FakeExecutor(HostTarget(e.host, None, None), e) for e in engines}


@pytest.fixture
def engines() -> tuple[FakeEngine, FakeEngine]:
    return FakeEngine("db"), FakeEngine("web")


def test_a_second_run_waits_then_gives_up_naming_the_holder(engines: tuple[FakeEngine, FakeEngine]) -> None:
    told: list[str] = []
    with project_lock(machine(*engines), "shop", "ann@laptop"), \
            pytest.raises(LockTimeout, match=r"locked by ann@laptop \(pid \d+\) since .* on host db"):
        ProjectLock(machine(*engines), "shop", "bob@desk", lease=5).acquire(1.0, told.append)
    assert told and told[0].startswith("ann@laptop")


def test_a_holder_that_lets_go_at_once_is_not_announced(engines: tuple[FakeEngine, FakeEngine]) -> None:
    # Two runs started together: the other took a host first and gives it back at once.
    told: list[str] = []
    other = ProjectLock(machine(*engines), "shop", "ann@laptop")
    other.acquire(0)
    letting_go = threading.Timer(0.05, other.release)
    letting_go.start()
    lock = ProjectLock(machine(*engines), "shop", "bob@desk")
    lock.acquire(10, told.append)
    letting_go.join()
    lock.release()
    assert told == []


def test_the_lock_is_free_again_once_released(engines: tuple[FakeEngine, FakeEngine]) -> None:
    with project_lock(machine(*engines), "shop", "ann@laptop"):
        pass
    assert all(e.named(box_name("shop", "lock")) is None for e in engines)
    with project_lock(machine(*engines), "shop", "bob@desk", wait=0):
        pass


def test_a_holder_that_stopped_renewing_is_taken_over_after_its_lease(engines: tuple[FakeEngine, FakeEngine]) -> None:
    dead = ProjectLock(machine(*engines), "shop", "ann@laptop", lease=0.5)
    dead.acquire(0)
    dead._stop.set()  # killed: no more heartbeats, and nobody removes its boxes
    began = time.monotonic()
    lock = ProjectLock(machine(*engines), "shop", "bob@desk", lease=5)
    lock.acquire(10)
    try:
        # Taken once the dead lease ran out, not at the end of the 10 s wait (bounds
        # loose enough for a loaded machine: the failure they catch is seconds away).
        assert 0.5 <= time.monotonic() - began < 5
        assert "from ann@laptop" in lock.broken[0] and "no heartbeat" in lock.broken[0]
        assert "found dead on another host" in lock.broken[1]  # one lease, not one per host
    finally:
        lock.release()


def test_a_live_holder_is_never_taken_over(engines: tuple[FakeEngine, FakeEngine]) -> None:
    held = ProjectLock(machine(*engines), "shop", "ann@laptop", lease=0.4)  # a heartbeat every 0.1 s
    held.acquire(0)
    try:
        with pytest.raises(LockTimeout):
            ProjectLock(machine(*engines), "shop", "bob@desk", lease=5).acquire(1.5)  # > 3 of its leases
        assert held.held("db") and held.held("web") and not held.broken
    finally:
        held.release()


def test_a_run_whose_box_was_taken_may_not_start_work_there(engines: tuple[FakeEngine, FakeEngine]) -> None:
    lock = ProjectLock(machine(*engines), "shop", "ann@laptop", lease=0.4)
    lock.acquire(0)
    try:
        db = engines[0]
        box = db.named(box_name("shop", "lock"))
        assert box is not None
        del db.containers[box.id]  # another run decided we were dead
        deadline = time.monotonic() + 3
        while lock.held("db") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not lock.held("db") and lock.held("web")
    finally:
        lock.release()


def test_a_run_that_cannot_lock_every_host_releases_those_it_locked(
        engines: tuple[FakeEngine, FakeEngine]) -> None:
    db, web = engines
    with project_lock(machine(web), "shop", "ann@laptop"):
        with pytest.raises(LockTimeout, match="on host web"):
            ProjectLock(machine(web, db), "shop", "bob@desk").acquire(0.2)  # db first: names in order
        assert db.named(box_name("shop", "lock")) is None
        assert "create xcompose-lock-shop" in db.calls


class Silent(FakeExecutor):
    """A host that stops answering once the lock is taken: each call hangs, then fails."""

    silent = False

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        if self.silent:
            time.sleep(2)
            raise HostError(self.target.name, "fake", "stopped answering: no reply within 2s")
        super().put_archive(container_id, path, tar_bytes)


def test_a_host_that_stops_answering_delays_neither_the_others_heartbeats_nor_the_release(
        engines: tuple[FakeEngine, FakeEngine]) -> None:
    db, web = engines
    silent = Silent(HostTarget("web", None, None), web)
    lock = ProjectLock({"db": FakeExecutor(HostTarget("db", None, None), db), "web": silent}, "shop", "ann@laptop",
                       lease=0.4)
    lock.acquire(0)
    silent.silent = True
    time.sleep(1.2)  # three leases: db's heartbeats keep going meanwhile
    assert lock.held("db") and not lock.held("web")
    began = time.monotonic()
    lock.release()
    assert time.monotonic() - began < 1.5  # not waiting out the silent host's 2 s call
    assert db.named(box_name("shop", "lock")) is None


def test_a_holder_from_this_machine_whose_process_ended_is_taken_over_at_once(
        engines: tuple[FakeEngine, FakeEngine]) -> None:
    ended = Holder("ann@laptop", os.getpid(), "2026-11-26T10:00:00+00:00", 30, machine_id(), "0")  # pid reused
    for engine in engines:
        StateBox(FakeExecutor(HostTarget(engine.host, None, None), engine), "shop", "lock").create(ended.labels())
    began = time.monotonic()
    with project_lock(machine(*engines), "shop", "bob@desk", wait=5) as lock:
        assert time.monotonic() - began < 1
        assert all("its process on this machine has ended" in line for line in lock.broken), lock.broken


def test_a_holder_on_another_machine_is_never_judged_by_this_ones_processes(
        engines: tuple[FakeEngine, FakeEngine]) -> None:
    elsewhere = Holder("ann@laptop", 1, "2026-11-26T10:00:00+00:00", 30, "laptop/other-boot", "0")
    assert not elsewhere.gone_from(machine_id())
    assert not Holder("ann@laptop", 1, "?", 30).gone_from(machine_id())  # written by a version that did not say


def test_hosts_locked_first_keep_their_heartbeat_while_a_later_one_is_waited_for(
        engines: tuple[FakeEngine, FakeEngine]) -> None:
    db, web = engines
    busy = ProjectLock(machine(web), "shop", "ann@laptop")
    busy.acquire(0)
    threading.Timer(1.2, busy.release).start()  # web is free after three of bob's leases
    waiting = ProjectLock(machine(db, web), "shop", "bob@desk", lease=0.4)
    waiting.acquire(5)  # db first, then web
    try:
        assert waiting.held("db") and waiting.held("web") and waiting.broken == []
    finally:
        waiting.release()


class Meeting(FakeExecutor):
    """An engine whose box create returns only once every host of the run is being asked:
    hosts taken one after another would never all meet (the barrier breaks instead)."""

    def __init__(self, target: HostTarget, engine: FakeEngine, barrier: threading.Barrier) -> None:
        super().__init__(target, engine)
        self.barrier = barrier

    def create(self, spec: ContainerSpec) -> str:
        self.barrier.wait()
        return super().create(spec)


def test_free_hosts_are_locked_all_at_once() -> None:
    engines = [FakeEngine(name) for name in ("a", "b", "c")]
    barrier = threading.Barrier(3, timeout=5)
    executors = {e.host: Meeting(HostTarget(e.host, None, None), e, barrier) for e in engines}
    with project_lock(executors, "shop", "ann@laptop", wait=0) as lock:
        assert not barrier.broken and all(lock.held(e.host) for e in engines)


def test_while_waiting_for_a_busy_host_no_host_after_it_is_held() -> None:
    a, b, c = (FakeEngine(name) for name in ("a", "b", "c"))
    seen: list[bool] = []

    def on_wait(_holder: str) -> None:
        seen.append(c.named(box_name("shop", "lock")) is not None)

    with project_lock(machine(b), "shop", "ann@laptop"), pytest.raises(LockTimeout, match="on host b"):
        ProjectLock(machine(a, b, c), "shop", "bob@desk").acquire(1.0, on_wait)
    assert seen == [False]  # c was free, taken at first, and given back before the wait
    assert c.calls[-2:] == ["create xcompose-lock-shop", "remove xcompose-lock-shop"]


class Stalled(FakeExecutor):
    """An engine whose file writes hang until let go."""

    def __init__(self, target: HostTarget, engine: FakeEngine) -> None:
        super().__init__(target, engine)
        self.go = threading.Event()

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        self.go.wait(5)
        super().put_archive(container_id, path, tar_bytes)


def test_taking_the_lock_does_not_wait_for_a_heartbeat(engines: tuple[FakeEngine, FakeEngine]) -> None:
    stalled = {e.host: Stalled(HostTarget(e.host, None, None), e) for e in engines}
    lock = ProjectLock(stalled, "shop", "ann@laptop", lease=0.4)
    lock.acquire(0)  # returns with every write still hanging
    try:
        assert all(lock.held(e.host) for e in engines)
        assert not any(e.archives for e in engines)
        for executor in stalled.values():
            executor.go.set()
        box = StateBox(stalled["db"], "shop", "lock")
        deadline = time.monotonic() + 5
        while box.read("heartbeat") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert box.read("heartbeat") is not None  # the beats follow on their own
    finally:
        lock.release()


def test_a_run_shorter_than_a_quarter_lease_writes_no_heartbeat(engines: tuple[FakeEngine, FakeEngine]) -> None:
    lock = ProjectLock(machine(*engines), "shop", "ann@laptop", lease=30)
    lock.acquire(0)
    try:
        time.sleep(0.2)
        assert all(lock.held(e.host) for e in engines)  # the box's creation counts as a beat
        assert not any(e.archives for e in engines)
    finally:
        lock.release()
