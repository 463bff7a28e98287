"""How `plan --offline` scales: the whole command, and its parts (loading the file,
build_plan, the JSON rendering), on generated topologies.

    .venv/bin/python bench/plan_scale.py [--repeat 3] [--hosts 100] [--smoke]

Topologies of 1,000 and 10,000 services on 100 hosts (`--smoke`: 100 and 1,000 services on
10 hosts, one run each, for the test suite: it proves the script still runs); every service exposes a port (unique
on its host, so server ambassadors never clash) and links to two services created before it
(so there is no cycle), nearly always on another host: the worst case for ambassadors.
Prints a table next to the targets of DESIGN §8; it measures, it does not assert.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from xcompose.config.load import load_project
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.render import render_plan

TARGET_SECONDS_10K = 2.0
TARGET_GROWTH = 12.0


def topology(services: int, hosts: int, links_each: int = 2, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    data: dict[str, Any] = {
        "name": "bench",
        # Every service is on the one default network and exposes a port: with Compose's
        # meaning each would be reached from all 100 hosts (a million relays). The links say
        # who uses whom, and `reach: used` plans a relay pair for those only.
        "ambassador": {"reach": "used"},
        "hosts": {f"h{h}": {"address": f"10.1.{h // 250}.{h % 250 + 1}"} for h in range(hosts)},
        "services": {},
    }
    for i in range(services):
        targets = rng.sample(range(i), min(i, links_each))
        data["services"][f"s{i}"] = {
            "image": "app:1",
            "host": f"h{i % hosts}",
            "expose": [10000 + i // hosts],
            "environment": {"ROLE": f"r{i % 7}"},
            "links": [f"s{t}" for t in targets],
        }
    return data


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """(best wall, median wall, best CPU) seconds over `repeat` runs. CPU time is shown too
    because wall time on a shared machine also counts other people's work."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
        del result  # freeing the plan is not planning: outside the clock
    return min(walls), statistics.median(walls), min(cpus)


@functools.cache
def as_installed() -> dict[str, str]:
    """The environment a command runs in as an installed xcompose does: its modules
    compiled once and kept (in a folder of this run, the source tree untouched), even where
    PYTHONDONTWRITEBYTECODE says otherwise, as on the machine where this was first measured:
    compiling them anew took 0.1-0.2 s of each command there."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="xcompose-bench-pyc-")}


def timed_command(command: list[str], repeat: int) -> tuple[float, float]:
    """(best wall, best CPU) seconds of a command over `repeat` runs, after one run not
    timed (that compiles its modules); the CPU time is the child's own (user + system),
    which other jobs on the machine do not add to."""
    env = as_installed()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600, env=env)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(walls), min(cpus)


def label(services: int) -> str:
    return f"{services // 1000}k" if services >= 1000 and services % 1000 == 0 else str(services)


def measure(services: int, hosts: int, repeat: int) -> tuple[tuple[int | float, ...], float]:
    """The table's row for one size, and the best CPU time of the whole command."""
    data = topology(services, hosts)
    links = sum(len(s["links"]) for s in data["services"].values())
    project = Project(name="bench", topology=Topology.model_validate(data), files=[Path("bench.yaml")])
    # What `plan --offline` plans with: no certificates.
    credentials = Credentials.none(project.name)
    plan = build_plan(project, credentials)
    plan_best, plan_median, plan_cpu = timed(lambda: build_plan(project, credentials), repeat)
    json_best, json_median, _ = timed(lambda: render_plan(plan, "json"), repeat)
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "xcompose.yaml"
        file.write_text(yaml.safe_dump(data, sort_keys=False))
        load_best, _, _ = timed(lambda: load_project([file], environ={}), repeat)
        command = [sys.executable, "-m", "xcompose", "-f", str(file), "plan", "--offline",
                   "--format", "json"]
        whole_best, whole_cpu = timed_command(command, repeat)
    return (services, hosts, links, len(plan), plan_best, plan_median, plan_cpu, json_best,
            json_median, load_best, whole_best), whole_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--smoke", action="store_true",
                        help="100 and 1,000 services on 10 hosts, one run each (does it still run?)")
    args = parser.parse_args()
    sizes = (1_000, 10_000)
    if args.smoke:
        sizes, args.hosts, args.repeat = (100, 1_000), 10, 1

    # One function call per size: the larger run does not share the heap with the smaller.
    measured = [measure(services, args.hosts, args.repeat) for services in sizes]
    rows = [row for row, _ in measured]
    command_cpu = [cpu for _, cpu in measured]

    header = ("services", "hosts", "links", "steps", "plan best s", "plan median s",
              "plan cpu s", "json best s", "json median s", "load best s", "command s")
    print(" | ".join(f"{h:>13}" for h in header))
    for row in rows:
        print(" | ".join(f"{v:>13,}" if isinstance(v, int) else f"{v:>13.3f}" for v in row))
    small, large = rows[0], rows[-1]
    big, ratio = label(sizes[-1]), f"{label(sizes[-1])}/{label(sizes[0])}"
    print()
    print(f"build_plan {big}: {large[4]:.3f} s best, {large[5]:.3f} s median "
          f"(target for 10k: under {TARGET_SECONDS_10K:.0f} s)")
    print(f"growth {ratio}: build_plan {large[4] / small[4]:.1f}x, "
          f"(cpu {large[6] / small[6]:.1f}x), json {large[7] / small[7]:.1f}x "
          f"(target: at most {TARGET_GROWTH:.0f}x)")
    print(f"build_plan + render_plan json, {big}: {large[4] + large[7]:.3f} s best")
    print(f"the whole `xcompose plan --offline --format json`, {big}: {large[10]:.3f} s best "
          f"(loading the file {large[9]:.3f} s); growth {large[10] / small[10]:.1f}x "
          f"(target for 10k: under {TARGET_SECONDS_10K:.0f} s, at most {TARGET_GROWTH:.0f}x)")
    print(f"its CPU time, {big}: {command_cpu[-1]:.3f} s best; growth {command_cpu[-1] / command_cpu[0]:.1f}x; "
          f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
