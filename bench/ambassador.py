"""The ambassador data path, measured: direct versus relay pairs, on a lab of two hosts.

    sudo .venv/bin/python bench/ambassador.py [--rounds 3] [--bulk-mib 1024] [--lab PREFIX] [--smoke]

Host 1 runs redis and a byte sink (the targets; the sink shares redis's network namespace,
so one name, `redis`, reaches both ports, as one link target would) and every server-side
relay; host 2 runs the client tools and every client-side relay, all on one user-defined
network per host, as xcompose lays out a cross-host link. Paths, side by side in one run:

- direct        the client on host 2 to redis/sink published on host 1's address
- socat         the seeds' pair: `socat TCP-LISTEN:P,fork,reuseaddr TCP:…` on each side
- socat-tls     the same with OPENSSL-LISTEN / OPENSSL: and verify=1 (mutual TLS)
- haproxy       haproxy 2.6 in tcp mode on each side
- haproxy-tls   the same, mutual TLS between the pair (ECDSA P-256, verify required)
- xcompose      the ambassador pair xcompose plans for a two-host topology with one
                cross-host link (redis on host 1 exposing both ports, the tools on host 2
                linking to it; TLS on, the default, certificates from a CA made in memory):
                the plan's image, entrypoint, command, user, published ports and files
- xcompose-plain  the same with `ambassador: {tls: false}`
- xcompose-kernel  the client ambassador xcompose plans with `ambassador: {mode: kernel}`:
                no server ambassador, DNAT in the client's namespace to the target's
                published ports (the direct path's), no relay program, no TLS
- haproxy-1t    the haproxy pair with one thread each (nbthread 1), for comparison

Workloads (run in the tools container on host 2, each bounded by `timeout`):
redis-benchmark -c 50 -t get,ping -n N (plain and -P 16), a bulk transfer of --bulk-mib MiB
(`head -c` from /dev/zero through nc to a sink), and new connections per second
(redis-benchmark -k 0: one connection per request). Several rounds, path order rotated
every round, medians reported. It prints; it never asserts.

Starts its own lab (prefix `xbn`, 2 hosts) unless --lab names a running one; removes its
containers and the lab it started at the end (also on Ctrl-C).

--smoke (for the test suite: does the script still run?): every path, one round, the
smallest workloads (1,000 requests, 200 connections, 8 MiB), each bounded by 30 s.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import shlex
import statistics
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xcompose.config.load import load_project
from xcompose.engines.base import archive
from xcompose.lab import Lab
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.specs import UploadFile
from xcompose.plan.steps import ClientAmbassadorStep, ServerAmbassadorStep, ServiceStep, StepId

LABEL = "io.xcompose.bench"
NET = "xbench"
REDIS_PORT, SINK_PORT = 6379, 9000
IMAGES = ("redis:7", "xcompose/tools:latest", "alpine/socat:latest", "haproxy:2.6", "xcompose/iptables:latest")
HAPROXY_DIR = "/usr/local/etc/haproxy"
SERVER_NAME = "xbench-server-ambassador"  # the identity in the server certificate
# Bench-only tuning, the same for every path: many short connections per round.
SYSCTLS = {"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.ip_local_port_range": "10000 65000"}
ALL_PATHS = ("direct", "socat", "socat-tls", "haproxy", "haproxy-tls", "xcompose", "haproxy-1t",
             "xcompose-plain", "haproxy-tls12", "xcompose-kernel")
# The image the kernel path's client runs: the lab's one with iptables.
KERNEL_IMAGE = "xcompose/iptables:latest"
READY_SECONDS = 60  # for every path to answer once its relays are started


# --- certificates (a throwaway CA for the run) -------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki() -> dict[str, bytes]:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xbench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(name: str, usage: x509.ObjectIdentifier) -> bytes:
        key = _key()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM) + _pem_key(key)

    return {
        "ca.pem": ca.public_bytes(serialization.Encoding.PEM),
        "server.pem": leaf(SERVER_NAME, ExtendedKeyUsageOID.SERVER_AUTH),
        "client.pem": leaf("xbench-client-ambassador", ExtendedKeyUsageOID.CLIENT_AUTH),
    }


def tar_of(files: dict[str, bytes], mode: int = 0o600) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs = sorted({str(Path(n).parent) for n in files if str(Path(n).parent) != "."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o700
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --- relay pairs -------------------------------------------------------------------------


@dataclass
class Side:
    image: str
    entrypoint: list[str]
    command: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # uploaded to "/" before start
    # What xcompose's plan says beyond that: its files (with their modes, uploaded before
    # start as its executors do), the user, and the published ports (None: the bench's).
    uploads: tuple[UploadFile, ...] = ()
    user: str | None = None
    ports: dict[str, tuple[str, int]] | None = None
    cap_add: tuple[str, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict)


@dataclass
class PathDef:
    name: str
    server: Side | None  # None: direct, or the target publishes itself (kernel)
    client: Side | None  # None: direct


def socat_side(pairs: list[tuple[str, str]]) -> Side:
    jobs = " & ".join(shlex.join(["socat", a, b]) for a, b in pairs)
    return Side("alpine/socat:latest", ["/bin/sh", "-c"], [f"trap 'exit 0' TERM INT; {jobs} & wait"])


def haproxy_cfg(frontends: list[tuple[int, str, str]], threads: int | None = None) -> str:
    """frontends: (listen port, bind options, `server` line options incl. address)."""
    out = [
        "global", "  maxconn 4096", "  hard-stop-after 2s",
        *([f"  nbthread {threads}"] if threads else []),
        "defaults", "  mode tcp", "  timeout connect 5s", "  timeout client 1h",
        "  timeout server 1h",
        "resolvers sys", "  parse-resolv-conf", "  hold valid 2s",
    ]
    for port, bind, server in frontends:
        out += [f"frontend f{port}", f"  bind :{port}{bind}", f"  default_backend b{port}",
                f"backend b{port}", f"  server s {server}"]
    return "\n".join(out) + "\n"


def haproxy_side(cfg: str, pki: dict[str, bytes] | None = None) -> Side:
    files = {f"{HAPROXY_DIR.lstrip('/')}/haproxy.cfg": cfg.encode()}
    for name, data in (pki or {}).items():
        files[f"{HAPROXY_DIR.lstrip('/')}/pki/{name}"] = data
    return Side("haproxy:2.6", ["haproxy", "-W", "-db", "-f", f"{HAPROXY_DIR}/haproxy.cfg"], [], files)


def build_paths(host1: str, host2: str, pki: dict[str, bytes],
                want: list[str]) -> tuple[list[PathDef], dict[str, tuple[int, int]]]:
    """The paths, and where each publishes on host 1 (redis, sink)."""
    ports: dict[str, tuple[int, int]] = {"direct": (16379, 19000)}
    paths = [PathDef("direct", None, None)]
    ca, srv, cli = "/xbench/ca.pem", "/xbench/server.pem", "/xbench/client.pem"
    socat_files = {f"xbench/{k}": v for k, v in pki.items()}
    dyn = "resolvers sys init-addr last,libc,none"
    hp = f"{HAPROXY_DIR}/pki"
    for i, name in enumerate(ALL_PATHS[1:], 1):
        if name not in want:
            continue
        pr, ps = 20000 + 10 * i, 20001 + 10 * i
        ports[name] = (pr, ps)
        if name == "socat":
            server = socat_side([(f"TCP-LISTEN:{p},fork,reuseaddr", f"TCP:{t}:{p}")
                                 for p, t in ((REDIS_PORT, "redis"), (SINK_PORT, "sink"))])
            client = socat_side([(f"TCP-LISTEN:{p},fork,reuseaddr", f"TCP:{host1}:{q}")
                                 for p, q in ((REDIS_PORT, pr), (SINK_PORT, ps))])
        elif name == "socat-tls":
            server = socat_side([(f"OPENSSL-LISTEN:{p},fork,reuseaddr,cert={srv},cafile={ca},verify=1",
                                  f"TCP:{t}:{p}") for p, t in ((REDIS_PORT, "redis"), (SINK_PORT, "sink"))])
            client = socat_side([(f"TCP-LISTEN:{p},fork,reuseaddr",
                                  f"OPENSSL:{host1}:{q},cert={cli},cafile={ca},verify=1,commonname={SERVER_NAME}")
                                 for p, q in ((REDIS_PORT, pr), (SINK_PORT, ps))])
            server.files = client.files = socat_files
        elif name == "haproxy":
            server = haproxy_side(haproxy_cfg([(p, "", f"{t}:{p} {dyn}")
                                               for p, t in ((REDIS_PORT, "redis"), (SINK_PORT, "sink"))]))
            client = haproxy_side(haproxy_cfg([(p, "", f"{host1}:{q}")
                                               for p, q in ((REDIS_PORT, pr), (SINK_PORT, ps))]))
        elif name in ("haproxy-tls", "haproxy-tls12"):
            # haproxy-tls12: the same pair held to TLS 1.2 with session-id resumption, no
            # tickets (a resumed TLS 1.3 handshake still does a key exchange).
            tls12 = name == "haproxy-tls12"
            bind = f" ssl crt {hp}/server.pem ca-file {hp}/ca.pem verify required{' no-tls-tickets' if tls12 else ''}"
            server = haproxy_side(haproxy_cfg([(p, bind, f"{t}:{p} {dyn}")
                                               for p, t in ((REDIS_PORT, "redis"), (SINK_PORT, "sink"))]),
                                  {"ca.pem": pki["ca.pem"], "server.pem": pki["server.pem"]})
            opts = (f" ssl crt {hp}/client.pem ca-file {hp}/ca.pem verify required"
                    f" verifyhost {SERVER_NAME} sni str({SERVER_NAME}){' ssl-max-ver TLSv1.2' if tls12 else ''}")
            client = haproxy_side(haproxy_cfg([(p, "", f"{host1}:{q}{opts}")
                                               for p, q in ((REDIS_PORT, pr), (SINK_PORT, ps))]),
                                  {"ca.pem": pki["ca.pem"], "client.pem": pki["client.pem"]})
        elif name == "haproxy-1t":  # one thread per relay (the default is one per core)
            server = haproxy_side(haproxy_cfg([(p, "", f"{t}:{p} {dyn}")
                                               for p, t in ((REDIS_PORT, "redis"), (SINK_PORT, "sink"))], 1))
            client = haproxy_side(haproxy_cfg([(p, "", f"{host1}:{q}")
                                               for p, q in ((REDIS_PORT, pr), (SINK_PORT, ps))], 1))
        elif name == "xcompose-kernel":  # the target publishes itself: the direct path's ports
            paths.append(PathDef(name, None, xcompose_kernel_side(host1, host2, *ports["direct"])))
            continue
        else:  # xcompose[-plain]: the ambassadors xcompose plans for this link (TLS on / off)
            server, client = xcompose_sides(host1, host2, pr, ps, tls=name == "xcompose")
        paths.append(PathDef(name, server, client))
    return paths, ports


XCOMPOSE_TOPOLOGY = """
name: {name}
hosts:
  h1: {{address: "{host1}"}}
  h2: {{address: "{host2}"}}
