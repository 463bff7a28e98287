"""Running a dependency graph in parallel: each step starts as soon as every step before it
is done, at most `limit` at a time per host.

docker-py and paramiko block, so a thread pool is the simple fit. A failed step stops new
work: the steps already running finish, the others are reported as not started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

Outcome = Literal["done", "failed", "not-started"]


@dataclass(frozen=True)
class StepResult:
    step_id: str
    outcome: Outcome
    seconds: float = 0.0
    error: str | None = None


@dataclass
class WalkResult:
    results: dict[str, StepResult] = field(default_factory=dict)

    @property
    def failed(self) -> list[StepResult]:
        return [r for r in self.results.values() if r.outcome == "failed"]

    @property
    def ok(self) -> bool:
        return all(r.outcome == "done" for r in self.results.values())


def walk(
    graph: nx.DiGraph,
    run: Callable[[str], None],
    host_of: Callable[[str], str],
    limits: Mapping[str, int],
    on_start: Callable[[str], None] = lambda _id: None,
    on_finish: Callable[[StepResult], None] = lambda _r: None,
) -> WalkResult:
    """Run `run(step_id)` for every node, predecessors first. An exception from `run` fails
    that step; its message is kept as the step's error."""
    result = WalkResult()
    waiting = {node: graph.in_degree(node) for node in graph.nodes}
    ready = sorted(node for node, count in waiting.items() if count == 0)
    active: dict[str, int] = {}
    running: dict[Future[float], str] = {}
    stopping = False

    def timed(step_id: str) -> float:
        on_start(step_id)
        began = time.monotonic()
        run(step_id)
        return time.monotonic() - began

    def has_room(step_id: str) -> bool:
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
                    for successor in sorted(graph.successors(step_id)):
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
    for node in graph.nodes:
        result.results.setdefault(node, StepResult(node, "not-started"))
    return result
