"""The parallel walk: order, per-host bounds and failure handling."""

import _thread
import threading
import time

import pytest

from xcompose.run.walk import Interrupted, walk


def chain(*edges: tuple[str, str]) -> dict[str, list[str]]:
    """Each step and the steps it waits for, from (before, after) pairs."""
    graph: dict[str, list[str]] = {}
    for before, after in edges:
        graph.setdefault(before, [])
        graph.setdefault(after, []).append(before)
    return graph


def apart(*steps: str) -> dict[str, list[str]]:
    return {step: [] for step in steps}


def test_a_step_runs_only_after_every_step_before_it() -> None:
    graph = chain(("db", "amb-s"), ("amb-s", "amb-c"), ("amb-c", "app"), ("net", "app"))
    done: list[str] = []
    lock = threading.Lock()

    def run(step: str) -> None:
        with lock:
            for before in graph[step]:
                assert before in done, f"{step} ran before {before}"
            done.append(step)

    result = walk(graph, run, host_of=lambda s: "h", limits={"h": 4})
    assert result.ok
    assert sorted(done) == sorted(graph)


def test_independent_steps_run_at_the_same_time() -> None:
    graph = apart("a", "b", "c")
    barrier = threading.Barrier(3, timeout=5)
    result = walk(graph, lambda s: barrier.wait(), host_of=lambda s: "h", limits={"h": 3})
    assert result.ok


def test_every_host_runs_up_to_its_limit_however_many_hosts_there_are() -> None:
    """Far more hosts than a thread each would fit a small fixed pool: 50 hosts with a
    limit of 2 run their 100 steps all at once."""
    graph = apart(*(f"s{i}" for i in range(100)))
    barrier = threading.Barrier(100, timeout=10)
    result = walk(graph, lambda s: barrier.wait(), host_of=lambda s: f"h{int(s[1:]) // 2}",
                  limits={f"h{i}": 2 for i in range(50)})
    assert result.ok, result.failed


def test_a_ready_step_waits_for_room_on_its_own_host_only() -> None:
    graph = {**apart("a1", "a2", "a3"), "b": ["a1"]}  # b, on host B, waits for a1 only
    started: list[str] = []
    b_ran = threading.Event()

    def run(step: str) -> None:
        started.append(step)
        if step == "b":
            b_ran.set()
        elif step == "a2":  # holds host A's one slot until b has run
            assert b_ran.wait(timeout=10), "b waited for host A"

    result = walk(graph, run, host_of=lambda s: s[0].upper(), limits={"A": 1, "B": 1})
    assert result.ok, result.failed
    assert started.index("b") < started.index("a3")


def test_the_per_host_limit_bounds_concurrent_steps() -> None:
    graph = apart(*(f"s{i}" for i in range(8)))
    active = 0
    peak = 0
    lock = threading.Lock()

    def run(step: str) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1

    assert walk(graph, run, host_of=lambda s: "h", limits={"h": 2}).ok
    assert peak == 2


def test_a_failed_step_keeps_its_dependents_from_starting() -> None:
    graph = chain(("db", "app"), ("other", "other-consumer"))
    started: list[str] = []

    def run(step: str) -> None:
        started.append(step)
        if step == "db":
            raise RuntimeError("no such image: postgres:16")

    result = walk(graph, run, host_of=lambda s: "h", limits={"h": 1})
    assert not result.ok
    assert result.results["db"].outcome == "failed"
    assert result.results["db"].error == "no such image: postgres:16"
    assert result.results["app"].outcome == "not-started"
    assert "app" not in started


def test_running_steps_finish_when_another_fails() -> None:
    graph = apart("slow", "fails")
    finished: list[str] = []

    def run(step: str) -> None:
        if step == "fails":
            raise RuntimeError("boom")
        time.sleep(0.2)
        finished.append(step)

    result = walk(graph, run, host_of=lambda s: "h", limits={"h": 2})
    assert result.results["slow"].outcome == "done"
    assert finished == ["slow"]


def test_a_failure_does_not_stop_the_steps_that_do_not_wait_for_it() -> None:
    graph = chain(("db", "app"), ("cache", "worker"))
    hosts = {"db": "h1", "app": "h1", "cache": "h2", "worker": "h2"}

    def run(step: str) -> None:
        if step == "db":
            raise RuntimeError("no such image")

    result = walk(graph, run, host_of=hosts.__getitem__, limits={"h1": 1, "h2": 1})
    assert {s: r.outcome for s, r in result.results.items()} == {
        "db": "failed", "app": "not-started", "cache": "done", "worker": "done"}