ambassador: {{tls: {tls}, mode: {mode}, image: "{image}"}}
services:
  redis:
    image: "redis:7"
    host: h1
    expose: [{redis}, {sink}]
    ambassador: {{publish: {{{redis}: {pr}, {sink}: {ps}}}}}
  tools: {{image: "xcompose/tools:latest", host: h2, links: [redis], command: sleep infinity}}
"""


def xcompose_sides(host1: str, host2: str, pr: int, ps: int, tls: bool = True) -> tuple[Side, Side]:
    """The ambassador pair xcompose plans for one cross-host link (tools on h2 -> redis on
    h1, redis exposing the redis and sink ports, published on host 1 at pr and ps), with
    certificates from a CA made in memory; run as the plan says."""
    name = "xbench" if tls else "xbench-plain"
    with tempfile.TemporaryDirectory(prefix="xbench-") as folder:
        file = Path(folder) / "xcompose.yaml"
        file.write_text(XCOMPOSE_TOPOLOGY.format(name=name, host1=host1, host2=host2, tls=str(tls).lower(),
                                                 mode="proxy", image="haproxy:2.6", redis=REDIS_PORT,
                                                 sink=SINK_PORT, pr=pr, ps=ps))
        project = load_project([file], environ={})
    plan = build_plan(project, Credentials(project.name, CertificateAuthority.new(project.name)))
    server, client = plan.step(StepId.server("redis")), plan.step(StepId.client("redis", "h2"))
    assert isinstance(server, ServerAmbassadorStep) and isinstance(client, ClientAmbassadorStep)
    assert server.relay.tls == client.relay.tls == tls
    return plan_side(server), plan_side(client)


def xcompose_kernel_side(host1: str, host2: str, pr: int, ps: int) -> Side:
    """The kernel-mode client ambassador xcompose plans for the same link, redis published
    on host 1 at pr and ps (where the bench's redis already is: the direct path's ports)."""
    with tempfile.TemporaryDirectory(prefix="xbench-") as folder:
        file = Path(folder) / "xcompose.yaml"
        file.write_text(XCOMPOSE_TOPOLOGY.format(name="xbench-kernel", host1=host1, host2=host2, tls="false",
                                                 mode="kernel", image=KERNEL_IMAGE, redis=REDIS_PORT,
                                                 sink=SINK_PORT, pr=pr, ps=ps))
        project = load_project([file], environ={})
    plan = build_plan(project, Credentials.none(project.name))
    target, client = plan.step(StepId.service("redis")), plan.step(StepId.client("redis", "h2"))
    assert isinstance(target, ServiceStep) and isinstance(client, ClientAmbassadorStep)
    assert {(b.host_ip, b.host_port) for b in target.container.ports} == {(host1, pr), (host1, ps)}
    side = plan_side(client)
    side.cap_add, side.sysctls = client.container.cap_add, dict(client.container.sysctls)
    return side


def plan_side(step: ServerAmbassadorStep | ClientAmbassadorStep) -> Side:
    """The container the step describes, as far as the data path goes (labels, restart
    policy and network aliases are the bench's own; a client ambassador publishes nothing)."""
    spec = step.container
    ports = {f"{b.container_port}/{b.protocol}": (b.host_ip or "", b.host_port or b.container_port)
             for b in spec.ports}
    return Side(spec.image, list(spec.entrypoint or ()), list(spec.command or ()),
                uploads=step.relay.files, user=spec.user, ports=ports)


# --- the run -----------------------------------------------------------------------------


class Bench:
    def __init__(self, lab: Lab, args: argparse.Namespace) -> None:
        self.lab, self.args = lab, args
        self.h1, self.h2 = lab.host(1), lab.host(2)
        self.c1 = lab.docker_client(self.h1, timeout=900)
        self.c2 = lab.docker_client(self.h2, timeout=900)

    def cleanup(self) -> None:
        for client in (self.c1, self.c2):
            for c in client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
                c.remove(force=True)
            for n in client.networks.list(names=[NET]):
                n.remove()

    def _run(self, client: Any, name: str, image: str, *, entrypoint: list[str] | None = None,
             command: list[str] | None = None, ports: dict[str, tuple[str, int]] | None = None,
             files: dict[str, bytes] | None = None, uploads: tuple[UploadFile, ...] = (),
             user: str | None = None, sysctls: dict[str, str] | None = None, cap_add: tuple[str, ...] = (),
             aliases: list[str] | None = None, share_network_of: str | None = None) -> None:
        where: dict[str, Any] = {"network_mode": f"container:{share_network_of}"} if share_network_of else {
            "network": NET, "networking_config": {NET: client.api.create_endpoint_config(aliases=aliases)}}
        c = client.containers.create(
            image, command=command, entrypoint=entrypoint, name=name, labels={LABEL: "1"},
            ports=ports or {}, sysctls=sysctls, user=user, cap_add=list(cap_add) or None, detach=True, **where)
        if files:
            c.put_archive("/", tar_of(files))
        if uploads:  # the same archive xcompose's executors upload between create and start
            c.put_archive("/", archive(uploads))
        c.start()

    def setup(self, paths: list[PathDef], ports: dict[str, tuple[int, int]]) -> None:
        self.cleanup()
        for client in (self.c1, self.c2):
            client.networks.create(NET, driver="bridge", labels={LABEL: "1"})
        a1 = self.h1.address
        # The sink lives in redis's network namespace (and its ports are published there):
        # `sink` and `redis` are one address, as the one link target of the xcompose paths.
        self._run(self.c1, "redis", "redis:7", command=["redis-server", "--protected-mode", "no",
                                                       "--bind", "0.0.0.0", "--save", ""],
                  ports={f"{REDIS_PORT}/tcp": (a1, ports["direct"][0]),
                         f"{SINK_PORT}/tcp": (a1, ports["direct"][1])},
                  aliases=["redis", "sink"])
        self._run(self.c1, "sink", "xcompose/tools:latest", entrypoint=["socat"],
                  command=["-u", "-b", "131072", f"TCP-LISTEN:{SINK_PORT},fork,reuseaddr", "OPEN:/dev/null"],
                  share_network_of="redis")
        self._run(self.c2, "tools", "xcompose/tools:latest", sysctls=SYSCTLS)
        for p in paths:
            if p.client is None:
                continue
            if p.server is not None:
                pr, ps = ports[p.name]
                published = {f"{REDIS_PORT}/tcp": (a1, pr), f"{SINK_PORT}/tcp": (a1, ps)}
                self._run(self.c1, f"xb-s-{p.name}", p.server.image, entrypoint=p.server.entrypoint,
                          command=p.server.command or None, files=p.server.files, uploads=p.server.uploads,
                          user=p.server.user, ports=published if p.server.ports is None else p.server.ports)
            self._run(self.c2, f"xb-c-{p.name}", p.client.image, entrypoint=p.client.entrypoint,
                      command=p.client.command or None, files=p.client.files, uploads=p.client.uploads,
                      user=p.client.user, sysctls={**SYSCTLS, **p.client.sysctls}, cap_add=p.client.cap_add)
        # Ready: every path answers a PING and accepts a sink connection.
        for p in paths:
            host, (rp, sp) = self.endpoint(p, ports)
            deadline = time.monotonic() + READY_SECONDS
            while True:
                code, out = self.exec(f"redis-cli -h {host} -p {rp} ping && "
                                      f"head -c 1 /dev/zero | nc -N -w 5 {host} {sp}", timeout=10)
                if code == 0 and b"PONG" in out:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"path {p.name} does not answer: {out.decode(errors='replace')[-400:]}"
                                     f"\n{self.logs(p)}")
                time.sleep(0.5)

    def logs(self, p: PathDef) -> str:
        out = []
        for client, name in ((self.c1, f"xb-s-{p.name}"), (self.c2, f"xb-c-{p.name}")):
            try:
                out.append(f"--- {name}\n" + client.containers.get(name).logs(tail=20).decode(errors="replace"))
            except Exception as exc:  # noqa: BLE001 - diagnostics only
                out.append(f"--- {name}: {exc}")
        return "\n".join(out)

    def endpoint(self, p: PathDef, ports: dict[str, tuple[int, int]]) -> tuple[str, tuple[int, int]]:
        if p.client is None:
            return self.h1.address, ports["direct"]
        return f"xb-c-{p.name}", (REDIS_PORT, SINK_PORT)

    def exec(self, script: str, timeout: int) -> tuple[int, bytes]:
        tools = self.c2.containers.get("tools")
        res = tools.exec_run(["timeout", str(timeout), "sh", "-c", script])
        return res.exit_code, res.output

    def redis_bench(self, host: str, port: int, extra: str, requests: int) -> dict[str, tuple[float, float]]:
        """{test: (ops/s, p50 ms)} from redis-benchmark --csv."""
        code, out = self.exec(f"redis-benchmark -h {host} -p {port} -c 50 -n {requests} {extra} --csv",
                              timeout=self.args.step_timeout)
        if code != 0:
            return {}
        rows: dict[str, tuple[float, float]] = {}
        for row in csv.reader(io.StringIO(out.decode(errors="replace"))):
            if len(row) >= 2 and row[0] != "test":
                try:
                    rows[row[0]] = (float(row[1]), float(row[4]) if len(row) > 4 else float("nan"))
                except ValueError:
                    continue
        return rows

    def bulk(self, host: str, port: int) -> float | None:
        mib = self.args.bulk_mib
        script = (f"s=$(date +%s%N); head -c {mib}M /dev/zero | nc -N {host} {port} || exit 3; "
                  "e=$(date +%s%N); echo $((e - s))")
        code, out = self.exec(script, timeout=self.args.step_timeout)
        if code != 0:
            return None
        ns = int(out.decode().split()[-1])
        return mib / (ns / 1e9)

    def measure(self, p: PathDef, ports: dict[str, tuple[int, int]]) -> dict[str, float]:
        host, (rp, sp) = self.endpoint(p, ports)
        n = self.args.requests
        out: dict[str, float] = {}
        plain = self.redis_bench(host, rp, "-t get,ping", n)
        piped = self.redis_bench(host, rp, "-t get,ping -P 16", n * 4)
        for key, rows in (("", plain), ("P16 ", piped)):
            if "GET" in rows:
                out[f"{key}get"] = rows["GET"][0]
            if "PING_MBULK" in rows:
                out[f"{key}ping"] = rows["PING_MBULK"][0]
        if "GET" in plain:
            out["get p50 ms"] = plain["GET"][1]
        conns = self.redis_bench(host, rp, "-t ping -k 0", self.args.conns)
        if "PING_MBULK" in conns:
            out["conn/s"] = conns["PING_MBULK"][0]
        mibs = self.bulk(host, sp)
        if mibs is not None:
            out["MiB/s"] = mibs
        return out


