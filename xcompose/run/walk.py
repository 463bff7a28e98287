"""Running a dependency graph in parallel: each step starts as soon as every step before it
is done, at most `limit` at a time per host.

docker-py and paramiko block, so a thread pool is the simple fit. A failed step stops new
work: the steps already running finish, the others are reported as not started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

Outcome = Literal["done", "failed", "not-started"]
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
) -> WalkResult[K]:
    """Run `run(step_id)` for every key of `dependencies` once every step it lists is done.
    An exception from `run` fails that step; its message is kept as the step's error."""
    result: WalkResult[K] = WalkResult()
    successors: dict[K, list[K]] = {node: [] for node in dependencies}
    waiting: dict[K, int] = {}
    for node, before in dependencies.items():
        inside = [b for b in before if b in successors]  # outside the walk: done already
        waiting[node] = len(inside)
        for b in inside:
            successors[b].append(node)
    ready = [node for node, count in waiting.items() if count == 0]
    active: dict[str, int] = {}
    running: dict[Future[float], K] = {}
    stopping = False

    def timed(step_id: K) -> float:
        on_start(step_id)
        began = time.monotonic()
        run(step_id)
        return time.monotonic() - began

    def has_room(step_id: K) -> bool:
        host = host_of(step_id)
        return active.get(host, 0) < limits.get(host, 4)

    workers = max(1, min(sum(limits.values()) or 4, 32))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xcompose-step") as pool:
        while ready or running:
            # Queued steps of a busy host must not hold up the other hosts' steps.
            for step_id in [s for s in ready if not stopping and has_room(s)]:
                if has_room(step_id):
                    ready.remove(step_id)
                    active[host_of(step_id)] = active.get(host_of(step_id), 0) + 1
                    running[pool.submit(timed, step_id)] = step_id
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                step_id = running.pop(future)
                active[host_of(step_id)] -= 1
                error = future.exception()
                if error is None:
                    outcome = StepResult(step_id, "done", future.result())
                    for successor in successors[step_id]:
                        waiting[successor] -= 1
                        if waiting[successor] == 0:
                            ready.append(successor)
                else:
                    outcome = StepResult(step_id, "failed", error=str(error) or type(error).__name__)
                    stopping = True
                result.results[step_id] = outcome
                on_finish(outcome)
            if stopping:
                ready.clear()
    for node in dependencies:
        result.results.setdefault(node, StepResult(node, "not-started"))
    return result
