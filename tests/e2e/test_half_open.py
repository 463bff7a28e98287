"""A connection to a server ambassador whose other end vanished without a word (its host
lost, no FIN, no reset) is reaped by keepalive probes; the pair keeps serving."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

from tests.e2e.deploy import Deployment
from xcompose.lab import Lab

Deploy = Callable[[str, str], Deployment]

TOPOLOGY = """\
hosts:
  h1: {}
  h2: {}
services:
  redis: {image: redis:7, host: h1, expose: [6379]}
  cli: {image: xcompose/tools:latest, host: h2, command: [sleep, infinity], environment: {REDIS_HOST: redis}}
"""
REAPED_WITHIN = 20 + 5 * 3 + 25  # haproxy's keepalive (idle 20 s, 3 probes 5 s apart), and slack


def established(lab: Lab, pid: int, port: int) -> int:
    """Established TCP connections to `port` in the network namespace of process `pid`."""
    out = subprocess.run(["nsenter", "-t", str(pid), "-n", "ss", "-Htn", "state", "established",
                          f"( sport = :{port} )"], capture_output=True, text=True, check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def test_a_half_open_connection_is_reaped_and_the_pair_keeps_serving(lab: Lab, deploy: Deploy) -> None:
    app = deploy("halfopen", "api").use(TOPOLOGY)
    app.up()
    h1 = app.lab_host("h1")
    [server] = app.containers("h1", role="ambassador-server")
    pid = int(server.attrs["State"]["Pid"])
    # A peer that connects, then disappears: its packets stop reaching h1 (nothing is sent
    # back to it either: no FIN, no reset), as when its host is lost.
    peer = socket.create_connection((h1.address, 6379), timeout=5)
    local_port = peer.getsockname()[1]
    deadline = time.monotonic() + 10
    while established(lab, pid, 6379) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert established(lab, pid, 6379) == 1
    rule = ["FORWARD", "-p", "tcp", "--sport", str(local_port), "-j", "DROP"]
    lab.run_in(h1, ["iptables", "-w", "-I", *rule[:1], "1", *rule[1:]])
    try:
        started = time.monotonic()
        while established(lab, pid, 6379) and time.monotonic() - started < REAPED_WITHIN:
            time.sleep(1)
        took = time.monotonic() - started
        assert established(lab, pid, 6379) == 0, f"still open after {took:.0f}s"
    finally:
        lab.run_in(h1, ["iptables", "-w", "-D", *rule], check=False)
        peer.close()
    assert app.exec("cli", "h2", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
