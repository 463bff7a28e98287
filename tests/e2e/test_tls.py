"""Mutual TLS between ambassadors, on the lab: only the project's ambassadors get through,
and nothing of the service crosses the wire in clear (unless `tls: false`)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.deploy import credentials_of, plan_for_up, plan_of
from xcompose.cli.output import QuietReporter
from xcompose.engines.fleet import reach
from xcompose.lab import Lab, LabHost
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.run.down import down
from xcompose.run.up import UpOptions, up

PLAIN_PORT = 16380  # where the tls:false target's server ambassador publishes 6379

TOPOLOGY = """\
name: {project}
hosts:
  db1: {{address: {a1}, docker: "{d1}", executor: {executor}}}
  web1: {{address: {a2}, docker: "{d2}", executor: {executor}}}
ambassador:
  image: haproxy:2.6
services:
  redis:
    image: redis:7
    host: db1
    expose: [6379]
  plainredis:
    image: redis:7
    host: db1
    expose: [6379]
    ambassador: {{tls: false, publish: {{6379: {plain_port}}}}}
  cli:
    image: xcompose/tools:latest
    host: web1
    links: ["redis:db", "plainredis:plaindb"]
"""


@dataclass
class Deployed:
    project: str
    db: LabHost
    web: LabHost
    credentials: Credentials

    @property
    def server_name(self) -> str:
        return f"{self.project}-redis-ambassador"


def _deploy(files: list[Path], project: str) -> None:
    plan = plan_for_up(files)
    hosts = reach(plan.hosts.values())
    try:
        assert not hosts.errors, hosts.errors
        result = up(plan, hosts, QuietReporter(), UpOptions(wait_timeout=90))
        assert result.ok, [f.error for f in result.walk.failed]
    finally:
        hosts.close()


def _down(files: list[Path]) -> None:
    plan = plan_of(files)
    hosts = reach(plan.hosts.values())
    try:
        down(plan.project, hosts, plan=plan)
    finally:
        hosts.close()


@pytest.fixture(scope="module", params=["api", "ssh"])
def deployed(request: pytest.FixtureRequest, lab: Lab, lab_hosts: list[LabHost],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """Deployed through either executor: the certificates reach the containers by the
    Docker API's archive upload or by `docker container cp` over SSH."""
    executor = request.param
    folder = tmp_path_factory.mktemp("tls")
    state = folder / "state"
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_STATE_HOME", str(state))
    project = f"xtls{uuid.uuid4().hex[:6]}"
    db, web = lab_hosts[0], lab_hosts[1]
    topo = folder / "topology.yaml"
    topo.write_text(TOPOLOGY.format(project=project, a1=db.address, a2=web.address,
                                    d1=db.docker_socket if executor == "api" else db.ssh_url,
                                    d2=web.docker_socket if executor == "api" else web.ssh_url,
                                    executor=executor, plain_port=PLAIN_PORT))
    files = [topo]
    try:
        _deploy(files, project)
        yield Deployed(project, db, web, credentials_of(files))
    finally:
        try:
            _down(files)
        finally:
            mp.undo()


def _cli(lab: Lab, d: Deployed, *argv: str) -> str:
    client = lab.docker_client(d.web)
    try:
        res = client.containers.get(f"{d.project}-cli").exec_run(["timeout", "20", *argv])
        return res.output.decode(errors="replace")
    finally:
        client.close()


def _exchange(sock: socket.socket, payload: bytes, wait: float = 3.0) -> bytes:
    """Send, then read whatever comes back until EOF, an error or `wait` seconds."""
    got = b""
    try:
        sock.sendall(payload)
        sock.settimeout(wait)
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
            if b"PONG" in got:
                break
    except (OSError, ssl.SSLError):
        pass
    return got


def _tls_ping(d: Deployed, context: ssl.SSLContext) -> bytes:
    with socket.create_connection((d.db.address, 6379), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=d.server_name) as tls:
                return _exchange(tls, b"PING\r\n")
        except (OSError, ssl.SSLError):
            return b""


