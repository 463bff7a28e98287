"""What reaching another service turns into: who reaches whom on which network, the legacy
link variables of `links:`, and the ambassadors' relays.

As in Compose, a service reaches every service it shares a network with, by service name
and by the target's aliases on that network. When both run on one host, Docker's DNS on the
project network answers; when they do not, a client ambassador on the consumer's host carries
the target's names on each shared network and relays to the server ambassador on the
target's host. Every name a consumer uses is the same in both cases, so a consumer never has
to change when its target moves (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from xcompose.config.model import Service
from xcompose.config.syntax import PortSpec
from xcompose.plan.specs import PortBinding, RelayPort


class Wire(NamedTuple):
    """One valid `links:` entry of a consumer, placed on hosts (a tuple: there are many)."""

    consumer: str
    position: int  # in the consumer's `links:` (for error locations)
    target: str
    alias: str
    consumer_host: str
    target_host: str
    network: str  # the first network the two share: where the link's alias lives

    @property
    def cross_host(self) -> bool:
        return self.consumer_host != self.target_host

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("services", self.consumer, "links", self.position)


def env_prefix(alias: str) -> str:
    """Docker's legacy-link variable prefix: upper case, `-` and `.` become `_`."""
    return alias.upper().replace("-", "_").replace(".", "_")


def declared_ports(service: Service) -> list[PortSpec]:
    """The ports a service offers by its own file: `expose` and the container side of
    `ports`, unique, lowest first."""
    found = set(service.exposed_ports())
    found.update(PortSpec(port=p.target, protocol=p.protocol) for _, p in service.published_ports())
    return sorted(found, key=lambda p: (p.port, p.protocol))


def link_environment(consumer_container: str, alias: str, target: Service, ports: Sequence[PortSpec]) -> dict[str, str]:
    """The variables `docker run --link target:alias` used to set, with the alias as the
    address: a DNS name stays right when the container behind it (the target or its client
    ambassador) is re-created with another IP."""
    prefix = env_prefix(alias)
    env: dict[str, str] = {}
    if ports:
        first = ports[0]
        env[f"{prefix}_PORT"] = f"{first.protocol}://{alias}:{first.port}"
    for spec in ports:
        key = f"{prefix}_PORT_{spec.port}_{spec.protocol.upper()}"
        env[key] = f"{spec.protocol}://{alias}:{spec.port}"
        env[f"{key}_ADDR"] = alias
        env[f"{key}_PORT"] = str(spec.port)
        env[f"{key}_PROTO"] = spec.protocol
    env[f"{prefix}_NAME"] = f"/{consumer_container}/{alias}"
    for name, value in target.environment.items():
        # Unset (None) entries take their value from somewhere we cannot see; Docker only
        # passed on what the target's config actually held.
        if value is not None:
            env[f"{prefix}_ENV_{name}"] = value
    return env


def server_relays(target_name: str, ports: Sequence[PortSpec], replicas: int = 1) -> tuple[RelayPort, ...]:
    """Server ambassador: each port, inside the container, on to the target by its service
    name on a network of the target's host (to each of its replicas in turn)."""
    return tuple(RelayPort(listen_port=p.port, to_host=target_name, to_port=p.port, protocol=p.protocol,
                           to_count=replicas)
                 for p in ports)


def server_ports(ports: Sequence[PortSpec], published: Mapping[PortSpec, int], address: str) -> tuple[PortBinding, ...]:
    """Published on the host's own address only: never on every interface of the host."""
    return tuple(PortBinding(container_port=p.port, protocol=p.protocol, host_port=published[p], host_ip=address)
                 for p in ports)


def client_relays(ports: Sequence[PortSpec], published: Mapping[PortSpec, int], address: str) -> tuple[RelayPort, ...]:
    """Client ambassador: listens on the target's own port numbers (so a consumer uses the
    same address as for a local target) and relays to the server ambassador's host port."""
    return tuple(RelayPort(listen_port=p.port, to_host=address, to_port=published[p], protocol=p.protocol)
                 for p in ports)
