"""bench/fleet.py needs no lab (its hosts are engines in memory), so the unit tests run its
smoke mode: it must exit 0 and print both tables with a number in every cell. What the
numbers are is the bench's business: timings are not tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300.0  # the smoke run takes about 20 s on 2 busy cores
NUMBER = re.compile(r"^-?[\d,]*\d(\.\d+)?$")
KEY = ["services", "hosts", "latency ms", "run"]
PHASES = ["load", "plan", "lock+ca", "read live", "decide", "walk", "report"]


def tables(output: str) -> list[list[list[str]]]:
    """Each `| a | b |` table of the output: its rows of cells, the `|---|` line left out."""
    found: list[list[list[str]]] = []
    previous = ""
    for line in output.splitlines():
        if line.startswith("|") and not line.startswith("|-"):
            if not previous.startswith("|"):
                found.append([])
            found[-1].append([cell.strip() for cell in line.strip()[1:-1].split("|")])
        previous = line
    return found


def test_the_fleet_bench_smoke_run_prints_both_tables_with_numbers() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), "--smoke"], cwd=ROOT,
                         capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    walls, cpus = tables(run.stdout)
    assert walls[0] == [*KEY, "steps", "engine calls", *(f"{p} s" for p in PHASES), "wall s"], run.stdout
    assert cpus[0] == [*KEY, *(f"{p} cpu s" for p in PHASES), "cpu s", "fake cpu s", "own s"], run.stdout
    for table in (walls, cpus):
        # 100 and 1,000 services, no latency and 1 ms, a fresh and a no-op `up` of each.
        assert [tuple(row[:4]) for row in table[1:]] == [
            (size, "10", latency, run) for size in ("100", "1,000") for latency in ("0", "1")
            for run in ("fresh", "no-op")], run.stdout
        for row in table[1:]:
            assert all(NUMBER.match(cell) for cell in row[:3] + row[4:]), row
    assert "own time 1k" in run.stdout and "growth 1k/100" in run.stdout, run.stdout
