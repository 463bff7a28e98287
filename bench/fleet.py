"""`xcompose up` on a fleet larger than any lab: 1,000 and 10,000 services on 100 hosts,
each host an engine in memory that waits a set latency per call (DESIGN §8).

    .venv/bin/python bench/fleet.py [--latency-ms 2] [--hosts 100] [--format text|json] [--smoke]

The topology is plan_scale.py's (every service exposes a port and links to two services
defined before it, nearly always on another host: the worst case for ambassadors), with the
default `ambassador: {tls: true}`. The whole `xcompose up` command runs in this process as a
user starts it (`-f FILE up`): loading, planning, reaching the hosts, the project lock, the
project's CA kept on the hosts, reading what runs, deciding, the parallel walk with each
host's limit, and the progress lines (or JSON events) it prints. Only connecting differs:
`xcompose.engines.connect` hands out the engines of bench/fakefleet.py.

Per size and latency: a fresh `up` on empty hosts, then an `up` with nothing to change on
the result. Each row shows where the time went (wall seconds per phase, summed when a phase
runs more than once), the command's wall and CPU time, the CPU time of the fake engines and
xcompose's own time: the process's CPU time less the fake engines'. Sleeping in the fake
latency is nobody's CPU time; the rows with `--latency-ms 0` show the wall time without it.
Then the 10k/1k growth of own time. It measures; it does not assert.

--smoke (for the test suite: does the script still run?): 100 and 1,000 services on 10
hosts, one round each, no latency row beyond 0 and 1 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import yaml  # noqa: E402
from fakefleet import CpuMeter, MemoryExecutor  # noqa: E402
from plan_scale import label, topology  # noqa: E402

import xcompose.cli.commands  # noqa: E402
import xcompose.cli.output  # noqa: E402
import xcompose.engines  # noqa: E402
import xcompose.run.up  # noqa: E402
from xcompose.cli.main import cli  # noqa: E402
from xcompose.cli.output import make_reporter  # noqa: E402
from xcompose.engines.fleet import Fleet  # noqa: E402
from xcompose.plan.specs import HostTarget  # noqa: E402

TARGET_OWN_S_10K = 5.0
TARGET_GROWTH = 12.0
PHASES = ("load", "plan", "lock+ca", "read live", "decide", "walk", "report")


@dataclass
class Phases:
    """Wall and CPU seconds per phase of one command, summed over the calls of each. The
    phases run one after the other, so a phase's CPU time is the whole process's while it
    runs (the walk's worker threads included); the reporter's calls, made from the walk's
    threads, are timed after the command, replayed on one thread (`replay`)."""

    wall: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))

    def add(self, phase: str, wall: float, cpu: float) -> None:
        self.wall[phase] += wall
        self.cpu[phase] += cpu


@contextlib.contextmanager
def patched(owner: object, name: str, replacement: object) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def timing(phases: Phases, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        began, began_cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            phases.add(phase, time.perf_counter() - began, time.process_time() - began_cpu)

    return timed


class RecordingReporter:
    """The command's own reporter, each call recorded (from whichever thread makes it) and
    passed on. Timing each call as it was made cost 1.4 us (two reads of the thread's CPU
    clock, a lock), 0.1 s of a fresh `up` of 10,000 services counted as xcompose's own
    time; the calls are timed afterwards instead, replayed (`replay`)."""

    def __init__(self, inner: Any, made_with: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
        self._inner, self.made_with = inner, made_with
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute
        calls = self.calls

        def recorded(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, args, kwargs))  # one list for all threads: append holds the GIL
            return attribute(*args, **kwargs)

        setattr(self, name, recorded)  # wrapped once per method, not per call
        return recorded


def replay(reporters: list[RecordingReporter], phases: Phases) -> None:
    """The `report` phase: the recorded calls made again, in their order, on a new reporter
    made as each was, on this one thread, what it prints thrown away."""
    for reporter in reporters:
        args, kwargs = reporter.made_with
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            again = make_reporter(*args, **kwargs)
            began, began_cpu = time.perf_counter(), time.thread_time()
            for name, call_args, call_kwargs in reporter.calls:
                getattr(again, name)(*call_args, **call_kwargs)
            phases.add("report", time.perf_counter() - began, time.thread_time() - began_cpu)


@contextlib.contextmanager
def instrumented(phases: Phases, engines: dict[str, MemoryExecutor], make: Callable[[HostTarget], MemoryExecutor],
                 reporters: list[RecordingReporter]) -> Iterator[None]:
    """The command's phases timed where the command calls them, its reporters recorded,
    and `connect` handing out in-memory engines."""
    commands, up_module = xcompose.cli.commands, xcompose.run.up

    def recording(*args: Any, **kwargs: Any) -> RecordingReporter:
        reporters.append(RecordingReporter(make_reporter(*args, **kwargs), (args, kwargs)))
        return reporters[-1]

    def connect(target: HostTarget) -> MemoryExecutor:
        if target.name not in engines:
            engines[target.name] = make(target)
        return engines[target.name]

    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(xcompose.engines, "connect", connect))
        stack.enter_context(patched(commands, "load", timing(phases, "load", commands.load)))
        stack.enter_context(patched(commands, "make_plan", timing(phases, "plan", commands.make_plan)))
        stack.enter_context(patched(commands, "with_certificates",
                                    timing(phases, "plan", commands.with_certificates)))
        stack.enter_context(patched(commands, "locked", timed_context(phases, "lock+ca", commands.locked)))
        stack.enter_context(patched(commands, "host_pki", timed_pki(phases, commands.host_pki)))
        stack.enter_context(patched(Fleet, "read_live", timing(phases, "read live", Fleet.read_live)))
        stack.enter_context(patched(up_module, "decide", timing(phases, "decide", up_module.decide)))
        stack.enter_context(patched(up_module, "walk", timing(phases, "walk", up_module.walk)))
        stack.enter_context(patched(xcompose.cli.output, "make_reporter", recording))
        yield


def timed_context(phases: Phases, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Taking the lock (entering the context), and letting it go (leaving it)."""

    @contextlib.contextmanager
    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        began, began_cpu = time.perf_counter(), time.process_time()
        with fn(*args, **kwargs) as value:
            phases.add(phase, time.perf_counter() - began, time.process_time() - began_cpu)
            yield value
            began, began_cpu = time.perf_counter(), time.process_time()
        phases.add(phase, time.perf_counter() - began, time.process_time() - began_cpu)

    return timed


def timed_pki(phases: Phases, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The project's CA on the hosts: reading it, and saving it with the new certificates."""

    def make(*args: Any, **kwargs: Any) -> Any:
        store = fn(*args, **kwargs)
        for method in ("credentials", "ensure_ca", "save"):
            setattr(store, method, timing(phases, "lock+ca", getattr(store, method)))
        return store

    return make


@dataclass(frozen=True)
class Row:
    services: int
    hosts: int
    latency_ms: float
    run: str  # fresh | no-op
    steps: int
    calls: int
    phases: dict[str, float]
    phases_cpu: dict[str, float]
    wall: float
    cpu: float
    fake_cpu: float

    @property
    def own(self) -> float:
        return self.cpu - self.fake_cpu


def run_up(file: Path, fmt: str, phases: Phases, engines: dict[str, MemoryExecutor],
           make: Callable[[HostTarget], MemoryExecutor], meter: CpuMeter) -> tuple[float, float, float, str]:
    """One `xcompose -f FILE up` in this process: (wall s, CPU s, fake CPU s, its output)."""
    argv = ["-f", str(file), "up", "--lock-wait", "30", *(["--format", "json"] if fmt == "json" else [])]
    output = io.StringIO()
    gc.collect()
    fake_before = meter.seconds
    reporters: list[RecordingReporter] = []
    with instrumented(phases, engines, make, reporters), contextlib.redirect_stderr(output), \
            contextlib.redirect_stdout(output):
        began, began_cpu = time.perf_counter(), time.process_time()
        try:
            cli.main(argv, prog_name="xcompose", standalone_mode=False)
            code: object = 0
        except SystemExit as exit_:
            code = exit_.code
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    if code not in (0, None):
        raise SystemExit(f"`xcompose up` exited {code}:\n{output.getvalue()[-3000:]}")
    replay(reporters, phases)
    return wall, cpu, meter.seconds - fake_before, output.getvalue()


def measure(services: int, hosts: int, latency_ms: float, fmt: str, folder: Path) -> list[Row]:
    """A fresh `up` on empty engines, then a no-op `up` on what it made."""
    file = folder / f"fleet-{services}.yaml"
    if not file.exists():
        file.write_text(yaml.safe_dump(topology(services, hosts), sort_keys=False))
    meter = CpuMeter()
    engines: dict[str, MemoryExecutor] = {}
    rows = []
    for run in ("fresh", "no-op"):
        phases = Phases()
        calls_before = sum(e.calls for e in engines.values())
        wall, cpu, fake_cpu, output = run_up(file, fmt, phases, engines,
                                             lambda t: MemoryExecutor(t, latency_ms / 1000, meter), meter)
        steps = output.count('"status": "done"') if fmt == "json" else output.count("✔")
        calls = sum(e.calls for e in engines.values()) - calls_before
        rows.append(Row(services, hosts, latency_ms, run, steps, calls, dict(phases.wall), dict(phases.cpu), wall,
                        cpu, fake_cpu))
    engines.clear()
    return rows


KEY = ("services", "hosts", "latency ms", "run")
WALL_HEADER = (*KEY, "steps", "engine calls", *(f"{p} s" for p in PHASES), "wall s")
CPU_HEADER = (*KEY, *(f"{p} cpu s" for p in PHASES), "cpu s", "fake cpu s", "own s")


def key_cells(row: Row) -> list[str]:
    return [f"{row.services:,}", f"{row.hosts:,}", f"{row.latency_ms:g}", row.run]


def print_table(header: tuple[str, ...], lines: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if h == "run" else "---:" for h in header) + "|")
    for cells in lines:
        print("| " + " | ".join(cells) + " |")


def print_tables(rows: list[Row]) -> None:
    """Wall time per phase; then CPU time per phase, the fake engines' and xcompose's own."""
    print_table(WALL_HEADER, [[*key_cells(r), f"{r.steps:,}", f"{r.calls:,}",
                               *(f"{r.phases[p]:.3f}" for p in PHASES), f"{r.wall:.3f}"] for r in rows])
    print()
    print_table(CPU_HEADER, [[*key_cells(r), *(f"{r.phases_cpu[p]:.3f}" for p in PHASES),
                              *(f"{v:.3f}" for v in (r.cpu, r.fake_cpu, r.own))] for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=2.0, help="Each engine call's round trip (also: 0).")
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--sizes", default="1000,10000", help="Services per run, the first the growth's baseline.")
    parser.add_argument("--format", dest="fmt", choices=("text", "json"), default="text",
                        help="What `up` prints: its progress lines, or JSON events.")
    parser.add_argument("--smoke", action="store_true",
                        help="100 and 1,000 services on 10 hosts, latency 0 and 1 ms (does it still run?)")
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    if args.smoke:
        sizes, args.hosts, args.latency_ms = (100, 1_000), 10, min(args.latency_ms, 1.0)
    latencies = sorted({0.0, args.latency_ms})
    os.environ.setdefault("XCOMPOSE_LOCK_LEASE", "30")

    with tempfile.TemporaryDirectory() as folder:
        rows = [row for services in sizes for latency in latencies
                for row in measure(services, args.hosts, latency, args.fmt, Path(folder))]
    print_tables(rows)
    print()
    load = os.getloadavg()
    print(f"load average before printing: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{os.cpu_count()} cores; reporting: {args.fmt}")
    small, big = label(sizes[0]), label(sizes[-1])
    for latency in latencies:
        for run in ("fresh", "no-op"):
            first, last = (next(r for r in rows if r.services == s and r.latency_ms == latency and r.run == run)
                           for s in (sizes[0], sizes[-1]))
            print(f"{run} up, {latency:g} ms: own time {big} {last.own:.3f} s (wall {last.wall:.3f} s), "
                  f"growth {big}/{small} {last.own / first.own:.1f}x (wall {last.wall / first.wall:.1f}x)")
    print(f"targets for 10k services on 100 hosts: own time under {TARGET_OWN_S_10K:g} s, "
          f"growth from 1k at most {TARGET_GROWTH:g}x")


if __name__ == "__main__":
    main()
