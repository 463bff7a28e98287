"""The relay inside an ambassador: which program, its config and command, the files it
needs and the probe that proves it relays. Pure: the planner calls `ambassador()` for every
ambassador step, so the plan holds all the relay is made of (made when first read).

The relay is haproxy in tcp mode (bench/ambassador.md chose it), with mutual TLS between
the two ambassadors of a link while TLS is on. Its config and certificates reach the
container only as files, uploaded between create and start; never through environment
variables, labels or the command line. The container's labels carry a digest of the config
and the certificates' fingerprints, so a changed relay, a TLS switch or a new CA re-creates
the ambassador. An `ambassador.image` whose name says socat keeps the socat relay (TLS
through socat's OPENSSL addresses); socat is also what relays UDP.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import shlex
from collections.abc import Sequence
from typing import Literal

from xcompose.pki import Identity
from xcompose.plan.naming import (
    LABEL_RELAY,
    LABEL_RELAY_DIGEST,
    LABEL_TLS_CA,
    LABEL_TLS_CERT,
)
from xcompose.plan.specs import (
    ContainerSpec,
    Endpoint,
    PortBinding,
    RelayKind,
    RelayPort,
    RelaySetup,
    UploadFile,
)

# Seconds a probe waits for one connection; the executor retries the probe until its timeout.
PROBE_CONNECT_TIMEOUT = 2
# Lab dockerds (and some hosts) cap open files at 20000: haproxy needs ~2 per connection.
MAXCONN = 4096
# socat's own listen backlog is 5: a burst of new connections overflows it, and the kernel
# drops the SYNs it has no room for (the client retries after 1 s, 3 s, ...). The kernel
# caps the backlog at net.core.somaxconn (4096 by default).
SOCAT_BACKLOG = 1024
# One forked socat per connection: as many connections as haproxy would carry, no more, so
# a flood waits in the backlog instead of forking the host out of memory.
SOCAT_TCP_LISTEN = f"fork,reuseaddr,backlog={SOCAT_BACKLOG},max-children={MAXCONN}"


def _socat_args(relay: RelayPort) -> tuple[str, str]:
    """Explicit addresses, one relay per process: no environment parsing, no sed (the
    classic ambassador image's weak spot)."""
    if relay.protocol == "udp":
        return (f"UDP-LISTEN:{relay.listen_port},fork,reuseaddr", f"UDP:{relay.to_host}:{relay.to_port}")
    return (f"TCP-LISTEN:{relay.listen_port},{SOCAT_TCP_LISTEN}", f"TCP:{relay.to_host}:{relay.to_port}")


def relay_command(relays: Sequence[RelayPort]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(entrypoint, command) that runs every relay in the container.

    The entrypoint is always set so that the relay image's own ENTRYPOINT does not matter.
    One relay runs as PID 1 itself; several run under a shell that exits on TERM (a shell
    as PID 1 would otherwise ignore `docker stop` until the kill timeout)."""
    if not relays:
        raise ValueError("an ambassador needs at least one relay")
    if len(relays) == 1:
        return ("socat",), _socat_args(relays[0])
    jobs = " & ".join(shlex.join(("socat", *_socat_args(r))) for r in relays)
    script = f"trap 'exit 0' TERM INT; {jobs} & wait"
    return ("/bin/sh", "-c"), (script,)


def _connect(host: str, port: int) -> tuple[str, ...]:
    return (
        "socat",
        "-u",
        "OPEN:/dev/null",
        f"TCP:{host}:{port},connect-timeout={PROBE_CONNECT_TIMEOUT}",
    )


def relay_probe(relays: Sequence[RelayPort], upstream: bool = False) -> tuple[str, ...] | None:
    """A command run inside the ambassador that exits 0 once it relays.

    It connects to every relayed TCP port on 127.0.0.1. A socat listener accepts before it
    dials onward, so with `upstream` it also dials each relay's destination itself: for a
    client ambassador that is the server ambassador on the other host, which proves the
    path across hosts. UDP cannot be probed by connecting, so UDP relays are skipped."""
    checks = [_connect("127.0.0.1", r.listen_port) for r in relays if r.protocol == "tcp"]
    if upstream:
        checks += [_connect(r.to_host, r.to_port) for r in relays if r.protocol == "tcp"]
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return ("/bin/sh", "-c", " && ".join(shlex.join(c) for c in checks))


# --- the relay chosen by bench/ambassador.py: haproxy, tcp mode, mutual TLS ---------------

HAPROXY_DIR = "/usr/local/etc/haproxy"
HAPROXY_CONFIG = f"{HAPROXY_DIR}/haproxy.cfg"
SOCAT_DIR = "/etc/xcompose"
HAPROXY_ENTRYPOINT = ("haproxy", "-W", "-db", "-f", HAPROXY_CONFIG)
# The tls-ca label of an ambassador planned before the project has a CA.
NEW_CA = "new"

def relay_kind(image: str) -> RelayKind:
    """socat when the image's name says so, else haproxy (which relays TCP only)."""
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return "socat" if "socat" in name else "haproxy"


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """Where an ambassador finds its credentials, and the peer name it must verify."""

    directory: str
    verify_name: str | None  # client ambassador: the server ambassador's identity

    @property
    def ca(self) -> str:
        return f"{self.directory}/ca.pem"

    @property
    def cert(self) -> str:  # certificate then key, as haproxy and socat read it
        return f"{self.directory}/ambassador.pem"


def haproxy_config(relays: Sequence[RelayPort], role: str, tls: TlsFiles | None) -> str:
    """The whole haproxy.cfg of one ambassador. Destinations are resolved at run time
    through the container's resolver (Docker's embedded DNS on the project network), as
    socat did per connection: a re-created target with a new address is found again."""
    lines = [
        "# generated by xcompose: one frontend/backend per relayed port",
        "global",
        f"  maxconn {MAXCONN}",
        "  hard-stop-after 2s",
        "  ssl-default-bind-options ssl-min-ver TLSv1.2",
        "  ssl-default-server-options ssl-min-ver TLSv1.2",
        "defaults",
        "  mode tcp",
        "  timeout connect 5s",
        "  timeout client 24h",
        "  timeout server 24h",
        # A peer that vanished without a word (its host lost, its cable pulled) leaves a
        # half-open connection: keepalive probes reap it in about 35 s, not the kernel's 2 h.
        "  option clitcpka",
        "  clitcpka-idle 20s",
        "  clitcpka-intvl 5s",
        "  clitcpka-cnt 3",
        "  option srvtcpka",
        "  srvtcpka-idle 20s",
        "  srvtcpka-intvl 5s",
        "  srvtcpka-cnt 3",
        "resolvers sys",
        "  parse-resolv-conf",
        "  hold valid 2s",
    ]
    server_side = role == "ambassador-server"
    for r in relays:
        bind = f"  bind :{r.listen_port}"
        server = f"  server relay {r.to_host}:{r.to_port} resolvers sys init-addr last,libc,none"
        if r.to_count > 1:  # a slot per replica, filled from the name's addresses
            server = f"  server-template relay {r.to_count} {r.to_host}:{r.to_port} resolvers sys init-addr none"
        if tls is not None and server_side:
            # Only clients holding a certificate of the project CA get past the handshake.
            bind += f" ssl crt {tls.cert} ca-file {tls.ca} verify required"
        elif tls is not None:
            name = tls.verify_name
            server += (f" ssl crt {tls.cert} ca-file {tls.ca} verify required"
                       f" verifyhost {name} sni str({name})")
        lines += [
            f"frontend port{r.listen_port}", bind, f"  default_backend port{r.listen_port}",
            f"backend port{r.listen_port}", server,
        ]
    return "\n".join(lines) + "\n"


def socat_tls_command(
    relays: Sequence[RelayPort], role: str, tls: TlsFiles
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The socat fallback with TLS: OPENSSL-LISTEN (verify=1) on the server ambassador,
    OPENSSL: with the server's name checked on the client ambassador. TCP only: the planner
    refuses a UDP port that would cross hosts with TLS on."""
    pairs: list[tuple[str, str]] = []
    for r in relays:
        if role == "ambassador-server":
            pairs.append((f"OPENSSL-LISTEN:{r.listen_port},{SOCAT_TCP_LISTEN},cert={tls.cert},"
                          f"cafile={tls.ca},verify=1", f"TCP:{r.to_host}:{r.to_port}"))
        else:
            pairs.append((f"TCP-LISTEN:{r.listen_port},{SOCAT_TCP_LISTEN}",
                          f"OPENSSL:{r.to_host}:{r.to_port},cert={tls.cert},cafile={tls.ca},"
                          f"verify=1,commonname={tls.verify_name}"))
    if len(pairs) == 1:
        return ("socat",), pairs[0]
    jobs = " & ".join(shlex.join(("socat", *p)) for p in pairs)
    return ("/bin/sh", "-c"), (f"trap 'exit 0' TERM INT; {jobs} & wait",)


def bash_probe(relays: Sequence[RelayPort], upstream: bool = False) -> tuple[str, ...] | None:
    """The readiness probe without socat (the haproxy image has bash, not socat): bash's
    /dev/tcp connects to each relayed port, and with `upstream` to each destination."""
    targets = [("127.0.0.1", r.listen_port) for r in relays if r.protocol == "tcp"]
    if upstream:
        targets += [(r.to_host, r.to_port) for r in relays if r.protocol == "tcp"]
    if not targets:
        return None
    script = " && ".join(f"exec 3<>/dev/tcp/{h}/{p} && exec 3<&-" for h, p in targets)
    return ("timeout", str(PROBE_CONNECT_TIMEOUT * len(targets)), "bash", "-c", script)


AmbassadorRole = Literal["ambassador-server", "ambassador-client"]


def ambassador(
    *,
    role: AmbassadorRole,
    name: str,
    image: str,
    networks: Sequence[Endpoint],
    ports: Sequence[RelayPort],
    labels: Sequence[tuple[str, str]],
    published: Sequence[PortBinding] = (),
    tls: bool,
    identity: Identity | None,
    server_name: str | None = None,
) -> AmbassadorContainer:
    """The container and relay of one ambassador. With TLS on, `identity` is its
    certificate (None while the project has no CA yet: the plan says a new one will be
    made); a client ambassador verifies the server ambassador's name, `server_name`."""
    if not ports:
        raise ValueError("an ambassador needs at least one port to relay")
    return AmbassadorContainer(name, image, tuple(networks), tuple(labels), tuple(published),
                               role, tuple(ports), tls, identity, server_name)


@dataclasses.dataclass(frozen=True)
class _Relay:
    """What an ambassador's container holds besides its name, networks, labels and
    published ports."""

    setup: RelaySetup
    entrypoint: tuple[str, ...]
    command: tuple[str, ...]
    user: str | None
    labels: tuple[tuple[str, str], ...]
    expose: tuple[tuple[int, str], ...]


def _relay(
    role: AmbassadorRole,
    image: str,
    ports: tuple[RelayPort, ...],
    tls: bool,
    identity: Identity | None,
    server_name: str | None,
) -> _Relay:
    kind = relay_kind(image)
    upstream = role == "ambassador-client"
    files: list[UploadFile] = []
    tls_files: TlsFiles | None = None
    extra: dict[str, str] = {LABEL_RELAY: kind}
    if tls:
        directory = f"{HAPROXY_DIR}/xcompose" if kind == "haproxy" else SOCAT_DIR
        tls_files = TlsFiles(directory, server_name if upstream else None)
        if identity is None:
            extra[LABEL_TLS_CA] = NEW_CA
        else:
            files += [UploadFile(tls_files.ca, identity.ca_pem, 0o644),
                      UploadFile(tls_files.cert, identity.cert_pem + identity.key_pem, 0o600)]
            extra[LABEL_TLS_CERT] = identity.fingerprint
            extra[LABEL_TLS_CA] = identity.ca_fingerprint
    user: str | None = None
    entrypoint: tuple[str, ...]
    command: tuple[str, ...]
    if kind == "haproxy":
        files.append(UploadFile(HAPROXY_CONFIG, haproxy_config(ports, role, tls_files).encode(), 0o644))
        entrypoint, command = HAPROXY_ENTRYPOINT, ()
        probe = bash_probe(ports, upstream)
        # The official image runs as user haproxy; the key file is root's (0600).
        user = "root"
    else:
        entrypoint, command = socat_tls_command(ports, role, tls_files) if tls_files else relay_command(ports)
        probe = relay_probe(ports, upstream)
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path):
        if tls_files is None or file.path != tls_files.cert:  # the key: its certificate's label stands for it
            digest.update(f"{file.path}\0{file.mode:o}\0".encode() + file.data + b"\0")
    extra[LABEL_RELAY_DIGEST] = "sha256:" + digest.hexdigest()
    return _Relay(
        setup=RelaySetup(kind, ports, tls, probe, tuple(files)),
        entrypoint=entrypoint,
        command=command,
        user=user,
        labels=tuple(extra.items()),
        # Exposed like the target, so `docker ps` / inspect read as they would for it.
        expose=tuple(sorted({(p.listen_port, p.protocol) for p in ports})),
    )


@dataclasses.dataclass(frozen=True)
class AmbassadorContainer:
    """One ambassador as planned: what its relay and its container are made of. The relay
    (its config, files, probe and digest) and the container's spec are made the first time
    they are read, from these fields alone, so they are the same whenever that happens;
    `plan --offline` reads neither for the 26,000 ambassadors of a 10,000-service plan (it
    prints ids, hosts and order), `up` reads each."""

    name: str
    image: str
    networks: tuple[Endpoint, ...]
    labels: tuple[tuple[str, str], ...]  # whose step it is; the relay adds its own
    published: tuple[PortBinding, ...]
    role: AmbassadorRole
    ports: tuple[RelayPort, ...]
    tls: bool
    identity: Identity | None
    server_name: str | None

    @functools.cached_property
    def relay(self) -> _Relay:
        if self.identity is None:
            return _shared_relay(self.role, self.image, self.ports, self.tls, self.server_name)
        return _relay(self.role, self.image, self.ports, self.tls, self.identity, self.server_name)

    @property
    def setup(self) -> RelaySetup:
        return self.relay.setup

    @functools.cached_property
    def spec(self) -> ContainerSpec:
        relay = self.relay
        return ContainerSpec(
            name=self.name,
            image=self.image,
            networks=self.networks,
            entrypoint=relay.entrypoint,
            command=relay.command,
            labels=tuple(sorted({**dict(self.labels), **dict(relay.labels)}.items())),
            expose=relay.expose,
            ports=self.published,
            restart="unless-stopped",
            user=relay.user,
        )


@dataclasses.dataclass(frozen=True)
class BuiltAmbassador:
    """An ambassador whose container and relay are made at once: a kernel-mode client
    (plan/kernel.py) has no relay program to make, so nothing is worth putting off."""

    spec: ContainerSpec
    setup: RelaySetup

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def tls(self) -> bool:
        return self.setup.tls


# The client ambassadors of one target on every host it is reached from relay the same
# ports the same way: at 10,000 services that is 20,000 identical relays, made once each
# per target. Only without certificates (each ambassador has its own, so nothing would be
# shared, and private keys are not kept around). Every argument and result is immutable.
@functools.lru_cache(maxsize=4096)
def _shared_relay(
    role: AmbassadorRole, image: str, ports: tuple[RelayPort, ...], tls: bool, server_name: str | None
) -> _Relay:
    return _relay(role, image, ports, tls, None, server_name)
