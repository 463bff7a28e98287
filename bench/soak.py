"""Soak: redis-benchmark through a pair of xcompose ambassadors for a set time, counting
errors (target: none) and watching the ambassadors' memory (target: flat).

    sudo .venv/bin/python bench/soak.py [--seconds 60] [--clients 20] [--lab PREFIX] [--smoke]

Deploys, with the real `xcompose up`, redis on lab host 1 and a tools container on lab host
2 that links to it: a cross-host link, so an ambassador pair (server on host 1, client on
host 2) carries every request. redis-benchmark runs in the tools container against the
link's alias, in rounds of a few seconds (`-t ping,set,get`, `--clients` connections; each
round opens its connections anew) until the time is up. Between rounds it samples memory
(as `docker stats` counts it: usage less inactive file cache) and the process count of both
ambassadors. It prints the rounds, then start, peak and end side by side; it never asserts.

Starts its own lab (prefix `xsk`, 2 hosts) unless --lab names a running one; takes the
project and the lab it started down at the end (also on Ctrl-C). The project's CA is made in a
temporary $XDG_STATE_HOME, removed at the end.

--smoke (for the test suite: does the script still run?): one short round (5 clients, 2,000
requests per test), then the same tables.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from xcompose.lab import Lab
from xcompose.plan.naming import LABEL_PROJECT, LABEL_RELAY, LABEL_ROLE, LABEL_TLS_CERT

PROJECT = "soak"
TOPOLOGY = """
name: soak
hosts: {h1: {}, h2: {}}
services:
  redis: {image: "redis:7", host: h1, expose: [6379]}
  bench: {image: "xcompose/tools:latest", host: h2, links: ["redis"], command: sleep infinity}