def test_a_lost_host_starts_nothing_more_and_the_other_hosts_go_on() -> None:
    graph = {**apart("a1", "a2", "a3"), **chain(("b1", "b2"))}
    started: list[str] = []

    class Lost(Exception):
        pass

    def run(step: str) -> None:
        started.append(step)
        if step == "a1":
            raise Lost("host a stopped answering")

    result = walk(graph, run, host_of=lambda s: s[0], limits={"a": 1, "b": 1},
                  host_lost=lambda error: isinstance(error, Lost))
    assert [s for s in started if s.startswith("a")] == ["a1"]
    assert result.results["b2"].outcome == "done"
    assert result.not_started == ["a2", "a3"]


def test_ctrl_c_lets_the_running_steps_finish_and_starts_nothing_more() -> None:
    graph = chain(("slow", "after"))
    finished: list[str] = []

    def run(step: str) -> None:
        if step == "slow":
            _thread.interrupt_main()  # what Ctrl-C does to the waiting main thread
            time.sleep(0.3)
        finished.append(step)

    with pytest.raises(Interrupted) as caught:
        walk(graph, run, host_of=lambda s: "h", limits={"h": 2})
    assert finished == ["slow"]
    assert caught.value.result.results["slow"].outcome == "done"
    assert caught.value.result.not_started == ["after"]


def test_steps_that_ask_no_engine_run_on_the_walking_thread_in_order() -> None:
    # A long chain of kept steps (an `up` with nothing to change), one real step in the middle.
    graph = chain(*((f"k{i}", f"k{i + 1}") for i in range(3000)))
    threads: dict[str, int] = {}
    done: list[str] = []

    def run(step: str) -> None:
        assert all(before in done for before in graph[step]), f"{step} ran too soon"
        threads[step] = threading.get_ident()
        done.append(step)

    result = walk(graph, run, host_of=lambda s: "h", limits={"h": 1}, at_once=lambda s: s != "k1500")
    assert result.ok and len(done) == 3001
    assert {threads[s] for s in graph if s != "k1500"} == {threading.get_ident()}
    assert threads["k1500"] != threading.get_ident()


def test_a_callback_that_raises_ends_the_walk_with_its_error() -> None:
    """A bug in a callback (the reporter's) is raised by the walk, never lost on a thread of
    its pool (which would leave the walk waiting for a step that never settles)."""
    def on_finish(outcome: object) -> None:
        raise RuntimeError("reporter broke")

    with pytest.raises(RuntimeError, match="reporter broke"):
        walk(chain(("a", "b")), lambda step: None, host_of=lambda s: "h", limits={"h": 2}, on_finish=on_finish)


def test_a_failing_step_that_asks_no_engine_keeps_its_dependents_from_starting() -> None:
    graph = chain(("kept", "after"), ("other", "other-after"))

    def run(step: str) -> None:
        if step == "kept":
            raise RuntimeError("not started on host h: the lock was lost")

    result = walk(graph, run, host_of=lambda s: "h", limits={"h": 1}, at_once=lambda s: True)
    assert {s: r.outcome for s, r in result.results.items()} == {
        "kept": "failed", "after": "not-started", "other": "done", "other-after": "done"}
    assert result.results["kept"].error == "not started on host h: the lock was lost"


def test_steps_that_run_one_after_another_take_one_thread() -> None:
    """A thread is added only while more steps run at once than there are threads: a chain
    of 200 steps on a host with room for 4 runs on one."""
    graph = chain(*((f"s{i}", f"s{i + 1}") for i in range(199)))
    threads: set[int] = set()

    result = walk(graph, lambda s: threads.add(threading.get_ident()), host_of=lambda s: "h", limits={"h": 4})
    assert result.ok and len(result.results) == 200
    assert len(threads) == 1


def test_the_walk_leaves_no_thread_behind() -> None:
    before = threading.active_count()
    graph = apart(*(f"s{i}" for i in range(20)))
    barrier = threading.Barrier(10, timeout=5)

    result = walk(graph, lambda s: barrier.wait(), host_of=lambda s: f"h{int(s[1:]) % 5}",
                  limits={f"h{i}": 2 for i in range(5)})
    assert result.ok
    assert threading.active_count() == before


def test_a_step_that_raises_system_exit_fails_that_step_only() -> None:
    """Whatever a step raises is its outcome: a thread that died of it would leave the walk
    waiting for a step that never settles."""
    def run(step: str) -> None:
        if step == "a":
            raise SystemExit(3)

    result = walk(chain(("a", "after-a"), ("b", "after-b")), run, host_of=lambda s: "h", limits={"h": 2})
    assert {s: r.outcome for s, r in result.results.items()} == {
        "a": "failed", "after-a": "not-started", "b": "done", "after-b": "done"}