def _context(ca_pem: bytes, cert_pem: bytes, key_pem: bytes, folder: Path) -> ssl.SSLContext:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(ca_pem)
    (folder / "me.pem").write_bytes(cert_pem + key_pem)
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(folder / "ca.pem"))
    ctx.load_cert_chain(str(folder / "me.pem"))
    return ctx


def test_the_link_works_through_the_tls_pair(lab: Lab, deployed: Deployed) -> None:
    assert "PONG" in _cli(lab, deployed, "redis-cli", "-h", "db", "ping")
    assert "PONG" in _cli(lab, deployed, "redis-cli", "-h", "plaindb", "ping")


def test_a_plain_client_at_the_server_ambassador_gets_nothing_of_the_service(deployed: Deployed) -> None:
    with socket.create_connection((deployed.db.address, 6379), timeout=5) as sock:
        got = _exchange(sock, b"PING\r\n")
    assert b"PONG" not in got and not got.startswith(b"+"), got[:80]


def test_only_a_certificate_of_the_project_ca_gets_through(deployed: Deployed, tmp_path: Path) -> None:
    mine = deployed.credentials.identity(f"{deployed.project}-cli-ambassador-test")
    assert mine is not None
    ok = _tls_ping(deployed, _context(mine.ca_pem, mine.cert_pem, mine.key_pem, tmp_path / "ours"))
    assert b"PONG" in ok, "control: a certificate of the project CA must get through"
    other = CertificateAuthority.new("otherproject").issue(f"{deployed.project}-cli-ambassador")
    # Trusts the real server (the project CA) but presents a certificate of another CA.
    refused = _tls_ping(deployed, _context(mine.ca_pem, other.cert_pem, other.key_pem, tmp_path / "theirs"))
    assert b"PONG" not in refused, refused[:80]


def _capture_while(lab: Lab, port: int, action) -> bytes:  # type: ignore[no-untyped-def]
    """tcpdump on the lab bridge, bounded in time and packets, around `action`."""
    pcap = Path(f"/tmp/xcompose-tls-{os.getpid()}-{port}.pcap")
    proc = subprocess.Popen(
        ["timeout", "20", "tcpdump", "-i", lab.bridge, "-U", "-n", "-s", "0", "-c", "400",
         "-w", str(pcap), "tcp", "and", "port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # tcpdump is listening once it has opened the interface
        action()
        time.sleep(1.0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    try:
        data = pcap.read_bytes()
    finally:
        pcap.unlink(missing_ok=True)
    assert len(data) > 24, "the capture saw no packet at all"
    return data


def test_the_wire_between_hosts_carries_no_clear_text_with_tls(lab: Lab, deployed: Deployed) -> None:
    marker = f"XCOMPOSE-MARKER-{uuid.uuid4().hex}"
    data = _capture_while(lab, 6379, lambda: _cli(lab, deployed, "redis-cli", "-h", "db", "set", "k", marker))
    assert marker in _cli(lab, deployed, "redis-cli", "-h", "db", "get", "k")
    assert marker.encode() not in data


def test_with_tls_off_the_marker_is_on_the_wire(lab: Lab, deployed: Deployed) -> None:
    marker = f"XCOMPOSE-MARKER-{uuid.uuid4().hex}"
    data = _capture_while(lab, PLAIN_PORT,
                          lambda: _cli(lab, deployed, "redis-cli", "-h", "plaindb", "set", "k", marker))
    assert marker.encode() in data


def test_the_key_is_a_file_in_the_ambassador_and_nowhere_in_its_config(lab: Lab, deployed: Deployed) -> None:
    client = lab.docker_client(deployed.db)
    try:
        c = client.containers.get(deployed.server_name)
        attrs = c.attrs
        text = repr(attrs["Config"]) + repr(attrs["Args"]) + repr(attrs.get("Path"))
        assert "PRIVATE KEY" not in text
        res = c.exec_run(["stat", "-c", "%a", "/usr/local/etc/haproxy/xcompose/ambassador.pem"])
        assert res.output.decode().strip() == "600"
        identity = deployed.credentials.identity(deployed.server_name)
        assert identity is not None and attrs["Config"]["Labels"]["io.xcompose.tls-cert"] == identity.fingerprint
    finally:
        client.close()
