"""`xcompose up` against real engines, timed as a user sees it (DESIGN §8), on a lab of 3 hosts.

    sudo .venv/bin/python bench/up.py [--rounds 3] [--lab PREFIX] [--phases a,b,c,d] [--rtt 50] [--smoke]

Four comparisons, each in one run, several rounds, medians and ratios:

(a) fresh `xcompose up` of 20 containers on one host versus `docker-compose up -d` (v1, the
    Debian package) of the same 20 containers: 10 redis:7 and 10 xcompose/tools sleepers,
    each sleeper linked to one redis (alias kvNN), against the same lab host's unix socket. Both are
    torn down between rounds; which one goes first alternates. Target: ratio <= 1.0x.
(b) fresh `up` of 3 hosts x 10 containers versus the same 30 on one host (5 redis + 5
    linked sleepers per host, no cross-host link): what spreading the work costs. Target
    <= 1.0x.
(c) `up` with nothing to change, 30 containers on 3 hosts (the topology of (b)), with the
    `api` executor over the unix socket, `api` over ssh:// (paramiko), and the `ssh`
    executor. Target: under 1 s.
(d) distance (distance.py): fresh and no-op `up` of the topology of (c) with the hosts
    --rtt ms away and with no delay, through delaying relays, per transport, and
    `docker-compose up -d` host after host. Targets: fresh under delay <= 1.5x without;
    no-op under 1 s + 4 round trips.

Every number is the wall time of the real command line in a subprocess (`.venv/bin/xcompose`,
`docker-compose`), start to exit. To explain them it also times the CLI's start-up
(`xcompose --version`), `plan --offline` of the 30-container file, the phases of a no-op
`up` inside one fresh interpreter (imports, load, plan, pre-flight, lock, read + decide +
walk), and lists the slowest imports (`python -X importtime`).

The machine is shared: before each phase it waits (at most --quiet-wait seconds) for the
1-minute load average to fall under --max-load, and prints the load it started with.
It prints; it never asserts. Starts its own lab (prefix `xbu`, 3 hosts) unless --lab names a
running one; removes its projects, and the lab it started, at the end (also on Ctrl-C).

--smoke (for the test suite: does the script still run?): one round, the smallest sizes
(2 pairs on one host for (a), 1 pair per host for (b), (c) and (d)), only `api` over tcp://
in (d), no waiting for a quiet machine, and (a) and docker-compose in (d) only when
docker-compose is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# --source DIR: the xcompose package of DIR is the one measured (to compare two versions).
SOURCE_VAR = "XCOMPOSE_BENCH_SOURCE"
if os.environ.get(SOURCE_VAR):
    sys.path.insert(0, os.environ[SOURCE_VAR])

from distance import FAR, RTT, phase_d  # noqa: E402  (found next to this script, after the path is set)
from uptools import (  # noqa: E402
    CLEANUPS,
    COMMAND_TIMEOUT,
    COMPOSE_LABEL,
    HEAD,
    LABEL_PROJECT,
    Compose,
    Counter,
    Project,
    Run,
    Series,
    checked,
    compose_file,
    dump,
    override,
    table,
    timed,
    topology,
    wait_quiet,
    xcompose_argv,
)

if TYPE_CHECKING:
    from xcompose.lab import Lab
# Nothing of xcompose (nor yaml) is imported at the top: `--inprocess` times its imports.

# redis + linked sleeper pairs: (a) on one host, (b), (c) and (d) per host; (b) also puts
# the pairs of 3 hosts on one.
PAIRS = {"a": 10, "b": 5, "c": 5, "d": 5}
SMOKE_PAIRS = {"a": 2, "b": 1, "c": 1, "d": 1}

# --- the phases --------------------------------------------------------------------------


def phase_a(lab: Lab, work: Path, env: dict[str, str], rounds: int, counter: Counter,
            say: Callable[[str], None], pairs: int) -> list[list[str]]:
    topo, over = work / "a.yaml", work / "a.override.yaml"
    dump(topo, topology("xbu-a", 1, pairs))
    dump(over, override(lab, 1, "unix"))
    xc = Project("xbu-a", [topo, over], env)
    CLEANUPS.append(lambda: xc.run("down", "--quiet"))
    cfile = work / "docker-compose.yml"
    dump(cfile, compose_file(pairs))
    dc = Compose("xbucompose", cfile, lab.hosts[0].docker_socket, env)
    CLEANUPS.append(lambda: dc.run("down"))
    checked("xcompose down", xc.run("down", "--quiet"))
    checked("docker-compose down", dc.run("down"))
    series = Series()

    def run_xc() -> Run:
        r = checked("xcompose up", xc.run("up"))
        n = counter.running(LABEL_PROJECT, "xbu-a")
        assert n == 2 * pairs, f"xcompose: {n} running"
        checked("xcompose down", xc.run("down", "--quiet"))
        return r

    def run_dc() -> Run:
        r = checked("docker-compose up -d", dc.run("up", "-d"))
        n = counter.running(COMPOSE_LABEL, "xbucompose")
        assert n == 2 * pairs, f"docker-compose: {n} running"
        checked("docker-compose down", dc.run("down"))
        return r

    tools = [("xcompose", run_xc), ("compose", run_dc)]
    for rnd in range(rounds):
        for key, fn in tools if rnd % 2 == 0 else tools[::-1]:
            r = fn()
            series.add(key, r)
            say(f"(a) round {rnd + 1}/{rounds} {key}: {r.seconds:.2f}s")
    ratio = series.median("xcompose") / series.median("compose")
    return [
        series.row("xcompose", f"(a) {2 * pairs} containers, 1 host: xcompose up"),
        series.row("compose", f"(a) {2 * pairs} containers, 1 host: docker-compose up -d"),
        ["(a) xcompose / docker-compose", "", "", f"{ratio:.2f}x", "<= 1.0x", ""],
    ]


def phase_b(lab: Lab, work: Path, env: dict[str, str], rounds: int, counter: Counter,
            say: Callable[[str], None], pairs: int) -> list[list[str]]:
    """The same containers on 3 hosts and on one: `pairs` per host, or all of them on one."""
    projects = {}
    for hosts in (1, 3):
        name = f"xbu-b{hosts}"
        topo, over = work / f"{name}.yaml", work / f"{name}.override.yaml"
        dump(topo, topology(name, hosts, pairs * 3 // hosts))
        dump(over, override(lab, hosts, "unix"))
        projects[hosts] = Project(name, [topo, over], env)
        CLEANUPS.append(lambda p=projects[hosts]: p.run("down", "--quiet"))
        checked("xcompose down", projects[hosts].run("down", "--quiet"))
    series = Series()
    order = [1, 3]
    for rnd in range(rounds):
        for hosts in order if rnd % 2 == 0 else order[::-1]:
            p = projects[hosts]
            r = checked("xcompose up", p.run("up"))
            n = counter.running(LABEL_PROJECT, p.name)
            assert n == 2 * pairs * 3, f"{p.name}: {n} running"
            checked("xcompose down", p.run("down", "--quiet"))
            series.add(str(hosts), r)
            say(f"(b) round {rnd + 1}/{rounds} {hosts} host(s): {r.seconds:.2f}s")
    ratio = series.median("3") / series.median("1")
    return [
        series.row("1", f"(b) 1 host x {6 * pairs}: xcompose up"),
        series.row("3", f"(b) 3 hosts x {2 * pairs}: xcompose up"),
        ["(b) 3 hosts / 1 host, same containers", "", "", f"{ratio:.2f}x", "<= 1.0x", ""],
    ]


TRANSPORTS = (("unix", "api, unix socket"), ("api-ssh", "api, ssh:// (paramiko)"),
              ("ssh", "ssh executor"))


def phase_c(lab: Lab, work: Path, env: dict[str, str], rounds: int, counter: Counter,
            say: Callable[[str], None], pairs: int) -> tuple[list[list[str]], dict]:
    name = "xbu-c"
    topo = work / "c.yaml"
    dump(topo, topology(name, 3, pairs))
    projects = {}
    for key, _ in TRANSPORTS:
        over = work / f"c.{key}.yaml"
        dump(over, override(lab, 3, key))
        projects[key] = Project(name, [topo, over], env)
    CLEANUPS.append(lambda: projects["unix"].run("down", "--quiet"))
    checked("xcompose up", projects["unix"].run("up"))
    assert counter.running(LABEL_PROJECT, name) == 3 * 2 * pairs
    series = Series()
    for rnd in range(rounds):
        order = TRANSPORTS[rnd % 3:] + TRANSPORTS[:rnd % 3]
        for key, _ in order:
            r = checked("no-op up", projects[key].run("up"))
            if "nothing to change" not in r.output:
                raise SystemExit(f"the no-op up over {key} changed something:\n{r.output}")
            series.add(key, r)
            say(f"(c) round {rnd + 1}/{rounds} no-op up, {key}: {r.seconds:.2f}s")
    # What the no-op is made of.
    for _ in range(rounds):
        series.add("version", checked("--version", timed([*xcompose_argv(), "--version"], env)))
        series.add("plan", checked("plan --offline", projects["unix"].run("plan", "--offline")))
    phases: dict[str, dict[str, list[float]]] = {}
    for key, _ in TRANSPORTS:
        for _ in range(rounds):
            files = [str(f) for f in projects[key].files]
            r = checked("in-process no-op", timed(
                [sys.executable, __file__, "--inprocess", name, *files], env))
            for k, v in json.loads(r.output.strip().splitlines()[-1]).items():
                phases.setdefault(key, {}).setdefault(k, []).append(v)
    rows = [series.row(key, f"(c) no-op up, {3 * 2 * pairs} on 3 hosts: {label}", target="< 1 s")
            for key, label in TRANSPORTS]
    rows.append(series.row("version", "    CLI start-up alone (xcompose --version)"))
    rows.append(series.row("plan", "    plan --offline of the same file"))
    checked("xcompose down", projects["unix"].run("down", "--quiet"))
    return rows, phases


def inprocess(project: str, files: list[str]) -> None:
    """A no-op `up` in this fresh interpreter, phase by phase (what the CLI does, minus
    click); prints one JSON line of seconds."""
    t: dict[str, float] = {}
    began = time.perf_counter()
    from xcompose import cli  # noqa: F401  (what the command line imports first)
    from xcompose.cli.output import QuietReporter
    from xcompose.config.load import load_project
    from xcompose.engines.fleet import reach
    from xcompose.plan.build import build_plan, host_targets
    from xcompose.run.hostpki import HostPki
    from xcompose.run.lease import project_lock
    from xcompose.run.up import up
    t["import"] = time.perf_counter() - began
    mark = time.perf_counter()
    # What the executors import (docker-py, requests, paramiko): lazily, at the first connect.
    import xcompose.engines.dockerapi
    import xcompose.engines.ssh  # noqa: F401
    t["import executors"] = time.perf_counter() - mark
    mark = time.perf_counter()
    loaded = load_project(files, project_name=project)
    t["load"] = time.perf_counter() - mark
    mark = time.perf_counter()
    fleet = reach(host_targets(loaded).values())
    t["preflight"] = time.perf_counter() - mark
    assert not fleet.errors, fleet.errors
    mark = time.perf_counter()
    lock = project_lock(fleet.executors, loaded.name, "bench@lab")
    lock.__enter__()
    t["lock"] = time.perf_counter() - mark
    mark = time.perf_counter()
    # As `up` does: the certificates the hosts keep are part of the ambassadors' config.
    plan = build_plan(loaded, HostPki(fleet.executors, loaded.name, "bench@lab").credentials())
    t["pki+plan"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = up(plan, fleet, QuietReporter())
    t["read+decide+walk"] = time.perf_counter() - mark
    mark = time.perf_counter()
    lock.__exit__(None, None, None)
    fleet.close()
    t["close"] = time.perf_counter() - mark
    t["total"] = time.perf_counter() - began
    assert result.ok and not result.convergence.changes, result.convergence.changes
    print(json.dumps(t))


def import_offenders(env: dict[str, str], top: int = 12) -> list[tuple[str, float]]:
    """`python -X importtime -c "import xcompose.cli"`: the import time of each top-level
    package (its modules' own times added up), slowest first, in ms; "total" first."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import xcompose.cli"],
                          env=env, capture_output=True, text=True, check=True, cwd="/")
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "cumulative" in line:
            continue
        package = parts[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(parts[0].split(":")[1]) / 1000
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [("total", sum(totals.values())), *ranked]


# --- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lab", help="reuse this running lab (prefix, 3 hosts) instead of starting one")
    ap.add_argument("--prefix", default="xbu", help="prefix of the lab this run starts (default xbu)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--phases", default="a,b,c,d", help="comma list of a, b, c, d")
    ap.add_argument("--rtt", type=float, default=RTT * 1000,
                    help="round trip added between xcompose and the lab hosts in (d), ms (default %(default)g)")
    ap.add_argument("--max-load", type=float, default=3.0)
    ap.add_argument("--quiet-wait", type=float, default=300.0,
                    help="seconds to wait, before each phase, for the load to drop")
    ap.add_argument("--keep", action="store_true", help="leave the lab running")
    ap.add_argument("--source", help="measure the xcompose package found in this directory "
                                     "(a copy of another version's tree) instead of this one")
    ap.add_argument("--smoke", action="store_true",
                    help="one round, the smallest sizes, no waiting for a quiet machine; (a) only "
                         "when docker-compose is installed (the test suite's check that this runs)")
    ap.add_argument("--inprocess", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inprocess:
        inprocess(args.inprocess[0], args.inprocess[1:])
        return 0

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    pairs = PAIRS
    if args.smoke:
        args.rounds, args.quiet_wait, pairs = 1, 0.0, SMOKE_PAIRS
        COMMAND_TIMEOUT["seconds"] = 120.0
    with_compose = shutil.which("docker-compose") is not None
    if {"a", "d"} & set(phases) and not with_compose:
        if not args.smoke:
            raise SystemExit("docker-compose (v1) is missing: `sudo apt-get install docker-compose`, "
                             "or run with --phases b,c")
        say("smoke: docker-compose (v1) is not installed; leaving out (a) and docker-compose in (d)")
        if "a" in phases:
            phases.remove("a")

    from xcompose.lab import Lab

    started: Lab | None = None
    if args.lab:
        lab = Lab.get(args.lab)
        if lab is None:
            raise SystemExit(f"no running lab {args.lab!r}")
        if len(lab.hosts) < 3:
            raise SystemExit(f"lab {args.lab!r} has {len(lab.hosts)} hosts; this bench needs 3")
    else:
        say(f"starting lab {args.prefix} (3 hosts)")
        lab = started = Lab.up(hosts=3, prefix=args.prefix)
    work = Path(tempfile.mkdtemp(prefix="xbu-"))
    counter: Counter | None = None
    rows: list[list[str]] = []
    loads: dict[str, float] = {}
    phase_times: dict = {}
    try:
        lab.images(progress=lambda m: say(f"images: {m}"))
        # paramiko (docker-py ssh://) reads ~/.ssh of $HOME; the ssh executor the lab's files.
        env = {**os.environ, **lab.env(), "HOME": str(lab.ssh_home),
               "XDG_STATE_HOME": str(work / "state")}
        if args.source:
            source = str(Path(args.source).resolve())
            env.update({"PYTHONPATH": source, SOURCE_VAR: source})
        counter = Counter(lab)
        steps = {"a": phase_a, "b": phase_b}
        for phase in phases:
            loads[phase] = wait_quiet(phase, args.max_load, args.quiet_wait)
            if phase == "c":
                out, phase_times = phase_c(lab, work, env, args.rounds, counter, say, pairs["c"])
            elif phase == "d":
                # --smoke: one transport (each is in (c) already), to stay well within the suite's time.
                far = FAR[:1] if args.smoke else FAR
                out = phase_d(lab, work, env, args.rounds, counter, say, pairs["d"], args.rtt / 1000, with_compose,
                              far)
            else:
                out = steps[phase](lab, work, env, args.rounds, counter, say, pairs[phase])
            rows += out
        offenders = import_offenders(env)
    finally:
        for cleanup in CLEANUPS:
            try:
                cleanup()
            except Exception as error:  # noqa: BLE001 - the others still run
                say(f"cleanup: {error}")
        if counter is not None:
            counter.close()
        shutil.rmtree(work, ignore_errors=True)
        if started is not None and not args.keep:
            say(f"removing lab {started.prefix}")
            started.down()

    if args.source:
        print(f"\nxcompose measured: {args.source}")
    print(f"\n{args.rounds} rounds, wall time of the command line in seconds; load average "
          "(1 min) at the start of each phase: "
          + ", ".join(f"({k}) {v:.2f}" for k, v in loads.items()))
    print(table(HEAD, rows))
    print("(cpu busy: median share of both cores busy during the command, anyone's work: "
          "xcompose, the lab's dockerds and sshds, and other jobs on the machine)")
    if phase_times:
        keys = list(next(iter(phase_times.values())).keys())
        print("\nno-op up inside one fresh interpreter, median seconds per phase:")
        print(table(["transport", *keys], [
            [label, *(f"{statistics.median(phase_times[key][k]):.3f}" for k in keys)]
            for key, label in TRANSPORTS if key in phase_times]))
    print("\nslowest imports of `import xcompose.cli` (python -X importtime: own time of each "
          "package's modules, ms):")
    print(table(["module", "ms"], [[m, f"{ms:.0f}"] for m, ms in offenders]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
