"""What reaching services by name across hosts costs: relay containers and their memory.

    .venv/bin/python bench/relays.py [--lab PREFIX] [--smoke]

Every service reached from another host gets a server ambassador on its own host and a
client ambassador on each other host where a service of one of its networks runs. This
bench counts those relays with the real planner for topologies up to 300 services on 10
hosts, all on one network (the worst case: everyone may call everyone), each service waiting
for the two before it, with `ambassador.reach` all (Compose's meaning) and used (only where a
service waits for, links to or names the target); and it measures on the lab what one relay
costs in memory: the container's own usage (as `docker stats` counts it)
and the containerd shim that every container brings. The baseline is a plain `sleep`
container measured the same way in the same run. It prints; it never asserts.

Starts its own lab (prefix `xrl`, 3 hosts) unless --lab names a running one; takes the
project (and the lab it started) down at the end. --smoke: the same, with the smaller
topologies only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.lab import Lab
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.naming import LABEL_PROJECT, LABEL_ROLE
from xcompose.plan.steps import AMBASSADOR_STEPS, ServiceStep

PROJECT = "relaycost"
# One redis per host, each reachable from the two others; sleepers offer no port.
TOPOLOGY = {
    "name": PROJECT,
    "hosts": {"h1": {}, "h2": {}, "h3": {}},
    "services": {
        **{f"db{i}": {"image": "redis:7", "host": f"h{i}", "expose": [6379]} for i in (1, 2, 3)},
        **{f"idle{i}": {"image": "xcompose/tools:latest", "host": f"h{i}", "command": ["sleep", "infinity"]}
           for i in (1, 2, 3)},
    },
}
SIZES = [(10, 3), (30, 3), (100, 10), (300, 10)]
SMOKE_SIZES = [(10, 3), (30, 3)]


def count_relays(services: int, hosts: int, reach: str) -> tuple[int, int, int]:
    """(service containers, server relays, client relays) for `services` on `hosts`, one
    network, each service with a port of its own and waiting for the two before it."""
    data = {
        "hosts": {f"h{h}": {"address": f"10.0.0.{h + 1}"} for h in range(hosts)},
        "ambassador": {"reach": reach},
        "services": {f"s{i}": {"image": "app", "host": f"h{i % hosts}", "expose": [8000],
                               "depends_on": [f"s{j}" for j in (i - 1, i - 2) if j >= 0]}
                     for i in range(services)},
    }
    project = Project(name="bench", topology=Topology.model_validate(data), files=[Path("bench.yaml")])
    plan = build_plan(project, Credentials.none("bench"))
    steps = plan.steps()
    servers = sum(1 for s in steps if isinstance(s, AMBASSADOR_STEPS) and s.id.kind == "ambassador-server")
    clients = sum(1 for s in steps if isinstance(s, AMBASSADOR_STEPS) and s.id.kind == "ambassador-client")
    return sum(1 for s in steps if isinstance(s, ServiceStep)), servers, clients


def container_memory(container: Any) -> int:
    """Bytes in use, as `docker stats` counts them (usage less inactive file cache)."""
    stats = container.stats(stream=False).get("memory_stats", {})
    inner = stats.get("stats", {})
    return int(stats.get("usage", 0)) - int(inner.get("inactive_file", inner.get("total_inactive_file", 0)))


def shim_memory(container: Any) -> int:
    """Resident bytes of the containerd shim that holds the container (its init's parent)."""
    container.reload()
    pid = int(container.attrs["State"]["Pid"])
    status = Path(f"/proc/{pid}/status").read_text()
    parent = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
    shim = Path(f"/proc/{parent}/status").read_text()
    return int(next(line.split()[1] for line in shim.splitlines() if line.startswith("VmRSS:"))) * 1024


def measure(lab: Lab) -> dict[str, list[tuple[int, int]]]:
    """Per kind of container: (container bytes, shim bytes) of each one on the lab."""
    folder = Path(tempfile.mkdtemp(prefix="xcompose-relays-"))
    env = {**os.environ, **lab.env(), "HOME": str(lab.ssh_home), "XDG_STATE_HOME": str(folder / "state")}
    hosts = {f"h{i + 1}": {"address": h.address, "docker": h.ssh_url} for i, h in enumerate(lab.hosts[:3])}
    (folder / "compose.yaml").write_text(yaml.safe_dump({**TOPOLOGY, "hosts": hosts}))
    argv = [sys.executable, "-m", "xcompose", "-f", str(folder / "compose.yaml")]
    clients = [lab.docker_client(h, timeout=300) for h in lab.hosts[:3]]
    try:
        done = subprocess.run([*argv, "up", "--quiet"], env=env, capture_output=True, text=True, check=False,
                              timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"xcompose up failed:\n{done.stdout}{done.stderr}")
        time.sleep(2)  # let the relays settle after their readiness probes
        found: dict[str, list[tuple[int, int]]] = {}
        for client in clients:
            for c in client.containers.list(filters={"label": f"{LABEL_PROJECT}={PROJECT}"}):
                role = c.labels.get(LABEL_ROLE, "?")
                kind = role if role != "service" else ("sleep (baseline)" if "idle" in c.name else "redis")
                found.setdefault(kind, []).append((container_memory(c), shim_memory(c)))
        return found
    finally:
        subprocess.run([*argv, "down", "--volumes", "--quiet"], env=env, capture_output=True, check=False,
                       timeout=600)
        for client in clients:
            client.close()
        shutil.rmtree(folder, ignore_errors=True)


def mib(value: float) -> str:
    return f"{value / (1 << 20):.1f}"


def report(measured: dict[str, list[tuple[int, int]]], sizes: list[tuple[int, int]]) -> None:
    print("\n| container | count | memory MiB (median) | shim MiB (median) | total MiB | vs sleep |")
    print("|---|---:|---:|---:|---:|---:|")
    totals = {}
    for kind in ("sleep (baseline)", "redis", "ambassador-server", "ambassador-client"):
        rows = measured.get(kind, [])
        if not rows:
            continue
        memory = statistics.median(m for m, _ in rows)
        shim = statistics.median(s for _, s in rows)
        totals[kind] = memory + shim
        base = totals.get("sleep (baseline)") or totals[kind]
        print(f"| {kind} | {len(rows)} | {mib(memory)} | {mib(shim)} | {mib(memory + shim)} | "
              f"{totals[kind] / base:.1f}x |")
    relay = statistics.mean(totals.get(k, 0.0) for k in ("ambassador-server", "ambassador-client"))
    print("\n| services x hosts | reach | service containers | server relays | client relays "
          "| relays per service | relay memory GiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for services, hosts in sizes:
        for reach in ("all", "used"):
            own, servers, clients = count_relays(services, hosts, reach)
            relays = servers + clients
            print(f"| {services} x {hosts} | {reach} | {own} | {servers} | {clients} | {relays / own:.1f} | "
                  f"{relays * relay / (1 << 30):.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", metavar="PREFIX", help="use this running lab (3+ hosts)")
    parser.add_argument("--smoke", action="store_true", help="the smaller topologies only")
    args = parser.parse_args()
    sizes = SMOKE_SIZES if args.smoke else SIZES
    if os.geteuid() != 0:
        print("bench/relays.py needs root (the lab)", file=sys.stderr)
        return 2
    if args.lab:
        found = Lab.get(args.lab)
        if found is None or len(found.hosts) < 3:
            print(f"no lab {args.lab!r} of 3 or more hosts is running", file=sys.stderr)
            return 2
        found.images()
        report(measure(found), sizes)
        return 0
    lab = Lab.up(hosts=3, prefix="xrl")
    try:
        lab.images()
        report(measure(lab), sizes)
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
