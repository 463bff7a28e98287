"""What the `up` benches share: the topologies they time, running a command line and timing
it, the machine's load, and printing tables. Nothing of xcompose (nor yaml) is imported at
the top: `up.py --inprocess` times those imports."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xcompose.lab import Lab

LABEL_PROJECT = "io.xcompose.project"
COMPOSE_LABEL = "com.docker.compose.project"
TOOLS = "xcompose/tools:latest"
SLEEP = ["sleep", "infinity"]


def xcompose_argv() -> list[str]:
    script = Path(sys.executable).parent / "xcompose"
    return [str(script)] if script.exists() else [sys.executable, "-m", "xcompose"]


# --- the machine -------------------------------------------------------------------------


def wait_quiet(phase: str, max_load: float, max_wait: float) -> float:
    """Wait (bounded) for the 1-minute load average to drop under max_load; the load the
    phase starts with is returned and printed."""
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    if load >= max_load:
        print(f"[{phase}] load {load:.2f}; waiting up to {max_wait:g}s for < {max_load:g}",
              file=sys.stderr, flush=True)
    while load >= max_load and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    note = "" if load < max_load else " (gave up waiting: numbers are pessimistic)"
    print(f"[{phase}] starting at load {load:.2f}{note}", file=sys.stderr, flush=True)
    return load


# --- topologies --------------------------------------------------------------------------


def services_for(host: str, pairs: int, start: int = 1) -> dict[str, dict]:
    """`pairs` redis servers and as many sleepers, each sleeper linked to one redis."""
    out: dict[str, dict] = {}
    for n in range(start, start + pairs):
        out[f"r{n:02d}"] = {"image": "redis:7", "host": host, "expose": [6379]}
    for n in range(start, start + pairs):
        out[f"t{n:02d}"] = {"image": TOOLS, "host": host, "command": SLEEP,
                            "links": [f"r{n:02d}:kv{n:02d}"]}
    return out


def dump(path: Path, data: Any) -> None:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False))


def topology(name: str, hosts: int, pairs_per_host: int) -> dict:
    services: dict[str, dict] = {}
    for h in range(hosts):
        services.update(services_for(f"h{h + 1}", pairs_per_host, 1 + h * pairs_per_host))
    # Each host's pairs talk among themselves (links): nothing is reached across hosts, so
    # the work is the same containers docker-compose makes, host after host.
    return {"name": name, "hosts": {f"h{h + 1}": {} for h in range(hosts)}, "services": services,
            "ambassador": {"reach": "used"}}


def compose_file(pairs: int) -> dict:
    """The same containers for docker-compose v1 (file format 2.4)."""
    services: dict[str, dict] = {}
    for n in range(1, pairs + 1):
        services[f"r{n:02d}"] = {"image": "redis:7", "expose": ["6379"]}
    for n in range(1, pairs + 1):
        services[f"t{n:02d}"] = {"image": TOOLS, "command": SLEEP, "links": [f"r{n:02d}:kv{n:02d}"]}
    return {"version": "2.4", "services": services}


def override(lab: Lab, hosts: int, transport: str) -> dict:
    """Map h1..hN onto the lab: transport is `unix` (api), `api-ssh` or `ssh`."""
    out: dict[str, dict] = {}
    for h in range(hosts):
        lab_host = lab.hosts[h]
        if transport == "unix":
            entry = {"docker": lab_host.docker_socket, "executor": "api"}
        else:
            entry = {"docker": lab_host.ssh_url, "executor": "ssh" if transport == "ssh" else "api"}
        out[f"h{h + 1}"] = {"address": lab_host.address, **entry}
    return {"hosts": out}


# --- running and timing ------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    code: int
    output: str
    busy: float  # share of all the machine's cores busy meanwhile (anyone's work), 0..1


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


# Seconds any one command may take (--smoke: less); a command that hangs ends the run.
COMMAND_TIMEOUT = {"seconds": 600.0}


def timed(argv: Sequence[str], env: dict[str, str], timeout: float | None = None) -> Run:
    busy0, total0 = cpu_ticks()
    began = time.perf_counter()
    done = subprocess.run(list(argv), env=env, capture_output=True, text=True,
                          timeout=timeout or COMMAND_TIMEOUT["seconds"],
                          check=False)
    seconds = time.perf_counter() - began
    busy1, total1 = cpu_ticks()
    busy = (busy1 - busy0) / max(1, total1 - total0)
    return Run(seconds, done.returncode, done.stdout + done.stderr, busy)


@dataclass
class Project:
    """One topology on the lab, driven through the real command line."""

    name: str
    files: list[Path]
    env: dict[str, str]

    def run(self, *args: str, timeout: float | None = None) -> Run:
        argv = [*xcompose_argv(), "-p", self.name]
        for f in self.files:
            argv += ["-f", str(f)]
        return timed(argv + list(args), self.env, timeout)


@dataclass
class Compose:
    name: str
    file: Path
    docker_host: str
    env: dict[str, str]

    def run(self, *args: str, timeout: float | None = None) -> Run:
        env = {**self.env, "DOCKER_HOST": self.docker_host}
        return timed(["docker-compose", "-p", self.name, "-f", str(self.file), *args], env, timeout)


# Tear-downs of what the phases made, run at the end whatever happens (a reused lab stays clean).
CLEANUPS: list[Callable[[], object]] = []


def checked(what: str, run: Run) -> Run:
    if run.code != 0:
        raise SystemExit(f"{what} failed (exit {run.code}):\n{run.output[-3000:]}")
    return run


class Counter:
    """Running containers of a project per lab host, over the unix sockets."""

    def __init__(self, lab: Lab) -> None:
        self.clients = [lab.docker_client(h) for h in lab.hosts]

    def running(self, label: str, value: str) -> int:
        flt = {"label": f"{label}={value}", "status": "running"}
        return sum(len(c.containers.list(filters=flt)) for c in self.clients)

    def close(self) -> None:
        for c in self.clients:
            c.close()


@dataclass
class Series:
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def add(self, key: str, run: Run) -> None:
        self.runs.setdefault(key, []).append(run)

    def median(self, key: str) -> float:
        return statistics.median(r.seconds for r in self.runs[key])

    def row(self, key: str, label: str, ratio: str = "", target: str = "") -> list[str]:
        runs = self.runs[key]
        busy = statistics.median(r.busy for r in runs)
        return [label, " ".join(f"{r.seconds:.2f}" for r in runs), f"{self.median(key):.2f}",
                ratio, target, f"{busy:.0%}"]


HEAD = ["what", "rounds s", "median s", "ratio", "target", "cpu busy"]


def fmt_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                             enumerate(zip(cells, widths, strict=True))) + " |"


def table(head: Sequence[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [list(head), *rows]) for i in range(len(head))]
    sep = "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in
                         enumerate(widths)) + "|"
    return "\n".join([fmt_row(head, widths), sep, *(fmt_row(r, widths) for r in rows)])
