"""The pieces of a lab host: bridge, namespace, veth, iptables rule, dockerd, sshd.

Each `create_*` records what it is about to make in the LabState (saved by the caller)
before making it, and each `remove_*` tolerates the thing being absent, so teardown is the
same code after a clean `up`, a failed one, or a crash.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .errors import LabError
from .state import HostRecord, IptablesRule, LabState, ProcRecord
from .sysutil import (
    is_alive,
    kill_netns_processes,
    record_proc,
    remove_tree,
    run,
    stop_proc,
    unmount_all_under,
    which,
)

NETNS_DIR = "/run/netns"


def netns_path(name: str) -> str:
    return f"{NETNS_DIR}/{name}"


def used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 route and interface network of the root namespace."""
    nets: list[ipaddress.IPv4Network] = []
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"], "list routes").stdout or b"[]")
    for r in routes:
        dst = r.get("dst", "")
        if dst in ("", "default"):
            continue
        try:
            nets.append(ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False))
        except ValueError:
            continue
    addrs = json.loads(run(["ip", "-j", "-4", "addr", "show"], "list addresses").stdout or b"[]")
    for link in addrs:
        for a in link.get("addr_info", []):
            nets.append(ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
    return nets


def link_exists(name: str) -> bool:
    return run(["ip", "link", "show", "dev", name], "check link", check=False).returncode == 0


# --- bridge and iptables ---------------------------------------------------------------


def create_bridge(state: LabState) -> None:
    br, prefixlen = state.bridge, ipaddress.IPv4Network(state.subnet).prefixlen
    run(["ip", "link", "add", br, "type", "bridge"], f"create bridge {br}")
    # No IPv6 on the lab segment: no router solicitations or MLD chatter from it.
    v6 = Path(f"/proc/sys/net/ipv6/conf/{br}/disable_ipv6")
    if v6.exists():
        v6.write_text("1")
    run(["ip", "addr", "add", f"{state.bridge_address}/{prefixlen}", "dev", br], f"address {br}")
    run(["ip", "link", "set", br, "up"], f"bring up {br}")


def bridge_rules(state: LabState) -> list[IptablesRule]:
    """With br_netfilter, frames crossing the bridge traverse the root's FORWARD chain,
    whose policy is DROP wherever a dockerd runs in the root namespace: allow lab<->lab."""
    tag = ["-m", "comment", "--comment", f"xcompose-lab:{state.prefix}"]
    return [IptablesRule(chain="FORWARD", spec=["-i", state.bridge, "-o", state.bridge, *tag, "-j", "ACCEPT"])]


def add_iptables_rule(rule: IptablesRule) -> None:
    exists = run(["iptables", "-t", rule.table, "-C", rule.chain, *rule.spec], "check rule", check=False)
    if exists.returncode != 0:
        run(["iptables", "-t", rule.table, "-I", rule.chain, "1", *rule.spec], "allow lab bridge in iptables FORWARD")


def remove_iptables_rule(rule: IptablesRule) -> None:
    if which("iptables") is None:
        return
    for _ in range(10):  # remove duplicates too (a rule inserted twice by a crashed run)
        removed = run(["iptables", "-t", rule.table, "-D", rule.chain, *rule.spec], "remove rule", check=False)
        if removed.returncode != 0:
            return


def remove_bridge(state: LabState) -> None:
    if link_exists(state.bridge):
        run(["ip", "link", "del", state.bridge], f"delete bridge {state.bridge}", check=False)


# --- namespace and veth ----------------------------------------------------------------


def create_netns(state: LabState, host: HostRecord) -> None:
    prefixlen = ipaddress.IPv4Network(state.subnet).prefixlen
    ns, veth = host.netns, host.veth
    run(["ip", "netns", "add", ns], f"create namespace {ns}")
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns], f"create veth {veth}")
    run(["ip", "link", "set", veth, "master", state.bridge], f"attach {veth} to {state.bridge}")
    run(["ip", "link", "set", veth, "up"], f"bring up {veth}")
    run(["ip", "-n", ns, "link", "set", "lo", "up"], f"bring up lo in {ns}")
    run(["ip", "-n", ns, "addr", "add", f"{host.address}/{prefixlen}", "dev", "eth0"], f"address {ns}")
    run(["ip", "-n", ns, "link", "set", "eth0", "up"], f"bring up eth0 in {ns}")
    # Deliberately no default route: a lab host can reach only the lab's addresses.


def remove_netns(host: HostRecord) -> None:
    if os.path.exists(netns_path(host.netns)):
        run(["ip", "netns", "del", host.netns], f"delete namespace {host.netns}", check=False)
    if link_exists(host.veth):
        run(["ip", "link", "del", host.veth], f"delete veth {host.veth}", check=False)


# --- dockerd ---------------------------------------------------------------------------


