"""The relay container of an ambassador: its command, its config files, its readiness probe.

The planner (pure) lays the ambassadors out with the plain socat relay of `relay_container`.
Before the plan is applied, `secure_plan` turns every ambassador step into the relay the
benchmark chose (bench/ambassador.md): haproxy in tcp mode, with mutual TLS between the two
ambassadors of a link while `Step.tls` is on. Its config and certificates are generated
from the Step alone and reach the container only as files, uploaded between create and
start (`upload_for`); never through environment variables, labels or the command line. The
container's labels carry a digest of the config and the certificates' fingerprints, so a
changed relay, a TLS switch or `xcompose pki rotate` re-creates the ambassador.

An `ambassador.image` whose name says socat keeps the socat relay (TLS through socat's
OPENSSL addresses); it is also the way to relay UDP, which haproxy does not do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shlex
import tarfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from xcompose.errors import UsageError
from xcompose.plan import ContainerSpec, Plan, PortBinding, Relay, Step

# Seconds a probe waits for one connection; the executor retries the probe until its timeout.
PROBE_CONNECT_TIMEOUT = 2


def _socat_args(relay: Relay) -> tuple[str, str]:
    """Explicit addresses, one relay per process: no environment parsing, no sed (the
    classic ambassador image's weak spot)."""
    kind = "UDP" if relay.protocol == "udp" else "TCP"
    return (
        f"{kind}-LISTEN:{relay.listen_port},fork,reuseaddr",
        f"{kind}:{relay.to_host}:{relay.to_port}",
    )


def relay_command(relays: Sequence[Relay]) -> tuple[tuple[str, ...], tuple[str, ...]]:
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


def relay_probe(relays: Sequence[Relay], upstream: bool = False) -> tuple[str, ...] | None:
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


def relay_container(
    *,
    name: str,
    image: str,
    network: str,
    relays: Sequence[Relay],
    labels: Sequence[tuple[str, str]],
    aliases: Sequence[str] = (),
    ports: Sequence[PortBinding] = (),
) -> ContainerSpec:
    """The ContainerSpec of one ambassador (server or client)."""
    entrypoint, command = relay_command(relays)
    return ContainerSpec(
        name=name,
        image=image,
        network=network,
        aliases=tuple(aliases),
        entrypoint=entrypoint,
        command=command,
        labels=tuple(sorted(labels)),
        # Exposed like the target, so `docker ps` / inspect read as they would for it.
        expose=tuple(sorted({(r.listen_port, r.protocol) for r in relays})),
        ports=tuple(ports),
        restart="unless-stopped",
    )


# --- the relay chosen by bench/ambassador.py: haproxy, tcp mode, mutual TLS ---------------

LABEL_RELAY = "io.xcompose.relay"  # haproxy | socat
LABEL_RELAY_DIGEST = "io.xcompose.relay-digest"  # sha256 of config + cert fingerprints
LABEL_TLS_CERT = "io.xcompose.tls-cert"  # fingerprint of the ambassador's certificate
LABEL_TLS_CA = "io.xcompose.tls-ca"  # fingerprint of the project CA

HAPROXY_DIR = "/usr/local/etc/haproxy"
HAPROXY_CONFIG = f"{HAPROXY_DIR}/haproxy.cfg"
SOCAT_DIR = "/etc/xcompose"
HAPROXY_ENTRYPOINT = ("haproxy", "-W", "-db", "-f", HAPROXY_CONFIG)
# Lab dockerds (and some hosts) cap open files at 20000: haproxy needs ~2 per connection.
MAXCONN = 4096

RelayKind = Literal["haproxy", "socat"]


def relay_kind(image: str, relays: Sequence[Relay] = ()) -> RelayKind:
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


def haproxy_config(relays: Sequence[Relay], role: str, tls: TlsFiles | None) -> str:
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
        "  option clitcpka",
        "  option srvtcpka",
        "resolvers sys",
        "  parse-resolv-conf",
        "  hold valid 2s",
    ]
    server_side = role == "ambassador-server"
    for r in relays:
        bind = f"  bind :{r.listen_port}"
        server = f"  server relay {r.to_host}:{r.to_port} resolvers sys init-addr last,libc,none"
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
    relays: Sequence[Relay], role: str, tls: TlsFiles
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The socat fallback with TLS: OPENSSL-LISTEN (verify=1) on the server ambassador,
    OPENSSL: with the server's name checked on the client ambassador. UDP stays plain."""
    pairs: list[tuple[str, str]] = []
    for r in relays:
        if r.protocol != "tcp":
            pairs.append(_socat_args(r))
        elif role == "ambassador-server":
            pairs.append((f"OPENSSL-LISTEN:{r.listen_port},fork,reuseaddr,cert={tls.cert},"
                          f"cafile={tls.ca},verify=1", f"TCP:{r.to_host}:{r.to_port}"))
        else:
            pairs.append((f"TCP-LISTEN:{r.listen_port},fork,reuseaddr",
                          f"OPENSSL:{r.to_host}:{r.to_port},cert={tls.cert},cafile={tls.ca},"
                          f"verify=1,commonname={tls.verify_name}"))
    if len(pairs) == 1:
        return ("socat",), pairs[0]
    jobs = " & ".join(shlex.join(("socat", *p)) for p in pairs)
    return ("/bin/sh", "-c"), (f"trap 'exit 0' TERM INT; {jobs} & wait",)


