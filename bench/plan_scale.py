"""How `plan --offline` scales: the whole command, and its parts (loading the file,
build_plan, the JSON rendering), on generated topologies.

    .venv/bin/python bench/plan_scale.py [--repeat 3]

Topologies of 1,000 and 10,000 services on 100 hosts; every service exposes a port (unique
on its host, so server ambassadors never clash) and links to two services created before it
(so there is no cycle), nearly always on another host: the worst case for ambassadors.
Prints a table next to the targets of DESIGN §8; it measures, it does not assert.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from xcompose.loader import load_project
from xcompose.model import Topology
from xcompose.planner import build_plan
from xcompose.project import Project
from xcompose.render import render_plan

TARGET_SECONDS_10K = 2.0
TARGET_GROWTH = 12.0


def topology(services: int, hosts: int, links_each: int = 2, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    data: dict[str, Any] = {
        "name": "bench",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=100)
    args = parser.parse_args()

    rows = []
    for services in (1_000, 10_000):
        data = topology(services, args.hosts)
        links = sum(len(s["links"]) for s in data["services"].values())
        project = Project(name="bench", topology=Topology.model_validate(data), files=[Path("bench.yaml")])
        plan = build_plan(project)
        plan_best, plan_median, plan_cpu = timed(lambda: build_plan(project), args.repeat)
        json_best, json_median, _ = timed(lambda: render_plan(plan, "json"), args.repeat)
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "xcompose.yaml"
            file.write_text(yaml.safe_dump(data, sort_keys=False))
            load_best, _, _ = timed(lambda: load_project([file], environ={}), args.repeat)
            command = [sys.executable, "-m", "xcompose", "-f", str(file), "plan", "--offline",
                       "--format", "json"]
            whole_best, _, _ = timed(
                lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL), args.repeat
            )
        rows.append((services, args.hosts, links, plan.graph.number_of_nodes(),
                     plan_best, plan_median, plan_cpu, json_best, json_median, load_best,
                     whole_best))
        del plan, project, data  # the 10k run should not share the heap with the 1k one

    header = ("services", "hosts", "links", "steps", "plan best s", "plan median s",
              "plan cpu s", "json best s", "json median s", "load best s", "command s")
    print(" | ".join(f"{h:>13}" for h in header))
    for row in rows:
        print(" | ".join(f"{v:>13,}" if isinstance(v, int) else f"{v:>13.3f}" for v in row))
    small, large = rows[0], rows[-1]
    print()
    print(f"build_plan 10k: {large[4]:.3f} s best, {large[5]:.3f} s median "
          f"(target: under {TARGET_SECONDS_10K:.0f} s)")
    print(f"growth 10k/1k: build_plan {large[4] / small[4]:.1f}x, "
          f"(cpu {large[6] / small[6]:.1f}x), json {large[7] / small[7]:.1f}x "
          f"(target: at most {TARGET_GROWTH:.0f}x)")
    print(f"build_plan + render_plan json, 10k: {large[4] + large[7]:.3f} s best")
    print(f"the whole `xcompose plan --offline --format json`, 10k: {large[10]:.3f} s best "
          f"(loading the file {large[9]:.3f} s); growth {large[10] / small[10]:.1f}x "
          f"(target: under {TARGET_SECONDS_10K:.0f} s, at most {TARGET_GROWTH:.0f}x)")


if __name__ == "__main__":
    main()
