"""Which node of the swarm is which host of the file, decided from what the manager says of
its nodes. Pure: engines/swarm.py reads the nodes and labels them as decided here.

A host is the node whose address (`docker node inspect`: Status.Addr, or the address a
manager is reached at) equals the host's `address`; the manager's own host is its node
whatever its address. Each such node is labelled `io.xcompose.host=HOST` (services are
pinned by that label), and the label is taken off a node that no longer is that host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from xcompose.plan.specs import HostTarget
from xcompose.plan.swarm_steps import NODE_LABEL


@dataclass(frozen=True)
class NodeFacts:
    """One node as `docker node inspect` describes it."""

    id: str
    version: int
    addresses: tuple[str, ...]  # Status.Addr and, for a manager, the host part of ManagerStatus.Addr
    labels: Mapping[str, str]
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    spec: Mapping[str, object] = field(default_factory=dict, repr=False)  # for an update


@dataclass(frozen=True)
class LabelChange:
    node: NodeFacts
    labels: Mapping[str, str]  # the node's labels after the change


@dataclass(frozen=True)
class NodeMatch:
    node_of: Mapping[str, str]  # host -> node id
    changes: tuple[LabelChange, ...]
    problems: tuple[str, ...]


def node_facts(data: Mapping[str, object]) -> NodeFacts:
    """A node as the Engine API returns it (GET /nodes)."""
    spec = _dict(data.get("Spec"))
    status = _dict(data.get("Status"))
    manager = _dict(data.get("ManagerStatus"))
    addresses = [str(status.get("Addr", ""))]
    if manager.get("Addr"):
        addresses.append(str(manager["Addr"]).rsplit(":", 1)[0])
    version = _dict(data.get("Version")).get("Index", 0)
    return NodeFacts(
        id=str(data.get("ID", "")), version=int(str(version)),
        addresses=tuple(a for a in dict.fromkeys(addresses) if a and a != "0.0.0.0"),
        labels={str(k): str(v) for k, v in _dict(spec.get("Labels")).items()},
        state=str(status.get("State", "unknown")), availability=str(spec.get("Availability", "active")),
        spec=spec,
    )


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def match_nodes(hosts: Mapping[str, HostTarget], manager: str, manager_node: str,
                nodes: Sequence[NodeFacts]) -> NodeMatch:
    """Each host's node, the label changes that make the nodes say so, and what stops the
    project from running there (a host with no node, a node down or drained)."""
    by_id = {node.id: node for node in nodes}
    node_of: dict[str, str] = {}
    problems: list[str] = []
    for host, target in hosts.items():
        if host == manager and manager_node in by_id:
            node_of[host] = manager_node
            continue
        found = [node for node in nodes if target.address and target.address in node.addresses]
        if not found:
            seen = ", ".join(sorted(a for node in nodes for a in node.addresses)) or "none"
            problems.append(f"host {host} ({target.address or 'no address'}) is no node of the swarm managed by "
                            f"{manager} (its nodes are at {seen}): run `docker swarm join` on it, or set its "
                            "`address:` to the one the swarm knows it by")
            continue
        node_of[host] = found[0].id
    for host, node_id in sorted(node_of.items()):
        node = by_id[node_id]
        if node.state != "ready":
            problems.append(f"host {host}: its swarm node {node.id[:12]} is {node.state}")
        elif node.availability != "active":
            problems.append(f"host {host}: its swarm node {node.id[:12]} is set to {node.availability}; "
                            "`docker node update --availability active` lets tasks run there")
    hosts_of: dict[str, list[str]] = {}
    for host, node_id in node_of.items():
        hosts_of.setdefault(node_id, []).append(host)
    for node_id, names in hosts_of.items():
        if len(names) > 1:
            problems.append(f"hosts {', '.join(sorted(names))} are one swarm node ({node_id[:12]}): give each "
                            "host its own node's address")
    changes = []
    for node in nodes:
        wanted = next((h for h, n in sorted(node_of.items()) if n == node.id), None)
        current = node.labels.get(NODE_LABEL)
        if current == wanted:
            continue
        if wanted is None and current not in hosts:
            continue  # another project's host name, or none of ours: not ours to take off
        labels = {k: v for k, v in node.labels.items() if k != NODE_LABEL}
        if wanted is not None:
            labels[NODE_LABEL] = wanted
        changes.append(LabelChange(node, labels))
    return NodeMatch(node_of, tuple(changes), tuple(problems))