def bash_probe(relays: Sequence[Relay], upstream: bool = False) -> tuple[str, ...] | None:
    """The readiness probe without socat (the haproxy image has bash, not socat): bash's
    /dev/tcp connects to each relayed port, and with `upstream` to each destination."""
    targets = [("127.0.0.1", r.listen_port) for r in relays if r.protocol == "tcp"]
    if upstream:
        targets += [(r.to_host, r.to_port) for r in relays if r.protocol == "tcp"]
    if not targets:
        return None
    script = " && ".join(f"exec 3<>/dev/tcp/{h}/{p} && exec 3<&-" for h, p in targets)
    return ("timeout", str(PROBE_CONNECT_TIMEOUT * len(targets)), "bash", "-c", script)


@dataclasses.dataclass(frozen=True)
class RelaySetup:
    """What the apply step does to an ambassador: the container (with digest labels), its
    probe, and the files to upload before it starts ({absolute path: (bytes, mode)})."""

    container: ContainerSpec
    probe: tuple[str, ...] | None
    files: Mapping[str, tuple[bytes, int]]


def relay_setup(
    step: Step, *, server_name: str | None, identity: object | None
) -> RelaySetup:
    """Build the relay of one ambassador step from its relays and TLS setting.
    `identity` is a pki.Identity (or None with TLS off); `server_name` is the server
    ambassador's identity, which a client ambassador verifies."""
    spec = step.container
    assert spec is not None and step.kind in ("ambassador-server", "ambassador-client")
    kind = relay_kind(spec.image)
    udp = [r for r in step.relays if r.protocol != "tcp"]
    if kind == "haproxy" and udp:
        raise UsageError(
            f"services.{step.service}: port {udp[0].listen_port}/{udp[0].protocol} crosses hosts, "
            f"but the ambassador image {spec.image} (haproxy) relays TCP only; set "
            "ambassador.image to a socat image (e.g. alpine/socat:latest) for UDP links"
        )
    upstream = step.kind == "ambassador-client"
    files: dict[str, tuple[bytes, int]] = {}
    tls: TlsFiles | None = None
    labels = dict(spec.labels)
    labels[LABEL_RELAY] = kind
    if step.tls and identity is not None:
        directory = f"{HAPROXY_DIR}/xcompose" if kind == "haproxy" else SOCAT_DIR
        tls = TlsFiles(directory, server_name if upstream else None)
        files[tls.ca] = (identity.ca_pem, 0o644)  # type: ignore[attr-defined]
        files[tls.cert] = (identity.cert_pem + identity.key_pem, 0o600)  # type: ignore[attr-defined]
        labels[LABEL_TLS_CERT] = identity.fingerprint  # type: ignore[attr-defined]
        labels[LABEL_TLS_CA] = identity.ca_fingerprint  # type: ignore[attr-defined]
    if kind == "haproxy":
        config = haproxy_config(step.relays, step.kind, tls)
        files[HAPROXY_CONFIG] = (config.encode(), 0o644)
        entrypoint, command = HAPROXY_ENTRYPOINT, ()
        probe = bash_probe(step.relays, upstream)
        # The official image runs as user haproxy; the key file is root's (0600).
        user: str | None = "root"
    else:
        if tls is not None:
            entrypoint, command = socat_tls_command(step.relays, step.kind, tls)
        else:
            entrypoint, command = relay_command(step.relays)
        probe = relay_probe(step.relays, upstream)
        user = spec.user
    digest = hashlib.sha256()
    for path in sorted(files):
        data, mode = files[path]
        if path == getattr(tls, "cert", None):
            continue  # key material: represented by the certificate fingerprint label
        digest.update(f"{path}\0{mode:o}\0".encode() + data + b"\0")
    labels[LABEL_RELAY_DIGEST] = "sha256:" + digest.hexdigest()
    container = dataclasses.replace(
        spec, entrypoint=entrypoint, command=command, user=user,
        labels=tuple(sorted(labels.items())),
    )
    return RelaySetup(container, probe, files)


