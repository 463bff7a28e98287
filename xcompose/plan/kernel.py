"""The client ambassador of a link in kernel mode (`ambassador: {mode: kernel}`): no relay
program, the kernel forwards. Pure, like the rest of the planner.

The target publishes its ports on its host's address itself (Docker's own DNAT carries
them there), so no server ambassador stands in front of it. On each consumer host the
client ambassador keeps the target's names on the project networks, as in proxy mode; its
container installs, in its own network namespace, one `iptables -t nat` PREROUTING DNAT per
port to the target host's address and host port, and a MASQUERADE for what it forwards so
that the replies come back through it. Then it only sleeps: every packet after that is the
kernel's. Nothing is encrypted, which is why the planner asks for `tls: false` first.

The relay image needs a POSIX shell, `sleep` and `iptables` (either backend): the start
script exits non-zero when a rule cannot be installed, and the readiness probe asks
iptables whether every rule is in place (nothing listens on the ambassador's ports, so
connecting to them proves nothing here).
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Sequence

from xcompose.plan.naming import LABEL_RELAY, LABEL_RELAY_DIGEST
from xcompose.plan.relay import BuiltAmbassador
from xcompose.plan.specs import ContainerSpec, Endpoint, RelayKind, RelayPort, RelaySetup

KERNEL_RELAY: RelayKind = "kernel"
# Forwarding between the networks the ambassador joins is off in a new namespace; ICMP
# redirects would tell the consumer to go around the ambassador, to an address it never used.
KERNEL_SYSCTLS = (
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.default.send_redirects", "0"),
    ("net.ipv4.ip_forward", "1"),
)


def _rules(port: RelayPort) -> list[tuple[str, ...]]:
    """The two nat rules of one relayed port, as `iptables -t nat` arguments after the
    action: where a consumer's packets go, and the source rewrite that brings replies back."""
    match = ("-p", port.protocol)
    return [
        ("PREROUTING", *match, "--dport", str(port.listen_port),
         "-j", "DNAT", "--to-destination", f"{port.to_host}:{port.to_port}"),
        ("POSTROUTING", *match, "-d", port.to_host, "--dport", str(port.to_port), "-j", "MASQUERADE"),
    ]


def _iptables(action: str, rule: tuple[str, ...]) -> str:
    return shlex.join(("iptables", "-w", "-t", "nat", action, *rule))


def start_script(ports: Sequence[RelayPort]) -> str:
    """Installs every rule unless it is there already (a restarted container may keep its
    namespace), then sleeps; `set -e` makes a refused rule stop the container with
    iptables' own message in its log."""
    rules = [rule for port in ports for rule in _rules(port)]
    lines = ["set -e", *(f"{_iptables('-C', r)} 2>/dev/null || {_iptables('-A', r)}" for r in rules),
             "trap 'exit 0' TERM INT", "sleep 2147483647 & wait"]
    return "\n".join(lines) + "\n"


def probe(ports: Sequence[RelayPort]) -> tuple[str, ...]:
    """Exits 0 once iptables reports every rule of the ambassador in place."""
    return ("/bin/sh", "-c", " && ".join(_iptables("-C", r) for port in ports for r in _rules(port)))


def client_ambassador(
    *,
    name: str,
    image: str,
    networks: Sequence[Endpoint],
    ports: Sequence[RelayPort],
    labels: Sequence[tuple[str, str]],
) -> BuiltAmbassador:
    """The container and relay of a kernel-mode client ambassador; `ports` go to the target
    host's address and the host ports the target is published on there."""
    if not ports:
        raise ValueError("an ambassador needs at least one port to relay")
    script = start_script(ports)
    digest = "sha256:" + hashlib.sha256(script.encode()).hexdigest()
    container = ContainerSpec(
        name=name,
        image=image,
        networks=tuple(networks),
        entrypoint=("/bin/sh", "-c"),
        command=(script,),
        labels=tuple(sorted({**dict(labels), LABEL_RELAY: KERNEL_RELAY, LABEL_RELAY_DIGEST: digest}.items())),
        expose=tuple(sorted({(p.listen_port, p.protocol) for p in ports})),
        restart="unless-stopped",
        user="root",  # iptables needs it; relay images often run as someone else
        cap_add=("NET_ADMIN",),
        sysctls=KERNEL_SYSCTLS,
    )
    return BuiltAmbassador(container, RelaySetup(KERNEL_RELAY, tuple(ports), tls=False, probe=probe(ports)))