def _spawn_in_netns(host: HostRecord, argv: list[str], log: Path) -> ProcRecord:
    # nsenter (not `ip netns exec`, which remounts /sys and breaks dockerd's cgroup
    # detection) enters only the network namespace, then execs: the pid is the daemon's.
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            ["nsenter", f"--net={netns_path(host.netns)}", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal must not kill the lab
        )
    time.sleep(0.05)
    return record_proc(proc.pid)


DOCKER_TCP_PORT = 2375


def start_dockerd(host: HostRecord) -> ProcRecord:
    run_dir = Path(host.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    Path(host.data_root).mkdir(parents=True, exist_ok=True)
    cfg = run_dir / "daemon.json"
    # Our own config file: never pick up the machine's /etc/docker/daemon.json. The key
    # path keeps dockerd from writing /etc/docker/key.json, which would also give every
    # lab host the same engine ID.
    key = Path(host.data_root).parent / "key.json"
    cfg.write_text(json.dumps({"deprecated-key-path": str(key)}) + "\n")
    sock = host.docker_socket.removeprefix("unix://")
    argv = [
        "dockerd",
        f"--config-file={cfg}",
        f"--data-root={host.data_root}",
        f"--exec-root={run_dir / 'exec'}",
        f"--pidfile={run_dir / 'docker.pid'}",
        f"--host=unix://{sock}",
        # Plain TCP on the host's lab address too, so the tcp:// transport can be rehearsed;
        # only the lab's own bridge reaches it.
        f"--host=tcp://{host.address}:{DOCKER_TCP_PORT}",
        f"--bip={host.bip}",
        # If a system containerd runs, dockerd would share it: separate namespaces keep
        # the hosts' containers apart there.
        f"--containerd-namespace=xlab-{host.name}",
        f"--containerd-plugins-namespace=xlab-{host.name}-plugins",
        "--log-level=warn",
    ]
    return _spawn_in_netns(host, argv, run_dir / "dockerd.log")


def docker_ping(sock_url: str, timeout: float = 2.0) -> bool:
    path = sock_url.removeprefix("unix://")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in s.recv(256)
    except OSError:
        return False


def wait_dockerd(host: HostRecord, deadline: float) -> None:
    while time.monotonic() < deadline:
        if docker_ping(host.docker_socket):
            return
        if not is_alive(host.dockerd):
            break
        time.sleep(0.2)
    log = Path(host.run_dir) / "dockerd.log"
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    state = "exited" if not is_alive(host.dockerd) else "did not answer in time"
    raise LabError(f"start dockerd on {host.name}: {state}" + (f": {tail[0]}" if tail else ""))


def stop_dockerd(host: HostRecord) -> None:
    if is_alive(host.dockerd) and docker_ping(host.docker_socket):
        # Containers first, quickly: dockerd would otherwise wait for each one's stop
        # timeout, and with a shared containerd they would outlive it.
        sock = host.docker_socket
        ids = run(["docker", "-H", sock, "ps", "-aq"], "list containers", check=False, timeout=30).stdout.split()
        if ids:
            run(["docker", "-H", sock, "rm", "-f", "-v", *[i.decode() for i in ids]], "remove containers",
                check=False, timeout=120)
    stop_proc(host.dockerd, grace=20)


# --- sshd ------------------------------------------------------------------------------


def start_sshd(host: HostRecord, config: Path) -> ProcRecord:
    # sshd refuses to start without its privilege separation directory.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    sshd = which("sshd") or "/usr/sbin/sshd"
    run([sshd, "-t", "-f", str(config)], f"check sshd config of {host.name}")
    return _spawn_in_netns(host, [sshd, "-D", "-e", "-f", str(config)], Path(host.run_dir) / "sshd.log")


def wait_sshd(host: HostRecord, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host.address, 22), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if not is_alive(host.sshd):
            break
        time.sleep(0.2)
    raise LabError(f"start sshd on {host.name}: not answering on {host.address}:22")


# --- faults: one daemon down and up again ------------------------------------------------


def halt(rec: ProcRecord | None, *, kill: bool = False) -> None:
    """Stop one daemon of a host and nothing else: its containers, data and namespace stay.
    `kill` is a crash (SIGKILL: containerd dies with dockerd, the containers' shims stay);
    otherwise a clean stop (SIGTERM: dockerd stops its containers first)."""
    if kill and is_alive(rec):
        assert rec is not None
        os.kill(rec.pid, signal.SIGKILL)
        for _ in range(100):
            if not is_alive(rec):
                break
            time.sleep(0.05)
    stop_proc(rec, grace=60)


# --- teardown of one host --------------------------------------------------------------


def teardown_host(host: HostRecord) -> None:
    stop_dockerd(host)
    stop_proc(host.sshd, grace=5)
    # Anything still in the namespace was started there by the lab (containers, shims,
    # docker-proxy, ssh sessions): end it by pid.
    kill_netns_processes(netns_path(host.netns))
    for d in (host.run_dir, host.data_root):
        unmount_all_under(d)
    remove_netns(host)
    remove_tree(host.run_dir)
    remove_tree(host.data_root)
