"""Benches never rot: every script in bench/ runs in its smoke mode (the smallest sizes, one
round, every load bounded) and must exit 0 and print its table, baseline rows included.

Only the shape is checked: each expected row is there with numbers in its cells. What the
numbers are is the benches' business (timings are not tests). The lab benches run on the
session lab (`--lab PREFIX`) and must leave no container or network behind on any host.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from xcompose.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# A smoke run takes well under a minute on a quiet 2-core machine; the margin is for one
# shared with other labs and test runs.
TIMEOUT = 240.0
NUMBER = re.compile(r"^-?[\d,]*\d(\.\d+)?(x| MiB)?$")  # 1,234 / 0.52 / 1.41x / 12.9 MiB / +0.0 MiB


def run_smoke(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `bench/SCRIPT --smoke ARGS`; its stdout once it exited 0. A run past TIMEOUT is
    interrupted (SIGINT: the bench's own clean-up runs), then killed if it does not stop."""
    argv = [sys.executable, str(BENCH / script), "--smoke", *args]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        pytest.fail(f"{script} --smoke did not finish in {TIMEOUT:g}s\n{stdout}\n{stderr[-3000:]}")
    assert proc.returncode == 0, f"{script} --smoke exited {proc.returncode}\n{stdout}\n{stderr[-3000:]}"
    return stdout


def lab_env(lab: Lab) -> dict[str, str]:
    """What a lab bench needs: the lab's ssh files (xcompose's ssh executor) and a HOME whose
    ~/.ssh trusts the lab hosts (paramiko, for docker-py's ssh://)."""
    return {**os.environ, **lab.env(), "HOME": str(lab.ssh_home)}


def objects(lab: Lab) -> set[str]:
    """Every container and network on every lab host."""
    found: set[str] = set()
    for host in lab.hosts:
        client = lab.docker_client(host)
        try:
            found |= {f"container {c.name}@{host.name}" for c in client.containers.list(all=True, ignore_removed=True)}
            found |= {f"network {n.name}@{host.name}" for n in client.networks.list()}
        finally:
            client.close()
    return found


@contextmanager
def leaves_nothing(lab: Lab) -> Iterator[None]:
    """Fail when the block leaves a container or network on the lab; remove what it left, so
    that the next test starts on a clean lab either way."""
    before = objects(lab)
    yield
    left = sorted(objects(lab) - before)
    for host in lab.hosts:
        client = lab.docker_client(host)
        try:
            for c in client.containers.list(all=True, ignore_removed=True):
                if f"container {c.name}@{host.name}" in left:
                    c.remove(force=True)
            for n in client.networks.list():
                if f"network {n.name}@{host.name}" in left:
                    n.remove()
        finally:
            client.close()
    assert not left, f"left on the lab: {left}"


