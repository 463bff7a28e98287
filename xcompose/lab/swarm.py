"""A Docker Swarm of the lab's hosts: the first host initialises it and is its only manager,
the others join as workers, and every node carries the label `io.xcompose.host=NAME`, NAME
being the lab host's name (as `lab env` prints it).

One manager: a lab swarm is for rehearsing placement and overlay networking, and a single
Raft member keeps its start quick and its CPU use low on a small machine. Nodes are told
apart by that label: every lab node reports this machine's hostname, so `node.hostname`
cannot pin a service.

Parsing and command lines are pure (unit-tested); `form`, `dissolve` and `nodes` run the
docker CLI against each host's own socket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import LabError
from .sysutil import run

# xcompose's host label (plan/naming.py's LABEL_HOST), spelled here again: the lab imports
# nothing of xcompose's planning.
NODE_LABEL = "io.xcompose.host"
MANAGER_PORT = 2377  # Swarm's cluster management port; 7946 (gossip) and 4789 (VXLAN) follow
READY_TIMEOUT = 60.0  # a worker is Ready within a few seconds of joining; 60 s on a loaded machine


class SwarmHost(Protocol):
    """What the swarm needs of a lab host (a LabHost satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def docker_socket(self) -> str: ...


@dataclass(frozen=True)
class LocalSwarm:
    """One engine's own view of its swarm membership (`docker info`'s `.Swarm`)."""

    state: str  # inactive | pending | active | error | locked
    node_id: str
    is_manager: bool
    manager_addresses: tuple[str, ...]  # "ADDR:2377" of the managers it knows


@dataclass(frozen=True)
class SwarmNode:
    """A node as the manager lists it, matched to the lab host whose engine it is."""

    host: str  # the lab host's name, or "?" for a node of no lab host
    node_id: str
    role: str  # manager | worker
    status: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    leader: bool
    label: str | None  # the node's io.xcompose.host label


def parse_local_swarm(info_json: str) -> LocalSwarm:
    """`docker info --format '{{json .Swarm}}'` -> LocalSwarm."""
    data = json.loads(info_json or "{}") or {}
    remotes = data.get("RemoteManagers") or []
    return LocalSwarm(
        state=str(data.get("LocalNodeState") or "inactive"),
        node_id=str(data.get("NodeID") or ""),
        is_manager=bool(data.get("ControlAvailable")),
        manager_addresses=tuple(str(r.get("Addr", "")) for r in remotes),
    )


def parse_nodes(inspect_json: str, host_by_node_id: Mapping[str, str]) -> list[SwarmNode]:
    """`docker node inspect ID…` -> the nodes, in the lab's host order where known."""
    nodes: list[SwarmNode] = []
    for item in json.loads(inspect_json or "[]") or []:
        spec, status = item.get("Spec") or {}, item.get("Status") or {}
        nodes.append(SwarmNode(
            host=host_by_node_id.get(item.get("ID", ""), "?"),
            node_id=str(item.get("ID", "")),
            role=str(spec.get("Role", "?")),
            status=str(status.get("State", "unknown")),
            availability=str(spec.get("Availability", "?")),
            leader=bool((item.get("ManagerStatus") or {}).get("Leader")),
            label=(spec.get("Labels") or {}).get(NODE_LABEL),
        ))
    order = list(host_by_node_id.values())
    nodes.sort(key=lambda n: (order.index(n.host) if n.host in order else len(order), n.node_id))
    return nodes


def init_argv(manager: SwarmHost) -> list[str]:
    # The lab hosts have one interface each, but the address is given all the same: a
    # swarm must never advertise an address other nodes cannot reach.
    return _docker(manager, "swarm", "init", "--advertise-addr", manager.address,
                   "--listen-addr", f"{manager.address}:{MANAGER_PORT}")


def join_argv(worker: SwarmHost, manager: SwarmHost, token: str) -> list[str]:
    return _docker(worker, "swarm", "join", "--token", token, "--advertise-addr", worker.address,
                   "--listen-addr", f"{worker.address}:{MANAGER_PORT}", f"{manager.address}:{MANAGER_PORT}")


def label_argv(manager: SwarmHost, node_id: str, host_name: str) -> list[str]:
    return _docker(manager, "node", "update", "--label-add", f"{NODE_LABEL}={host_name}", node_id)


def _docker(host: SwarmHost, *args: str) -> list[str]:
    return ["docker", "-H", host.docker_socket, *args]


# --- acting on the hosts ---------------------------------------------------------------


def local_swarm(host: SwarmHost) -> LocalSwarm:
    proc = run(_docker(host, "info", "--format", "{{json .Swarm}}"), f"read swarm state of {host.name}",
               timeout=30)
    return parse_local_swarm(proc.stdout.decode())


def form(hosts: Sequence[SwarmHost], progress: Callable[[str], None] = lambda _m: None) -> list[SwarmNode]:
    """Make the hosts one swarm (manager: the first), label every node, wait until all are
    ready. Safe to repeat: a host already in this swarm is left as it is."""
    if not hosts:
        raise LabError("a swarm needs at least one host")
    manager, workers = hosts[0], hosts[1:]
    here = local_swarm(manager)
    if here.state == "inactive":
        progress(f"swarm init on {manager.name} ({manager.address})")
        run(init_argv(manager), f"swarm init on {manager.name}", timeout=60)
    elif not here.is_manager:
        raise LabError(f"{manager.name} is already a worker of another swarm: run `xcompose lab down` first")
    token = run(_docker(manager, "swarm", "join-token", "-q", "worker"), "read the join token").stdout.decode().strip()
    manager_addr = f"{manager.address}:{MANAGER_PORT}"
    for worker in workers:
        there = local_swarm(worker)
        if there.state == "active" and manager_addr in there.manager_addresses:
            continue
        if there.state != "inactive":
            raise LabError(f"{worker.name} is already in another swarm ({there.state}): run `xcompose lab down` first")
        progress(f"swarm join {worker.name} ({worker.address}) as a worker")
        run(join_argv(worker, manager, token), f"swarm join of {worker.name}", timeout=60)
    ids = _node_ids(hosts)
    for host in hosts:
        run(label_argv(manager, ids[host.name], host.name), f"label the node of {host.name}")
    return _wait_ready(manager, ids, time.monotonic() + READY_TIMEOUT)


def nodes(hosts: Sequence[SwarmHost]) -> list[SwarmNode]:
    """The swarm's nodes as its manager (the first host) lists them; empty without a swarm,
    or when the first host's engine does not answer (`lab status` shows that host dead)."""
    try:
        if not hosts or not local_swarm(hosts[0]).is_manager:
            return []
    except LabError:
        return []
    ids = _node_ids(hosts)
    listed = run(_docker(hosts[0], "node", "ls", "-q"), "list swarm nodes").stdout.decode().split()
    inspected = run(_docker(hosts[0], "node", "inspect", *listed), "inspect swarm nodes").stdout.decode()
    return parse_nodes(inspected, {node_id: name for name, node_id in ids.items() if node_id})


def dissolve(hosts: Sequence[SwarmHost]) -> None:
    """Every host leaves its swarm, workers first (the manager's services and networks go
    with it). Hosts in no swarm are left as they are."""
    for host in reversed(hosts):
        if local_swarm(host).state != "inactive":
            run(_docker(host, "swarm", "leave", "--force"), f"swarm leave of {host.name}", timeout=60)
            # The bridge Swarm made for its tasks' outside traffic outlives the swarm.
            run(_docker(host, "network", "rm", "docker_gwbridge"), "remove docker_gwbridge", check=False)


def _node_ids(hosts: Sequence[SwarmHost]) -> dict[str, str]:
    return {host.name: local_swarm(host).node_id for host in hosts}


def _wait_ready(manager: SwarmHost, ids: Mapping[str, str], deadline: float) -> list[SwarmNode]:
    by_id = {node_id: name for name, node_id in ids.items()}
    while True:
        inspected = run(_docker(manager, "node", "inspect", *ids.values()), "inspect swarm nodes").stdout.decode()
        found = parse_nodes(inspected, by_id)
        waiting = [n.host for n in found if n.status != "ready"]
        if not waiting:
            return found
        if time.monotonic() > deadline:
            raise LabError(f"swarm nodes not ready after {READY_TIMEOUT:.0f}s: {', '.join(waiting)}")
        time.sleep(0.5)