COLUMNS = ("get", "ping", "P16 get", "P16 ping", "get p50 ms", "MiB/s", "conn/s")


def table(results: dict[str, list[dict[str, float]]]) -> str:
    med: dict[str, dict[str, float]] = {}
    for name, rounds in results.items():
        med[name] = {}
        for col in COLUMNS:
            vals = [r[col] for r in rounds if col in r]
            if vals:
                med[name][col] = statistics.median(vals)
    ops = ("get", "ping", "P16 get", "P16 ping")

    def ratio(name: str, base: str) -> str:
        if base not in med:
            return "-"
        rs = [med[name][c] / med[base][c] for c in ops if c in med[name] and c in med[base]]
        return f"{statistics.geometric_mean(rs):.2f}x" if rs else "-"

    head = ["path", *COLUMNS, "ops vs direct", "ops vs socat"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in results:
        cells = [name]
        for col in COLUMNS:
            v = med[name].get(col)
            cells.append("-" if v is None else (f"{v:.2f}" if col == "get p50 ms" else f"{v:,.0f}"))
        cells += [ratio(name, "direct"), ratio(name, "socat")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lab", help="reuse this running lab (prefix) instead of starting one")
    ap.add_argument("--prefix", default="xbn", help="prefix of the lab this run starts (default xbn)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000, help="redis-benchmark -n (x4 with -P 16)")
    ap.add_argument("--conns", type=int, default=5_000, help="short connections per conn/s round")
    ap.add_argument("--bulk-mib", type=int, default=1024)
    ap.add_argument("--step-timeout", type=int, default=300, help="seconds any one workload may take")
    ap.add_argument("--paths", default="direct,socat,socat-tls,haproxy,haproxy-tls",
                    help=f"comma list of {', '.join(ALL_PATHS)}; add `xcompose` (and `xcompose-plain`, "
                         "`xcompose-kernel`) to measure the ambassadors xcompose plans")
    ap.add_argument("--keep", action="store_true", help="leave the containers (and the lab) running")
    ap.add_argument("--smoke", action="store_true",
                    help="every path, one round, the smallest workloads, 30 s bounds (the test "
                         "suite's check that this still runs)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds, args.requests, args.conns, args.bulk_mib = 1, 1_000, 200, 8
        args.step_timeout, args.paths = 30, ",".join(ALL_PATHS)
    want = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(want) - set(ALL_PATHS))
    if unknown:
        raise SystemExit(f"no such path: {', '.join(unknown)} (paths: {', '.join(ALL_PATHS)})")

    started: Lab | None = None
    if args.lab:
        lab = Lab.get(args.lab)
        if lab is None:
            raise SystemExit(f"no running lab {args.lab!r}")
    else:
        print(f"starting lab {args.prefix} (2 hosts)", file=sys.stderr)
        lab = started = Lab.up(hosts=2, prefix=args.prefix)
    bench: Bench | None = None
    try:
        lab.images(progress=lambda m: print(f"images: {m}", file=sys.stderr))
        bench = Bench(lab, args)
        paths, ports = build_paths(bench.h1.address, bench.h2.address, make_pki(), want)
        bench.setup(paths, ports)
        results: dict[str, list[dict[str, float]]] = {p.name: [] for p in paths}
        for rnd in range(args.rounds):
            order = paths[rnd % len(paths):] + paths[:rnd % len(paths)]
            for p in order:
                t0 = time.monotonic()
                r = bench.measure(p, ports)
                results[p.name].append(r)
                print(f"round {rnd + 1}/{args.rounds} {p.name:14s} {time.monotonic() - t0:5.1f}s "
                      + " ".join(f"{k}={v:,.0f}" for k, v in r.items()), file=sys.stderr, flush=True)
        print(f"\nlab {lab.prefix}, {args.rounds} rounds, medians; redis-benchmark -c 50 -n {args.requests} "
              f"(-P 16: -n {args.requests * 4}); bulk {args.bulk_mib} MiB; conn/s: -k 0 -n {args.conns}")
        print(table(results))
    finally:
        if bench is not None and not args.keep:
            bench.cleanup()
        if started is not None and not args.keep:
            print(f"removing lab {started.prefix}", file=sys.stderr)
            started.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