def archive(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    """A tar to extract at `/`: the files and their own folders (0755), owned by root.
    Only the folders that hold the files are entries (the image's /usr, /etc are left as
    they are); Docker makes any missing parent."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted({str(Path(path.lstrip("/")).parent) for path in files} - {"."}):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
            tar.addfile(info)
        for path in sorted(files):
            data, mode = files[path]
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, now
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


FILES_ATTR = "ambassador_files"  # graph node attribute read by apply's upload hook


def secure_plan(plan: Plan, pki: object | None = None) -> Plan:
    """A copy of the plan whose ambassador steps run the chosen relay with their TLS
    setting; certificates come from the project's PKI (created on first use). Idempotent.
    The files to upload are kept on each step's graph node (`FILES_ATTR`)."""
    if pki is None and any(_is_ambassador(s) and s.tls for s in plan.steps()):
        from xcompose.pki import ProjectPki

        pki = ProjectPki(plan.project)
    graph = plan.graph.copy()
    for step_id in graph.nodes:
        step: Step = graph.nodes[step_id]["step"]
        if not _is_ambassador(step) or FILES_ATTR in graph.nodes[step_id]:
            continue
        assert step.container is not None
        server_name = None
        if step.kind == "ambassador-client":
            server = plan.graph.nodes.get(f"ambassador-server:{step.service}")
            server_name = server["step"].container.name if server else None
        identity = pki.identity(step.container.name) if (step.tls and pki is not None) else None  # type: ignore[attr-defined]
        setup = relay_setup(step, server_name=server_name, identity=identity)
        graph.nodes[step_id]["step"] = dataclasses.replace(
            step, container=setup.container, probe=setup.probe)
        graph.nodes[step_id][FILES_ATTR] = dict(setup.files)
    return Plan(project=plan.project, hosts=plan.hosts, graph=graph)


def upload_for(plan: Plan, step_id: str) -> bytes | None:
    """The archive to extract at `/` in the created (not yet started) container."""
    files = plan.graph.nodes[step_id].get(FILES_ATTR)
    return archive(files) if files else None


def _is_ambassador(step: Step) -> bool:
    return step.kind in ("ambassador-server", "ambassador-client") and step.container is not None


def bench_pair(server_relays: Sequence[Relay], client_relays: Sequence[Relay],
               image: str = "haproxy:2.6", tls: bool = True) -> tuple[dict, dict]:
    """The server and client relay of one link as bench/ambassador.py runs them
    (image, entrypoint, command, files): exactly what `secure_plan` would produce."""
    from xcompose.pki import ProjectPki
    import tempfile

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        pki = ProjectPki("bench", Path(tmp))
        names = ("bench-server-ambassador", "bench-client-ambassador")
        for kind, relays, name in (("ambassador-server", server_relays, names[0]),
                                   ("ambassador-client", client_relays, names[1])):
            spec = relay_container(name=name, image=image, network="n", relays=relays, labels=())
            step = Step(id=kind, kind=kind, host="h", service="s", container=spec,  # type: ignore[arg-type]
                        relays=tuple(relays), tls=tls)
            setup = relay_setup(step, server_name=names[0], identity=pki.identity(name) if tls else None)
            out.append({
                "image": image,
                "entrypoint": list(setup.container.entrypoint or ()),
                "command": list(setup.container.command or ()),
                "files": {k.lstrip("/"): v[0] for k, v in setup.files.items()},
            })
    return out[0], out[1]
