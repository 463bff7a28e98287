"""The relay container of an ambassador: its command and its readiness probe.

Everything here derives from Relay values only, so the relay implementation (plain socat
today; TLS or a faster relay later) can be swapped without touching the planner.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from xcompose.plan import ContainerSpec, PortBinding, Relay

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
