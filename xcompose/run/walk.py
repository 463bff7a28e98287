"""Running a dependency graph in parallel: each step starts as soon as every step before it
is done, at most `limit` at a time per host.

docker-py and paramiko block, so a pool of threads is the simple fit. A failed step keeps
what waits for it from starting; a lost host, the rest of its steps; the other steps go on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any, Generic, Literal, TypeVar

Outcome = Literal["done", "failed", "not-started"]
POLL_S = 0.2  # how soon a Ctrl-C is noticed while steps run
MAX_WORKERS = 512  # threads for the steps of all hosts at once (each host has its own limit)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class StepResult(Generic[K]):
    step_id: K
    outcome: Outcome
    seconds: float = 0.0
    error: str | None = None


@dataclass
class WalkResult(Generic[K]):
    results: dict[K, StepResult[K]] = field(default_factory=dict)

    @property
    def failed(self) -> list[StepResult[K]]:
        return [r for r in self.results.values() if r.outcome == "failed"]

    @property
    def not_started(self) -> list[K]:
        return [r.step_id for r in self.results.values() if r.outcome == "not-started"]

    @property
    def ok(self) -> bool:
        return all(r.outcome == "done" for r in self.results.values())


def walk(
    dependencies: Mapping[K, Iterable[K]],
    run: Callable[[K], None],
    host_of: Callable[[K], str],
    limits: Mapping[str, int],
    on_start: Callable[[K], None] = lambda _id: None,
    on_finish: Callable[[StepResult[K]], None] = lambda _r: None,
    host_lost: Callable[[BaseException], bool] = lambda _error: False,
    at_once: Callable[[K], bool] = lambda _id: False,
) -> WalkResult[K]:
    """Run `run(step_id)` for every key of `dependencies` once every step it lists is done.

    An exception from `run` fails that step (its message is kept as the step's error); what
    waits for it is not started, everything else goes on, as Compose does. An exception for
    which `host_lost` is true also leaves the rest of that host's steps unstarted. Ctrl-C
    starts nothing more, lets the running steps finish, then raises KeyboardInterrupt.
    Steps for which `at_once` is true ask no engine anything (an `up` with nothing to
    change has only those): they run on the walking thread as soon as they are ready,
    outside their host's limit, sparing a thread hand-over each."""
    result: WalkResult[K] = WalkResult()
    successors: dict[K, list[K]] = {node: [] for node in dependencies}
    waiting: dict[K, int] = {}
    for node, before in dependencies.items():
        inside = [b for b in before if b in successors]  # outside the walk: done already
        waiting[node] = len(inside)
        for b in inside:
            successors[b].append(node)
    # Ready steps wait in their host's queue: a step that finishes makes room on its own
    # host only, so only that queue is looked at (a fleet has thousands of ready steps).
    queued: dict[str, deque[K]] = {}
    active: dict[str, int] = {}
    running: set[K] = set()
    now: deque[K] = deque()  # ready steps that run on this thread (`at_once`)
    lost: set[str] = set()

    def timed(step_id: K) -> float:
        on_start(step_id)
        began = time.monotonic()
        run(step_id)
        return time.monotonic() - began

    def start_queued(host: str) -> None:
        """Start what the host has room for, unless Ctrl-C asked to stop."""
        steps = queued.get(host)
        while steps and host not in lost and active.get(host, 0) < limits.get(host, 4) and not interrupted.is_set():
            step_id = steps.popleft()
            active[host] = active.get(host, 0) + 1
            running.add(step_id)
            workers.hand(step_id, len(running))

    def make_ready(step_id: K) -> None:
        if at_once(step_id):
            now.append(step_id)
            return
        host = host_of(step_id)
        queued.setdefault(host, deque()).append(step_id)
        start_queued(host)

    def run_now() -> None:
        """The ready `at_once` steps, and those they make ready in turn (a list, not
        recursion: a chain of them may be thousands of steps long)."""
        while now and not interrupted.is_set():
            step_id = now.popleft()
            if host_of(step_id) in lost:
                continue
            error: BaseException | None = None
            seconds = 0.0
            try:
                seconds = timed(step_id)
            except Exception as failure:  # noqa: BLE001 - the step's outcome, as from a worker
                error = failure
            settle(step_id, error, seconds)

    def collect(outcome: _Outcome[K]) -> None:
        step_id, error, seconds = outcome
        running.discard(step_id)
        host = host_of(step_id)
        active[host] -= 1
        settle(step_id, error, seconds)
        start_queued(host)

    def settle(step_id: K, error: BaseException | None, seconds: float) -> None:
        host = host_of(step_id)
        if error is None:
            outcome = StepResult(step_id, "done", seconds)
            for successor in successors[step_id]:
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    make_ready(successor)
        else:
            outcome = StepResult(step_id, "failed", error=str(error) or type(error).__name__)
            if host_lost(error):
                lost.add(host)
        result.results[step_id] = outcome
        on_finish(outcome)

    # Threads wait on engines far away, not on the CPU: enough of them for every host's
    # limit, so that 100 hosts take about as long as one.
    most = max(1, min(sum(limits.values()) or 4, MAX_WORKERS))
    with _Workers(most, timed) as workers, _ctrl_c_as_a_flag() as interrupted:
        for node, count in waiting.items():
            if count == 0:
                make_ready(node)
        run_now()
        while running and not interrupted.is_set():
            with contextlib.suppress(Empty):
                collect(workers.finished.get(timeout=POLL_S))
            run_now()
        # After Ctrl-C: what runs finishes (each engine call is bounded); nothing new starts.
        while running:
            collect(workers.finished.get())
    for node in dependencies:
        result.results.setdefault(node, StepResult(node, "not-started"))
    if interrupted.is_set():
        raise Interrupted(result)
    return result


_Outcome = tuple[K, BaseException | None, float]  # a step, its error or None, its seconds
_STOP = object()


class _Workers(Generic[K]):
    """Threads that take steps from one queue and put what came of them on another, and
    nothing more: concurrent.futures' pool makes a Future per step, with its lock, condition
    and callbacks, and a fleet has tens of thousands of steps. A thread is added while more
    steps are running than there are threads, up to `most`; leaving, the threads finish
    what runs."""

    def __init__(self, most: int, run: Callable[[K], float]) -> None:
        self.finished: SimpleQueue[_Outcome[K]] = SimpleQueue()
        self._most = most
        self._run = run
        self._todo: SimpleQueue[Any] = SimpleQueue()
        self._threads: list[threading.Thread] = []

    def hand(self, step_id: K, running: int) -> None:
        """Run the step on a thread; `running`: the steps handed over and not yet collected."""
        self._todo.put(step_id)
        if running > len(self._threads) < self._most:
            thread = threading.Thread(target=self._work, name=f"xcompose-step-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while (step_id := self._todo.get()) is not _STOP:
            try:
                self.finished.put((step_id, None, self._run(step_id)))
            except BaseException as error:  # noqa: BLE001 - the step's outcome, collected by the walk
                self.finished.put((step_id, error, 0.0))

    def __enter__(self) -> _Workers[K]:
        return self

    def __exit__(self, *_exc: object) -> None:
        for _thread in self._threads:
            self._todo.put(_STOP)
        for thread in self._threads:
            thread.join()


@contextmanager
def _ctrl_c_as_a_flag() -> Iterator[threading.Event]:
    """While steps run, the first Ctrl-C only asks to stop: an exception raised at an
    arbitrary point of the bookkeeping could lose track of a running step. A second Ctrl-C
    interrupts at once. Only the main thread receives signals; elsewhere nothing changes."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def on_sigint(signum: int, frame: object) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a walk, once the steps that were running have finished."""

    def __init__(self, result: WalkResult[Any]) -> None:
        super().__init__()
        self.result = result
