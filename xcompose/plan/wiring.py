"""What a link turns into: the consumer's legacy link variables and the ambassadors' relays.

A link `target:alias` always reaches its target through the DNS name `alias` on the project
network of the consumer's host: the target container carries that alias when both run on one
host, the client ambassador carries it when they do not. Every value computed here is the
same in both cases, so a consumer never has to change when its target moves (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Sequence
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

    @property
    def cross_host(self) -> bool:
        return self.consumer_host != self.target_host

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("services", self.consumer, "links", self.position)


def env_prefix(alias: str) -> str:
    """Docker's legacy-link variable prefix: upper case, `-` and `.` become `_`."""
    return alias.upper().replace("-", "_").replace(".", "_")


def link_environment(
    consumer_container: str, alias: str, target: Service, ports: Sequence[PortSpec] | None = None
) -> dict[str, str]:
    """The variables `docker run --link target:alias` used to set, with the alias as the
    address: a DNS name on the project network stays right when the container behind it
    (the target or its client ambassador) is re-created with another IP."""
    prefix = env_prefix(alias)
    env: dict[str, str] = {}
    if ports is None:
        ports = target.exposed_ports()
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


def published_port(target: Service, port: int) -> int:
    """The host port the server ambassador publishes an exposed port on."""
    return target.ambassador.publish.get(port, port)


def server_relays(target_name: str, target: Service) -> tuple[RelayPort, ...]:
    """Server ambassador: each exposed port, inside the container, on to the target by its
    service name on the target host's project network."""
    return tuple(
        RelayPort(listen_port=p.port, to_host=target_name, to_port=p.port, protocol=p.protocol)
        for p in target.exposed_ports()
    )


def server_ports(target: Service, address: str) -> tuple[PortBinding, ...]:
    """Published on the host's own address only: never on every interface of the host."""
    return tuple(
        PortBinding(
            container_port=p.port,
            protocol=p.protocol,
            host_port=published_port(target, p.port),
            host_ip=address,
        )
        for p in target.exposed_ports()
    )


def client_relays(target: Service, server_address: str) -> tuple[RelayPort, ...]:
    """Client ambassador: listens on the target's own port numbers (so the link variables
    are the same as for a local target) and relays to the server ambassador's host port."""
    return tuple(
        RelayPort(
            listen_port=p.port,
            to_host=server_address,
            to_port=published_port(target, p.port),
            protocol=p.protocol,
        )
        for p in target.exposed_ports()
    )

