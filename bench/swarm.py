"""`xcompose up` of one file on a Docker Swarm (`engine: swarm`) against the same file on
plain engines (ambassadors), on a lab of 3 hosts, timed as a user sees it.

    sudo .venv/bin/python bench/swarm.py [--rounds 3] [--lab PREFIX] [--pairs 3] [--smoke]

The file: on each of the 3 hosts, PAIRS redis:7 services and as many sleepers, each sleeper
on the next host linked to one redis (so every link crosses hosts: on plain engines each
brings a pair of ambassadors, on the swarm none). Per round and engine, timed in a
subprocess running the real command line, start to exit:

  fresh `up`     nothing of the project on the hosts
  no-op `up`     the same again: nothing to change
  `down`         everything removed

The plain engines are the baseline, measured in the same run (which goes first alternates
by round); the ratio is swarm / plain. On the swarm, `up` waits for each service's tasks to
run, as plain `up` waits for its containers and ambassadors. The swarm is unencrypted and
its endpoint mode is `auto` (dnsrr on a kernel without IPVS; decided by a probe container
on each node at the first `up`, kept after).

The machine is shared: before each round it waits (at most --quiet-wait seconds) for the
1-minute load average to fall under --max-load and prints the load it started with. It
prints; it never asserts. Starts its own lab (prefix `xsb`, 3 hosts) unless --lab names a
running one, forms a swarm of it if it is none (and dissolves only a swarm it formed), and
removes its projects, and the lab it started, at the end (also on Ctrl-C).

--smoke (for the test suite: does the script still run?): one round, one pair per host,
no waiting for a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from xcompose.lab import Lab

ENGINES = ("plain", "swarm")
PHASES = ("fresh up", "no-op up", "down")
TIMEOUT_S = 600.0


def topology(engine: str, pairs: int, hosts: list[str]) -> str:
    lines = [f"name: bench-{engine}"]
    if engine == "swarm":
        lines += ["engine: swarm", "swarm: {encrypted: false}"]
    lines += ["hosts:", *(f"  {h}: {{}}" for h in hosts), "services:"]
    for index, host in enumerate(hosts):
        consumer_host = hosts[(index + 1) % len(hosts)]
        for n in range(pairs):
            name = f"kv{index}{n}"
            lines += [f"  {name}: {{image: 'redis:7', host: {host}, expose: [6379]}}",
                      f"  app{index}{n}: {{image: 'redis:7', host: {consumer_host}, links: ['{name}:db{index}{n}'], "
                      "entrypoint: [sleep, infinity]}"]
    return "\n".join(lines) + "\n"


def wait_quiet(max_load: float, max_wait: float) -> float:
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[2:])} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-3000:]}")
    return seconds


def run(lab: Lab, rounds: int, pairs: int, max_load: float, quiet_wait: float, env: dict[str, str]) -> None:
    names = [h.name for h in lab.hosts[:3]]
    folder = Path(tempfile.mkdtemp(prefix="xcompose-bench-swarm-"))
    files: dict[str, list[str]] = {}
    for engine in ENGINES:
        (folder / f"{engine}.yaml").write_text(topology(engine, pairs, names))
        (folder / f"{engine}.lab.yaml").write_text(lab.override_yaml(names))
        files[engine] = ["-f", str(folder / f"{engine}.yaml"), "-f", str(folder / f"{engine}.lab.yaml")]
    base = [sys.executable, "-m", "xcompose"]
    times: dict[tuple[str, str], list[float]] = {(e, p): [] for e in ENGINES for p in PHASES}
    containers = 2 * pairs * len(names)
    print(f"{containers} services on {len(names)} hosts ({pairs} redis + {pairs} linked sleepers per host, "
          f"every link across hosts), {rounds} round(s)")
    try:
        for number in range(rounds):
            load = wait_quiet(max_load, quiet_wait)
            print(f"round {number + 1}: load average {load:.2f}", flush=True)
            order = ENGINES if number % 2 == 0 else ENGINES[::-1]
            for engine in order:
                for phase, args in (("fresh up", ["up", "-q"]), ("no-op up", ["up", "-q"]), ("down", ["down", "-q"])):
                    times[(engine, phase)].append(timed([*base, *files[engine], *args], env))
    finally:
        for engine in ENGINES:
            subprocess.run([*base, *files[engine], "down", "-q", "--volumes"], env=env, capture_output=True,
                           timeout=TIMEOUT_S, check=False)
    print()
    print("| what | rounds s | median s | ratio swarm/plain |")
    print("|---|---|---|---|")
    for phase in PHASES:
        medians = {e: statistics.median(times[(e, phase)]) for e in ENGINES}
        for engine in ENGINES:
            rounds_text = " ".join(f"{t:.2f}" for t in times[(engine, phase)])
            ratio = f"{medians['swarm'] / medians['plain']:.2f}x" if engine == "swarm" else "1.00x"
            print(f"| {phase}: {engine} | {rounds_text} | {medians[engine]:.2f} | {ratio} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lab", help="reuse this running lab (prefix, 3 hosts) instead of starting one")
    ap.add_argument("--prefix", default="xsb", help="prefix of the lab this run starts (default xsb)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=3, help="redis + sleeper pairs per host")
    ap.add_argument("--max-load", type=float, default=3.0)
    ap.add_argument("--quiet-wait", type=float, default=300.0, help="at most this long waiting for a quiet machine")
    ap.add_argument("--smoke", action="store_true", help="one round, one pair per host, no waiting")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds, args.pairs, args.quiet_wait = 1, 1, 0.0

    from xcompose.lab import Lab

    started = None
    if args.lab:
        found = Lab.get(args.lab)
        if found is None:
            raise SystemExit(f"no running lab {args.lab!r}")
        lab = found
    else:
        lab = started = Lab.up(hosts=3, prefix=args.prefix)
    formed = False
    try:
        if len(lab.hosts) < 3:
            raise SystemExit(f"lab {lab.prefix!r} has {len(lab.hosts)} hosts; this bench needs 3")
        if started is not None:
            lab.images()
        if not lab.swarm_nodes():
            lab.form_swarm()
            formed = True
        env = {**os.environ, **lab.env(), "HOME": str(lab.ssh_home), "PYTHONPATH": str(ROOT)}
        run(lab, args.rounds, args.pairs, args.max_load, args.quiet_wait, env)
    finally:
        if formed and started is None:
            lab.dissolve_swarm()
        if started is not None:
            started.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