"""
TESTS = "ping,set,get"
ROUND_SECONDS = 5.0
FIRST_REQUESTS = 20_000  # -n of the first round; later rounds aim at ROUND_SECONDS
MIN_REQUESTS = 5_000


@dataclass(frozen=True)
class Limits:
    """How long to soak, and the bounds of every round."""

    seconds: float
    clients: int
    max_rounds: int | None = None  # None: as many as fit in `seconds`
    first_requests: int = FIRST_REQUESTS
    min_requests: int = MIN_REQUESTS
    round_timeout: int = 120  # seconds one redis-benchmark round may take


SMOKE = Limits(seconds=ROUND_SECONDS, clients=5, max_rounds=1, first_requests=2_000, min_requests=1_000,
               round_timeout=30)


@dataclass
class Sample:
    at: float
    memory: dict[str, int]  # ambassador role -> bytes
    pids: dict[str, int]


@dataclass
class Round:
    at: float
    seconds: float
    requests: int
    rps: dict[str, float]
    errors: list[str] = field(default_factory=list)


def memory_of(container) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    stats = container.stats(stream=False)
    mem = stats.get("memory_stats", {})
    cache = mem.get("stats", {}).get("inactive_file", mem.get("stats", {}).get("total_inactive_file", 0))
    return int(mem.get("usage", 0)) - int(cache), int(stats.get("pids_stats", {}).get("current", 0))


def run_round(bench, requests: int, clients: int, timeout: int) -> Round:  # type: ignore[no-untyped-def]
    command = (f"timeout {timeout} redis-benchmark -h redis -p 6379 -c {clients} -n {requests} "
               f"-t {TESTS} --csv")
    started = time.monotonic()
    code, output = bench.exec_run(["sh", "-c", command])
    took = time.monotonic() - started
    text = output.decode(errors="replace")
    rps: dict[str, float] = {}
    errors: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0] != "test":
            try:
                rps[row[0]] = float(row[1])
            except ValueError:
                errors.append(",".join(row))
        elif row and row[0] != "test":
            errors.append(",".join(row))
    errors += [line for line in text.splitlines() if "rror" in line or "reset" in line]
    if code != 0:
        errors.append(f"redis-benchmark exit {code}")
    expected = len(TESTS.split(",")) + 1  # ping runs as PING_INLINE and PING_MBULK
    if len(rps) < expected:
        errors.append(f"only {len(rps)} of {expected} tests reported")
    return Round(started, took, requests * len(rps), rps, sorted(set(errors)))


def human(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def xcompose(files: list[Path], *args: str, env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "xcompose", "-p", PROJECT]
    for file in files:
        argv += ["-f", str(file)]
    done = subprocess.run([*argv, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"xcompose {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def soak(lab: Lab, limits: Limits) -> int:
    seconds, clients = limits.seconds, limits.clients
    h1, h2 = lab.hosts[0], lab.hosts[1]
    folder = Path(tempfile.mkdtemp(prefix="xcompose-soak-"))
    # paramiko (docker-py ssh://) reads ~/.ssh of $HOME; the project's CA goes to the folder.
    env = {**os.environ, **lab.env(), "HOME": str(lab.ssh_home), "XDG_STATE_HOME": str(folder / "state")}
    topology = folder / "soak.yaml"
    topology.write_text(TOPOLOGY)
    override = folder / "lab.override.yaml"
    override.write_text(yaml.safe_dump({"hosts": {
        "h1": {"address": h1.address, "docker": h1.ssh_url},
        "h2": {"address": h2.address, "docker": h2.ssh_url},
    }}))
    files = [topology, override]
    one, two = lab.docker_client(h1, timeout=300), lab.docker_client(h2, timeout=300)
    try:
        print(f"xcompose up ({h1.name}: redis, server ambassador; {h2.name}: bench, client ambassador)")
        xcompose(files, "up", "--quiet", env=env)
        label = f"{LABEL_PROJECT}={PROJECT}"
        [server] = one.containers.list(filters={"label": [label, f"{LABEL_ROLE}=ambassador-server"]})
        [client] = two.containers.list(filters={"label": [label, f"{LABEL_ROLE}=ambassador-client"]})
        [bench] = two.containers.list(filters={"name": f"{PROJECT}-bench"})
        ambassadors = {"server": server, "client": client}
        relay = server.labels.get(LABEL_RELAY, "socat")
        tls = "mutual TLS" if LABEL_TLS_CERT in server.labels else "no TLS"
        print(f"relay: {relay} ({server.image.tags[0] if server.image.tags else server.image.id}), {tls}")

        def sample() -> Sample:
            taken = {role: memory_of(c) for role, c in ambassadors.items()}
            return Sample(time.monotonic(), {r: m for r, (m, _) in taken.items()},
                          {r: p for r, (_, p) in taken.items()})

        samples = [sample()]
        rounds: list[Round] = []
        requests = limits.first_requests
        start = time.monotonic()
        print(f"redis-benchmark -c {clients} -t {TESTS} in rounds of ~{ROUND_SECONDS:g} s "
              f"for {seconds:g} s" + (f", at most {limits.max_rounds} round(s)" if limits.max_rounds else ""))
        # At least one round; then until the time is up or the rounds are counted out.
        while not rounds or (time.monotonic() - start < seconds
                             and (limits.max_rounds is None or len(rounds) < limits.max_rounds)):
            done = run_round(bench, requests, clients, limits.round_timeout)
            rounds.append(done)
            samples.append(sample())
            rate = statistics.median(done.rps.values()) if done.rps else 0
            print(f"  {done.at - start:6.1f} s  {done.requests:>8} requests  "
                  f"median {rate:>9.0f} req/s  errors {len(done.errors)}  "
                  f"memory server {human(samples[-1].memory['server'])} "
                  f"client {human(samples[-1].memory['client'])}"
                  + (f"  {done.errors[:2]}" if done.errors else ""))
            if rate:  # aim each round at ROUND_SECONDS: -n requests for each test
                requests = max(limits.min_requests, int(rate * ROUND_SECONDS / len(done.rps)))
        report(rounds, samples, time.monotonic() - start, clients)
        return 1 if any(r.errors for r in rounds) else 0
    finally:
        try:
            xcompose(files, "down", "--volumes", "--quiet", env=env)
        finally:
            one.close()
            two.close()
            shutil.rmtree(folder, ignore_errors=True)


def report(rounds: list[Round], samples: list[Sample], took: float, clients: int) -> None:
    total = sum(r.requests for r in rounds)
    errors = sum(len(r.errors) for r in rounds)
    tests = sorted({t for r in rounds for t in r.rps})
    print(f"\n{len(rounds)} rounds, {took:.0f} s, {total} requests, {clients} clients, "
          f"errors: {errors}")
    print("\n| test | median req/s | min req/s |\n|---|---:|---:|")
    for test in tests:
        values = [r.rps[test] for r in rounds if test in r.rps]
        print(f"| {test} | {statistics.median(values):.0f} | {min(values):.0f} |")
    # Flat means the last quarter of the run sits where the first quarter did; single
    # samples jump by a few hundred KiB with the connections open at that moment.
    quarter = max(1, (len(samples) - 1) // 4)
    early, late = samples[1:1 + quarter], samples[-quarter:]
    print("\n| ambassador | idle | first quarter (median) | last quarter (median) | change "
          "| peak | processes idle / end |\n|---|---:|---:|---:|---:|---:|---:|")
    for role in ("server", "client"):
        before = int(statistics.median(s.memory[role] for s in early))
        after = int(statistics.median(s.memory[role] for s in late))
        peak = max(s.memory[role] for s in samples)
        print(f"| {role} | {human(samples[0].memory[role])} | {human(before)} | {human(after)} | "
              f"{(after - before) / (1 << 20):+.1f} MiB | {human(peak)} "
              f"| {samples[0].pids[role]} / {samples[-1].pids[role]} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to soak")
    parser.add_argument("--clients", type=int, default=20, help="redis-benchmark -c")
    parser.add_argument("--lab", metavar="PREFIX", help="use this running lab (2+ hosts)")
    parser.add_argument("--smoke", action="store_true",
                        help="one short round (the test suite's check that this still runs)")
    args = parser.parse_args()
    limits = SMOKE if args.smoke else Limits(args.seconds, args.clients)
    if os.geteuid() != 0:
        print("bench/soak.py needs root (the lab)", file=sys.stderr)
        return 2
    if args.lab:
        lab = Lab.get(args.lab)
        if lab is None or len(lab.hosts) < 2:
            print(f"no lab {args.lab!r} of 2 or more hosts is running", file=sys.stderr)
            return 2
        lab.images()
        return soak(lab, limits)
    lab = Lab.up(hosts=2, prefix="xsk")
    try:
        lab.images()
        return soak(lab, limits)
    finally:
        lab.down()


if __name__ == "__main__":
    sys.exit(main())
