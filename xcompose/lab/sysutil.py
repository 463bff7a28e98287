"""Small OS helpers: running commands, identifying our processes, mounts, prerequisites."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import LabError, LabMissingError
from .state import ProcRecord

INSTALL_HINT = "run scripts/install-lab-deps.sh as root (apt-get installs them)"

# Programs `lab up` needs, and the Debian package that provides each.
UP_PROGRAMS: dict[str, str] = {
    "ip": "iproute2",
    "iptables": "iptables",
    "nsenter": "util-linux",
    "dockerd": "docker.io",
    "docker": "docker.io",
    "containerd": "containerd (pulled in by docker.io)",
    "runc": "runc (pulled in by docker.io)",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
}
IMAGE_PROGRAMS: dict[str, str] = {"mmdebstrap": "mmdebstrap", "docker": "docker.io"}

SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def which(program: str) -> str | None:
    """Like shutil.which, but also looks in sbin dirs, which a non-login PATH may lack."""
    found = shutil.which(program)
    if found:
        return found
    for d in SBIN_DIRS:
        cand = Path(d) / program
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return None


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabMissingError(
            "the lab needs root (network namespaces, bridges, dockerd): run it with sudo or as root"
        )


def require_programs(programs: dict[str, str]) -> dict[str, str]:
    """Return program -> absolute path, or fail naming every missing one and its package."""
    paths: dict[str, str] = {}
    missing: list[str] = []
    for prog, pkg in programs.items():
        p = which(prog)
        if p is None:
            missing.append(f"{prog} ({pkg})")
        else:
            paths[prog] = p
    if missing:
        raise LabMissingError(f"missing programs: {', '.join(missing)}; {INSTALL_HINT}")
    return paths


def require_kernel() -> None:
    if not Path("/proc/self/ns/net").exists():
        raise LabMissingError("this kernel has no network namespaces (CONFIG_NET_NS)")


def run(
    argv: Sequence[str],
    step: str,
    *,
    check: bool = True,
    timeout: float = 120,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command; on failure raise LabError naming the step and the command's last
    stderr line (the useful part of most tools' errors)."""
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise LabMissingError(f"{step}: program {argv[0]!r} not found; {INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{step}: `{' '.join(argv)}` timed out after {timeout:.0f}s") from None
    if check and proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise LabError(f"{step}: {detail}")
    return proc


def proc_starttime(pid: int) -> int | None:
    """Kernel start time (clock ticks since boot) of a pid, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie is as good as gone
        return None
    return int(fields[19])


def record_proc(pid: int) -> ProcRecord:
    start = proc_starttime(pid)
    if start is None:
        raise LabError(f"process {pid} exited right after starting")
    return ProcRecord(pid=pid, starttime=start)


def is_alive(rec: ProcRecord | None) -> bool:
    return rec is not None and proc_starttime(rec.pid) == rec.starttime


def _reap(pid: int) -> None:
    # When the process is our child (Python API use), collect it so it does not linger
    # as a zombie; when it is not, there is nothing to collect.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_proc(rec: ProcRecord | None, grace: float = 10.0) -> None:
    """SIGTERM a process we started, wait up to `grace`, then SIGKILL. By pid only."""
    if not is_alive(rec):
        return
    assert rec is not None
    try:
        os.kill(rec.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(rec.pid)
        if not is_alive(rec):
            return
        time.sleep(0.1)
    try:
        os.kill(rec.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(50):
        _reap(rec.pid)
        if not is_alive(rec):
            return
        time.sleep(0.1)


def netns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def pids_in_netns(ns_path: str) -> list[int]:
    """Processes whose network namespace is the lab host's: all of them were started in
    that namespace by the lab (dockerd, sshd, their children, containers)."""
    ino = netns_inode(ns_path)
    if ino is None:
        return []
    pids: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino == ino:
                pids.append(int(entry))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return pids


def kill_netns_processes(ns_path: str) -> None:
    for pid in pids_in_netns(ns_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while pids_in_netns(ns_path) and time.monotonic() < deadline:
        for pid in pids_in_netns(ns_path):
            _reap(pid)
        time.sleep(0.1)


def mounts_under(path: str) -> list[str]:
    """Mount points at or below `path`, deepest first (the order to unmount them)."""
    base = os.path.realpath(path).rstrip("/")
    points: list[str] = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            mnt = line.split()[4].replace("\\040", " ")
            if mnt == base or mnt.startswith(base + "/"):
                points.append(mnt)
    return sorted(set(points), key=len, reverse=True)


def unmount_all_under(path: str) -> None:
    for _ in range(3):  # stacked mounts need more than one pass
        points = mounts_under(path)
        if not points:
            return
        for mnt in points:
            subprocess.run(["umount", "-l", mnt], capture_output=True, stdin=subprocess.DEVNULL)


def remove_tree(path: str) -> None:
    """rmtree, but never through a mount (a leftover bind mount would delete foreign data)."""
    if not os.path.lexists(path):
        return
    unmount_all_under(path)
    if mounts_under(path):
        raise LabError(f"cannot remove {path}: mounts remain below it: {mounts_under(path)[0]}")
    shutil.rmtree(path, ignore_errors=True)