def table_rows(output: str) -> dict[str, list[str]]:
    """The rows of every `| a | b |` table in the output, by their first cell (header and
    `|---|` lines included, keyed the same way)."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip() for c in line[1:-1].split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def assert_numbers(row: str, cells: list[str], where: str) -> None:
    assert cells, f"no cells in row {row!r}:\n{where}"
    for cell in cells:
        assert NUMBER.match(cell.lstrip("+")), f"row {row!r}: {cell!r} is not a number:\n{where}"


def test_plan_scale_smoke() -> None:
    out = run_smoke("plan_scale.py")
    lines = [line.split("|") for line in out.splitlines() if line.count("|") == 10]
    header = ["services", "hosts", "links", "steps", "plan best s", "plan median s", "plan cpu s",
              "json best s", "json median s", "load best s", "command s"]
    assert [c.strip() for c in lines[0]] == header, out
    rows = {cells[0].strip(): [c.strip() for c in cells] for cells in lines[1:]}
    assert set(rows) == {"100", "1,000"}, out  # the smaller size is the baseline of the growth
    for name, cells in rows.items():
        assert_numbers(name, cells, out)
    assert "growth 1k/100: build_plan" in out, out
    assert "the whole `xcompose plan --offline --format json`, 1k:" in out, out


def test_up_smoke(lab: Lab) -> None:
    with leaves_nothing(lab):
        out = run_smoke("up.py", "--lab", lab.prefix, env=lab_env(lab))
    rows = table_rows(out)
    assert rows["what"] == ["rounds s", "median s", "ratio", "target", "cpu busy"], out
    timed = ["(b) 1 host x 6: xcompose up", "(b) 3 hosts x 2: xcompose up",
             "(c) no-op up, 6 on 3 hosts: api, unix socket",
             "(c) no-op up, 6 on 3 hosts: api, ssh:// (paramiko)",
             "(c) no-op up, 6 on 3 hosts: ssh executor",
             "CLI start-up alone (xcompose --version)", "plan --offline of the same file"]
    ratios = ["(b) 3 hosts / 1 host, same containers"]
    far = ["api, tcp://"]  # --smoke leaves the others out of (d): (c) runs them
    if shutil.which("docker-compose"):  # (a), and docker-compose in (d), are left out without it
        timed += ["(a) 4 containers, 1 host: xcompose up", "(a) 4 containers, 1 host: docker-compose up -d"]
        ratios += ["(a) xcompose / docker-compose"]
        ratios += [f"(d) fresh, 50 ms RTT: xcompose ({label}) / docker-compose" for label in far]
        far.append("docker-compose host after host")
    for label in far:  # (d): each with no delay and with the bench's default round trip
        for kind in ("fresh up", "no-op up"):
            timed += [f"(d) {kind} 3x2, {label}, no delay", f"(d) {kind} 3x2, {label}, 50 ms RTT"]
        ratios.append(f"(d) fresh, {label}: 50 ms RTT / none")
    for row in timed:
        assert row in rows, f"no row {row!r}:\n{out}"
        rounds, median, _, _, busy = rows[row]
        assert_numbers(row, [rounds, median, busy.rstrip("%")], out)
    for row in ratios:
        assert row in rows, f"no row {row!r}:\n{out}"
        assert_numbers(row, [rows[row][2]], out)
    # The no-op's phases inside one interpreter, per transport, and the slowest imports.
    assert rows["transport"][-1] == "total", out
    for transport in ("api, unix socket", "api, ssh:// (paramiko)", "ssh executor"):
        assert_numbers(transport, rows[transport], out)
    assert rows["module"] == ["ms"], out
    assert_numbers("total", rows["total"], out)


def test_ambassador_smoke(lab: Lab) -> None:
    with leaves_nothing(lab):
        out = run_smoke("ambassador.py", "--lab", lab.prefix, env=lab_env(lab))
    rows = table_rows(out)
    assert rows["path"] == ["get", "ping", "P16 get", "P16 ping", "get p50 ms", "MiB/s", "conn/s",
                            "ops vs direct", "ops vs socat"], out
    # direct and socat are the baselines of the two ratio columns.
    for path in ("direct", "socat", "socat-tls", "haproxy", "haproxy-tls", "xcompose", "haproxy-1t",
                 "xcompose-plain", "xcompose-kernel"):
        assert path in rows, f"no row {path!r}:\n{out}"
        assert_numbers(path, rows[path], out)


def test_soak_smoke(lab: Lab) -> None:
    with leaves_nothing(lab):
        out = run_smoke("soak.py", "--lab", lab.prefix, env=lab_env(lab))
    rows = table_rows(out)
    assert rows["test"] == ["median req/s", "min req/s"], out
    for test in ("GET", "SET", "PING_INLINE", "PING_MBULK"):
        assert test in rows, f"no row {test!r}:\n{out}"
        assert_numbers(test, rows[test], out)
    assert rows["ambassador"] == ["idle", "first quarter (median)", "last quarter (median)", "change",
                                  "peak", "processes idle / end"], out
    for role in ("server", "client"):
        assert role in rows, f"no row {role!r}:\n{out}"
        *memory, processes = rows[role]
        assert_numbers(role, [*memory, *processes.split(" / ")], out)
    assert re.search(r"^1 rounds, .* errors: 0$", out, re.MULTILINE), out


def test_relays_smoke(lab: Lab) -> None:
    with leaves_nothing(lab):
        out = run_smoke("relays.py", "--lab", lab.prefix, env=lab_env(lab))
    rows = table_rows(out)
    assert rows["container"] == ["count", "memory MiB (median)", "shim MiB (median)", "total MiB", "vs sleep"], out
    for kind in ("sleep (baseline)", "redis", "ambassador-server", "ambassador-client"):
        assert kind in rows, f"no row {kind!r}:\n{out}"
        assert_numbers(kind, rows[kind], out)
    sizes = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith(("| 10 x 3", "| 30 x 3"))]
    assert [(size.strip(), reach.strip()) for size, reach, *_ in sizes] == [
        ("10 x 3", "all"), ("10 x 3", "used"), ("30 x 3", "all"), ("30 x 3", "used")], out
    for size, reach, *cells in sizes:
        assert_numbers(f"{size} {reach}", [c.strip() for c in cells], out)


def test_swarm_smoke(lab: Lab) -> None:
    with leaves_nothing(lab):
        out = run_smoke("swarm.py", "--lab", lab.prefix, env=lab_env(lab))
    rows = table_rows(out)
    assert rows["what"] == ["rounds s", "median s", "ratio swarm/plain"], out
    for phase in ("fresh up", "no-op up", "down"):
        for engine in ("plain", "swarm"):  # plain engines are the baseline of the ratio
            row = f"{phase}: {engine}"
            assert row in rows, f"no row {row!r}:\n{out}"
            assert_numbers(row, [rows[row][1], rows[row][2].rstrip("x")], out)
