"""The planner's whole-topology checks: dependency cycles, DNS names on each host's
project network, and host ports published twice on one host.

Each check returns (or collects) located errors instead of raising, so that the planner
reports every problem of a file at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from xcompose.config.location import KeyPath, format_key_path
from xcompose.config.model import Service
from xcompose.config.project import Project
from xcompose.config.syntax import PortPublish, PortSpec
from xcompose.errors import ConfigError
from xcompose.plan.wiring import Wire, published_port

_ANY_ADDRESS = {None, "", "0.0.0.0", "::"}


def check_cycles(
    project: Project,
    wires: Mapping[str, Sequence[Wire]],
    depends: Iterable[tuple[str, str, KeyPath]],
) -> list[ConfigError]:
    """One error per loop of services, printed as `a -> b -> c -> a` (a needs b ...).

    Strongly connected components find every loop in linear time; only the (rare) loops
    themselves are then walked to print one cycle each."""
    needs: nx.DiGraph[str] = nx.DiGraph()
    for consumer, consumer_wires in wires.items():
        for wire in consumer_wires:
            if not needs.has_edge(consumer, wire.target):
                needs.add_edge(consumer, wire.target, path=wire.path)
    for before, consumer, path in depends:
        if not needs.has_edge(consumer, before):
            needs.add_edge(consumer, before, path=path)
    errors = []
    for component in nx.strongly_connected_components(needs):
        start = min(component)
        if len(component) == 1 and not needs.has_edge(start, start):
            continue
        edges = nx.find_cycle(needs.subgraph(component), source=start)
        loop = [u for u, _ in edges]
        first = loop.index(min(loop))  # start at the smallest name: stable output
        loop = loop[first:] + loop[:first]
        path = needs.edges[loop[0], loop[1 % len(loop)]]["path"]
        text = " -> ".join([*loop, loop[0]])
        errors.append(project.error(path, f"dependency cycle: {text} (links and depends_on must not loop)"))
    return errors


def check_names(
    project: Project, host_of: Mapping[str, str], wires: Mapping[str, Sequence[Wire]]
) -> list[ConfigError]:
    """A name on one host's project network must lead to one service only.

    On a host, each service's own name leads to it; a link alias leads to its target (on
    the target container or on the client ambassador); a client ambassador also carries its
    target's service name."""
    owner: dict[tuple[str, str], tuple[str, str]] = {}  # (host, name) -> (service, why)
    for service, host in host_of.items():
        owner[(host, service)] = (service, f"service '{service}' runs on that host")
    errors = []
    for consumer_wires in wires.values():
        for wire in consumer_wires:
            names = [wire.alias]
            if wire.cross_host:
                names.append(wire.target)
            why = f"services.{wire.consumer}.links[{wire.position}] uses it for '{wire.target}'"
            for name in names:
                key = (wire.consumer_host, name)
                found = owner.setdefault(key, (wire.target, why))
                if found[0] != wire.target:
                    errors.append(
                        project.error(
                            wire.path,
                            f"'{name}' on host {wire.consumer_host} would name both "
                            f"'{wire.target}' and '{found[0]}' ({found[1]}); use another alias",
                        )
                    )
    return errors


@dataclass(frozen=True)
class _Claim:
    host_ip: str | None
    owner: str  # how the error names it
    ambassador_of: str | None  # the target, when the claim is a server ambassador's


def _overlap(a: str | None, b: str | None) -> bool:
    return a in _ANY_ADDRESS or b in _ANY_ADDRESS or a == b


class PortClaims:
    """Host ports published on each host, by `ports:` and by server ambassadors."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.errors: list[ConfigError] = []
        self._claims: dict[tuple[str, int, str], list[_Claim]] = defaultdict(list)

    def claim_service_port(self, host: str, service: str, index: int, port: PortPublish) -> None:
        if port.published is None:
            return  # Docker picks a free port
        path: KeyPath = ("services", service, "ports", index)
        claim = _Claim(port.host_ip, format_key_path(path), None)
        self._claim(host, port.published, port.protocol, claim, path, None)

    def claim_ambassador_port(
        self, host: str, address: str, target: str, service: Service, port: PortSpec
    ) -> None:
        host_port = published_port(service, port.port)
        if port.port in service.ambassador.publish:
            path: KeyPath = ("services", target, "ambassador", "publish", port.port)
        else:
            path = ("services", target, "expose", service.expose_index(port))
        claim = _Claim(address, f"the server ambassador of '{target}'", target)
        self._claim(host, host_port, port.protocol, claim, path, port.port)

    def _claim(
        self, host: str, host_port: int, protocol: str, claim: _Claim, path: KeyPath, exposed: int | None
    ) -> None:
        taken = self._claims[(host, host_port, protocol)]
        clash = next((c for c in taken if _overlap(c.host_ip, claim.host_ip)), None)
        taken.append(claim)
        if clash is None:
            return
        where = f"host {host}: port {host_port}/{protocol}"
        ambassador = claim.ambassador_of or clash.ambassador_of
        if ambassador is None:
            message = f"{where} is already published by {clash.owner}"
        else:
            message = (
                f"{where} would be published by both {clash.owner} and {claim.owner}; give "
                f"the ambassador another host port with `services.{ambassador}.ambassador.publish"
                f": {{{exposed if claim.ambassador_of else '<exposed port>'}: OTHER_PORT}}`"
            )
        self.errors.append(self.project.error(path, message))
