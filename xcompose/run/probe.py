"""`xcompose check`: reach every host, open every cross-host link through its ambassadors.

For each host: the engine answers (Docker version, round-trip latency). For each client
ambassador (a target as its consumers on one host see it) and each TCP port it relays:

1. both ambassadors and the target run;
2. the target listens (a connection from inside the server ambassador, on the project
   network, to the target: its latency);
3. the server ambassador is reachable from the consumer's host (a connection from inside
   the client ambassador to the published address: the cross-host latency);
4. end to end: a connection to the client ambassador's own port stays open (the relay
   dialled onward, completed the TLS handshake and reached the target; a relay that cannot
   closes it at once);
5. with TLS on, from this machine: a TLS handshake with the server ambassador using the
   project's client credentials verifies the server's certificate and name, and the
   server accepts the client's (not checked when this machine cannot reach the address).

In kernel mode there is no server ambassador: the client ambassador's DNAT rules must be in
place and the target's published port must answer from inside it.

Every broken hop gives one line that names it. Nothing here changes a host.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xcompose.engines.base import Executor
from xcompose.engines.fleet import Fleet
from xcompose.errors import DockerError, HostError
from xcompose.pki import Credentials, Identity
from xcompose.plan.naming import LABEL_RELAY
from xcompose.plan.specs import RelayPort
from xcompose.plan.steps import (
    ClientAmbassadorStep,
    Plan,
    ServerAmbassadorStep,
    ServiceStep,
    StepId,
)

HOLD_SECONDS = 1.0  # how long the end-to-end connection must stay open
CONNECT_TIMEOUT = 3


@dataclass
class HostCheck:
    host: str
    url: str
    ok: bool
    docker_version: str | None = None
    latency_ms: float | None = None
    error: str | None = None


@dataclass
class LinkCheck:
    target: str
    consumers: list[str]
    consumer_host: str
    target_host: str
    port: int
    ok: bool = False
    tls: str = "off"  # off | verified | on (not verified from here) | refused
    target_ms: float | None = None  # server ambassador -> target
    cross_host_ms: float | None = None  # client ambassador -> server ambassador
    end_to_end: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def latency_ms(self) -> float | None:
        if self.target_ms is None or self.cross_host_ms is None:
            return None
        return self.target_ms + self.cross_host_ms


@dataclass
class CheckReport:
    project: str
    hosts: list[HostCheck] = field(default_factory=list)
    links: list[LinkCheck] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        out = [f"host {h.host} ({h.url}) down: {h.error}" for h in self.hosts if not h.ok]
        for link in self.links:
            out += link.errors
        return out

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> str:
        links = []
        for link in self.links:
            item = asdict(link)
            item["latency_ms"] = link.latency_ms
            links.append(item)
        return json.dumps({"project": self.project, "ok": self.ok,
                           "hosts": [asdict(h) for h in self.hosts], "links": links,
                           "errors": self.errors}, indent=2)

    def rows(self) -> tuple[list[list[str]], list[list[str]]]:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f} ms"

        hosts = [[h.host, "ok" if h.ok else "DOWN", h.docker_version or "-", ms(h.latency_ms)]
                 for h in self.hosts]
        links = [[f"{', '.join(link.consumers)} -> {link.target}", f"{link.consumer_host} -> {link.target_host}",
                  str(link.port), "ok" if link.ok else "BROKEN", link.tls, ms(link.cross_host_ms),
                  ms(link.target_ms), ms(link.latency_ms)] for link in self.links]
        return hosts, links


HOST_COLUMNS = ["host", "state", "docker", "latency"]
LINK_COLUMNS = ["link", "hosts", "port", "state", "tls", "cross-host", "to target", "total"]


# --- probes run inside the ambassadors ---------------------------------------------------


def _connect_script(host: str, port: int) -> tuple[str, ...]:
    """bash: connect, print start and end times (µs resolution); exit 7 if refused."""
    script = (f"s=$EPOCHREALTIME; exec 3<>/dev/tcp/{host}/{port} || exit 7; "
              f"e=$EPOCHREALTIME; exec 3<&-; echo \"$s $e\"")
    return ("timeout", str(CONNECT_TIMEOUT), "bash", "-c", script)


def _socat_connect(host: str, port: int) -> tuple[str, ...]:
    return ("socat", "-u", "OPEN:/dev/null", f"TCP:{host}:{port},connect-timeout={CONNECT_TIMEOUT}")


def _hold_script(port: int) -> tuple[str, ...]:
    """bash: open the relay's own port and read for HOLD_SECONDS. Data (a banner) or a
    timeout (a silent service, still connected) means the path is open; EOF means the
    relay closed it: it could not reach the next hop."""
    script = (f"exec 3<>/dev/tcp/127.0.0.1/{port} || exit 7; "
              f"read -r -n 1 -t {HOLD_SECONDS} -u 3 x; rc=$?; "
              "if [ $rc -eq 0 ] || [ $rc -gt 128 ]; then exit 0; fi; exit 3")
    return ("timeout", str(CONNECT_TIMEOUT + 2), "bash", "-c", script)


def _timed_connect(executor: Executor, container: str, kind: str, host: str, port: int) -> tuple[float | None, str]:
    """(milliseconds, "") or (None, why) for one TCP connection made inside a container."""
    if kind == "haproxy":
        start = time.monotonic()
        code, out = executor.exec(container, _connect_script(host, port), timeout=CONNECT_TIMEOUT + 5)
        if code == 0:
            try:
                s, e = (float(x) for x in out.split()[-2:])
                return (e - s) * 1000, ""
            except ValueError:
                return (time.monotonic() - start) * 1000, ""
    else:
        start = time.monotonic()
        code, out = executor.exec(container, _socat_connect(host, port), timeout=CONNECT_TIMEOUT + 5)
        if code == 0:
            return (time.monotonic() - start) * 1000, ""  # includes the exec's own overhead
    text = out.strip().lower()
    if code == 124 or "timed out" in text:
        return None, "timed out"
    if "refused" in text:
        return None, "connection refused"
    return None, f"unreachable (exit {code}{': ' + out.strip()[-200:] if out.strip() else ''})"


def _state(executor: Executor, name: str) -> tuple[str, dict[str, str]]:
    try:
        live = executor.inspect(name)
    except DockerError as error:  # a missing container is a state, not a failure
        return "missing", {"error": str(error)}
    except HostError as error:
        return "unreachable", {"error": str(error)}
    return live.state, live.labels


# --- TLS from this machine -------------------------------------------------------------


def _tls_handshake(address: str, port: int, server_name: str, identity: Identity) -> tuple[str, str]:
    """("verified"|"on"|"refused", detail)."""
    try:
        raw = socket.create_connection((address, port), timeout=CONNECT_TIMEOUT)
    except OSError as error:
        return "on", f"not verified from this machine ({address}:{port}: {error})"
    with tempfile.TemporaryDirectory() as tmp:
        ca, me = Path(tmp) / "ca.pem", Path(tmp) / "me.pem"
        ca.write_bytes(identity.ca_pem)
        me.touch(mode=0o600)
        me.write_bytes(identity.cert_pem + identity.key_pem)
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
        ctx.load_cert_chain(str(me))
    try:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            # TLS 1.3: the server judges the client's certificate after the client's
            # Finished; a rejection arrives as an alert on the first read.
            tls.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                tls.recv(1)
            return "verified", ""
    except ssl.SSLError as error:
        return "refused", f"TLS refused: {error.reason or error}"
    except OSError as error:
        return "refused", f"TLS refused: {error}"
    finally:
        raw.close()


# --- the check ---------------------------------------------------------------------------


def _consumers(plan: Plan, client_id: StepId) -> list[str]:
    return sorted(s.name for s in plan.dependents(client_id) if s.kind == "service")


def check(plan: Plan, fleet: Fleet, credentials: Credentials) -> CheckReport:
    """Check the hosts and every cross-host link of the plan (see the module's text).
    `credentials`: the project's, as read (a check never creates a CA)."""
    report = CheckReport(plan.project)
    for name, target in plan.hosts.items():
        info = fleet.info.get(name)
        if info is not None:
            report.hosts.append(HostCheck(name, info.url, True, info.version, info.latency_ms))
        else:
            error = next((e for e in fleet.errors if e.host == name), None)
            report.hosts.append(HostCheck(name, target.docker or "local", False,
                                          error=error.message if error else "not reached"))
    jobs: list[tuple[ClientAmbassadorStep, ServerAmbassadorStep | None, RelayPort]] = []
    for client in plan.steps():
        if isinstance(client, ClientAmbassadorStep):
            server = None if client.relay.kind == "kernel" else plan.step(client.server)
            assert server is None or isinstance(server, ServerAmbassadorStep)
            jobs += [(client, server, r) for r in client.relay.ports if r.protocol == "tcp"]
    if jobs:
        with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
            report.links = list(pool.map(lambda j: _check_any_link(plan, fleet, credentials, *j), jobs))
    return report


def _check_any_link(plan: Plan, fleet: Fleet, credentials: Credentials, client: ClientAmbassadorStep,
                    server: ServerAmbassadorStep | None, relay: RelayPort) -> LinkCheck:
    if server is None:
        return _check_kernel_link(plan, fleet, client, relay)
    return _check_link(plan, fleet, credentials, client, server, relay)


def _check_kernel_link(plan: Plan, fleet: Fleet, client: ClientAmbassadorStep, relay: RelayPort) -> LinkCheck:
    """A link in kernel mode: no server ambassador, the target publishes the port itself.
    Its hops: the client ambassador's DNAT rules are in place (its readiness probe), and
    the target's published port answers from inside the client ambassador (bash's
    /dev/tcp, as for haproxy): the cross-host latency, target included."""
    target_step = plan.step(StepId.service(client.service))
    assert isinstance(target_step, ServiceStep)
    link = LinkCheck(client.service, _consumers(plan, client.id), client.host, target_step.host, relay.listen_port)
    where = f"{', '.join(link.consumers) or '?'} -> {client.service}:{relay.listen_port}"
    ce, te = fleet.executors.get(client.host), fleet.executors.get(target_step.host)
    if ce is None or te is None:
        link.errors.append(f"{where}: host {client.host if ce is None else target_step.host} is down")
        return link
    cname = client.container.name
    for label, state, host in (("client ambassador " + cname, _state(ce, cname)[0], client.host),
                               (f"target {client.service}", _state(te, target_step.container.name)[0],
                                target_step.host)):
        if state != "running":
            link.errors.append(f"{where}: {label} on {host} is not running ({state})")
    if link.errors:
        return link
    if client.relay.probe is not None and ce.exec(cname, client.relay.probe, timeout=CONNECT_TIMEOUT + 5)[0] != 0:
        link.errors.append(f"{where}: the DNAT rules of {cname} on {client.host} are not in place")
    link.cross_host_ms, why = _timed_connect(ce, cname, "haproxy", relay.to_host, relay.to_port)
    if link.cross_host_ms is None:
        link.errors.append(f"{where}: {client.host} cannot reach {client.service} published at "
                           f"{relay.to_host}:{relay.to_port} ({why})")
    link.target_ms = 0.0 if link.cross_host_ms is not None else None  # no hop of its own: Docker's DNAT
    link.end_to_end = link.ok = not link.errors
    return link


def _check_link(plan: Plan, fleet: Fleet, credentials: Credentials, client: ClientAmbassadorStep,
                server: ServerAmbassadorStep, relay: RelayPort) -> LinkCheck:
    target_step = plan.step(StepId.service(client.service))
    assert isinstance(target_step, ServiceStep)
    link = LinkCheck(client.service, _consumers(plan, client.id), client.host, server.host, relay.listen_port,
                     tls="on" if client.relay.tls else "off")
    where = f"{', '.join(link.consumers) or '?'} -> {client.service}:{relay.listen_port}"
    ce, se = fleet.executors.get(client.host), fleet.executors.get(server.host)
    if ce is None or se is None:
        down = client.host if ce is None else server.host
        link.errors.append(f"{where}: host {down} is down")
        return link
    cname, sname = client.container.name, server.container.name
    cstate, clabels = _state(ce, cname)
    sstate, slabels = _state(se, sname)
    tstate, _ = _state(se, target_step.container.name)
    for label, state, host in (("client ambassador " + cname, cstate, client.host),
                               ("server ambassador " + sname, sstate, server.host),
                               (f"target {client.service}", tstate, server.host)):
        if state != "running":
            link.errors.append(f"{where}: {label} on {host} is not running ({state})")
    if link.errors:
        return link
    ckind = clabels.get(LABEL_RELAY) or client.relay.kind
    skind = slabels.get(LABEL_RELAY) or server.relay.kind
    # Hop: server ambassador -> target, on the target's host.
    port = _server_port(server, relay)
    server_relay = next((r for r in server.relay.ports if r.listen_port == port), None)
    if server_relay is not None:
        link.target_ms, why = _timed_connect(se, sname, skind, server_relay.to_host, server_relay.to_port)
        if link.target_ms is None:
            link.errors.append(f"{where}: target {client.service} on {server.host} is not listening on "
                               f"{server_relay.to_port} (from its server ambassador: {why})")
    # Hop: client ambassador -> server ambassador, across hosts.
    link.cross_host_ms, why = _timed_connect(ce, cname, ckind, relay.to_host, relay.to_port)
    if link.cross_host_ms is None:
        link.errors.append(f"{where}: {client.host} cannot reach the server ambassador at "
                           f"{relay.to_host}:{relay.to_port} ({why})")
    # TLS, from here, as the client ambassador.
    if client.relay.tls:
        identity = credentials.client_identity(cname, client.host)
        if identity is None:
            link.tls = "on"
            link.errors.append(f"{where}: TLS is on but this machine has no PKI for project "
                               f"{plan.project} (run `xcompose up` here first)")
        elif link.cross_host_ms is not None:
            link.tls, detail = _tls_handshake(relay.to_host, relay.to_port, sname, identity)
            if link.tls == "refused":
                link.errors.append(f"{where}: {detail} (server ambassador {sname} at "
                                   f"{relay.to_host}:{relay.to_port})")
    # End to end, from the consumer's host: the client ambassador's own port.
    if ckind == "haproxy" and not link.errors:
        code, _out = ce.exec(cname, _hold_script(relay.listen_port), timeout=CONNECT_TIMEOUT + 8)
        link.end_to_end = code == 0
        if not link.end_to_end:
            hint = " (TLS between the ambassadors refused?)" if client.relay.tls else ""
            link.errors.append(f"{where}: the client ambassador on {client.host} closed the connection: "
                               f"the path through {sname} did not open{hint}")
    elif not link.errors:
        link.end_to_end = True  # socat relays: the hops above are what can be seen
    link.ok = not link.errors
    return link


def _server_port(server: ServerAmbassadorStep, relay: RelayPort) -> int:
    """The server ambassador's listen port behind a client relay (published port -> port)."""
    for binding in server.container.ports:
        if binding.host_port == relay.to_port:
            return binding.container_port
    return relay.to_port


def render_table(report: CheckReport) -> str:
    hosts, links = report.rows()

    def table(head: list[str], rows: list[list[str]]) -> list[str]:
        widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
        return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [head, *rows]]

    lines = table(HOST_COLUMNS, hosts)
    if links:
        lines += ["", *table(LINK_COLUMNS, links)]
    else:
        lines += ["", "no cross-host links"]
    if report.errors:
        lines += [""] + [f"error: {e}" for e in report.errors]
    return "\n".join(lines)
