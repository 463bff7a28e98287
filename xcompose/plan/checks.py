"""The planner's whole-topology checks: dependency cycles, the names on each network of
each host, the container names and the host ports on each host.

Each check returns (or collects) located errors instead of raising, so that the planner
reports every problem of a file at once.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from xcompose.config.location import KeyPath, format_key_path
from xcompose.config.project import Project
from xcompose.config.syntax import PortPublish, PortSpec
from xcompose.errors import ConfigError
from xcompose.plan.wiring import Wire

_ANY_ADDRESS = {None, "", "0.0.0.0", "::"}


def check_cycles(
    project: Project,
    wires: Mapping[str, Sequence[Wire]],
    depends: Iterable[tuple[str, str, KeyPath]],
) -> list[ConfigError]:
    """One error per loop of services, printed as `a -> b -> c -> a` (a needs b ...).

    Whether there is a loop at all is found by taking away, again and again, the services
    that need nothing left (linear, and networkx is not even imported for a file without a
    loop). If some remain, strongly connected components find every loop; only the (rare)
    loops themselves are then walked to print one cycle each."""
    needs: dict[str, dict[str, KeyPath]] = defaultdict(dict)  # consumer -> target -> where it says so
    found: list[tuple[str, str, KeyPath]] = []  # the same, in the order found: the order loops are told in
    for consumer, target, path in [*((c, w.target, w.path) for c, ws in wires.items() for w in ws),
                                   *((c, b, path) for b, c, path in depends)]:
        if target not in needs[consumer]:
            needs[consumer][target] = path
            found.append((consumer, target, path))
    if not _loops(needs):
        return []
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_edges_from((consumer, target, {"path": path}) for consumer, target, path in found)
    errors = []
    for component in nx.strongly_connected_components(graph):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        edges = nx.find_cycle(graph.subgraph(component), source=start)
        loop = [u for u, _ in edges]
        first = loop.index(min(loop))  # start at the smallest name: stable output
        loop = loop[first:] + loop[:first]
        path = graph.edges[loop[0], loop[1 % len(loop)]]["path"]
        text = " -> ".join([*loop, loop[0]])
        errors.append(project.error(path, f"dependency cycle: {text} (links and depends_on must not loop)"))
    return errors


def _loops(needs: Mapping[str, Mapping[str, KeyPath]]) -> bool:
    """Whether some services need each other in a loop."""
    waiting = {consumer: len(targets) for consumer, targets in needs.items()}
    needed_by: dict[str, list[str]] = defaultdict(list)
    for consumer, targets in needs.items():
        for target in targets:
            needed_by[target].append(consumer)
    free = [target for target in needed_by if not waiting.get(target)]
    while free:
        for consumer in needed_by.get(free.pop(), ()):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                free.append(consumer)
    return any(waiting.values())


class NameClaims:
    """The names on each network of each host: one name must lead to one service only.

    On a host, a service answers to its own name and its aliases on each network it joins;
    a client ambassador answers there for its target's names."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.errors: list[ConfigError] = []
        self._owner: dict[tuple[str, str, str], tuple[str, str]] = {}  # (host, network, name) -> (service, why)

    def claim(self, host: str, network: str, name: str, service: str, why: str, path: KeyPath) -> None:
        found = self._owner.setdefault((host, network, name), (service, why))
        if found[0] != service:
            self.errors.append(self.project.error(
                path, f"'{name}' on network {network} of host {host} would name both '{service}' and "
                      f"'{found[0]}' ({found[1]}); use another alias"))


class ContainerNames:
    """The container names on each host: Docker holds one container per name, so a
    `container_name` may not repeat on a host, nor take the name xcompose gives another
    container there. The error points at the `container_name` that makes the clash."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.errors: list[ConfigError] = []
        self._owner: dict[tuple[str, str], tuple[str, KeyPath | None]] = {}  # (host, name) -> (owner, path)

    def claim(self, host: str, name: str, owner: str, path: KeyPath | None = None) -> None:
        """`path`: the service's `container_name` key when it sets one, else its entry."""
        first = self._owner.setdefault((host, name), (owner, path))
        if first[0] == owner:
            return
        chosen = path if path and path[-1] == "container_name" else first[1] or path
        assert chosen is not None, "ambassadors never clash with each other"
        self.errors.append(self.project.error(
            chosen, f"container name '{name}' on host {host} is taken by both {first[0]} and {owner}; "
                    "container names must be unique on a host"))


@dataclass(frozen=True)
class _Claim:
    host_ip: str | None
    owner: str  # how the error names it
    ambassador_of: str | None  # the target, when the claim is a server ambassador's


def _overlap(a: str | None, b: str | None) -> bool:
    return a in _ANY_ADDRESS or b in _ANY_ADDRESS or a == b


# Where a server ambassador's port goes when its own number is taken on the host.
AUTO_PORTS = range(20000, 60000)


def _candidates(target: str, port: PortSpec) -> Iterator[int]:
    yield port.port
    start = zlib.crc32(f"{target}/{port.port}/{port.protocol}".encode()) % len(AUTO_PORTS)
    for step in range(len(AUTO_PORTS)):
        yield AUTO_PORTS[(start + step) % len(AUTO_PORTS)]


class PortClaims:
    """Host ports published on each host, by `ports:` and by server ambassadors.

    A service's `ports:` and an ambassador's `ambassador.publish` are the user's choice: a
    clash between them is an error. Otherwise a server ambassador publishes each port under
    its own number, or, when that is taken on the host, under a number derived from the
    target's name and port (stable from run to run): the consumers' ambassadors are told,
    nobody else uses it."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.errors: list[ConfigError] = []
        self._claims: dict[tuple[str, int, str], list[_Claim]] = defaultdict(list)

    def claim_service_port(self, host: str, service: str, index: int, port: PortPublish) -> None:
        path: KeyPath = ("services", service, "ports", index)
        claim = _Claim(port.host_ip, format_key_path(path), None)
        for host_port in port.host_ports():  # none when Docker picks; each of a range
            self._claim(host, host_port, port.protocol, claim, path)

    def claim_chosen_ambassador_port(self, host: str, address: str, target: str, port: PortSpec, host_port: int,
                                     owner: str | None = None) -> int:
        """`ambassador.publish` of the target: exactly this port, or an error. `owner` says
        what publishes it (the server ambassador unless told)."""
        path: KeyPath = ("services", target, "ambassador", "publish", str(port.port))
        claim = _Claim(address, owner or f"the server ambassador of '{target}'", target)
        self._claim(host, host_port, port.protocol, claim, path)
        return host_port

    def claim_ambassador_port(self, host: str, address: str, target: str, port: PortSpec,
                              owner: str | None = None) -> int:
        """The port's own number if free on the host, else a stable number that is."""
        claim = _Claim(address, owner or f"the server ambassador of '{target}'", target)
        for host_port in _candidates(target, port):
            taken = self._claims[(host, host_port, port.protocol)]
            if not any(_overlap(c.host_ip, address) for c in taken):
                taken.append(claim)
                return host_port
        raise AssertionError("40,000 ports taken on one host")  # pragma: no cover

    def _claim(self, host: str, host_port: int, protocol: str, claim: _Claim, path: KeyPath) -> None:
        taken = self._claims[(host, host_port, protocol)]
        clash = next((c for c in taken if _overlap(c.host_ip, claim.host_ip)), None)
        taken.append(claim)
        if clash is not None:
            self.errors.append(self.project.error(
                path, f"host {host}: port {host_port}/{protocol} is already published by {clash.owner}"))
