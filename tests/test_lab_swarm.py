"""The lab swarm: reading `docker info` and `docker node inspect`, the command lines that
init, join and label, and no swarm listed where the manager's engine is silent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from xcompose.lab.swarm import (
    NODE_LABEL,
    init_argv,
    join_argv,
    label_argv,
    nodes,
    parse_local_swarm,
    parse_nodes,
)


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    docker_socket: str


H1 = Host("xsl1", "10.251.7.11", "unix:///run/x/xsl1/docker.sock")
H2 = Host("xsl2", "10.251.7.12", "unix:///run/x/xsl2/docker.sock")


def _node(node_id: str, role: str, state: str, label: str | None = None, leader: bool = False) -> dict[str, object]:
    node: dict[str, object] = {
        "ID": node_id,
        "Spec": {"Role": role, "Availability": "active", "Labels": {NODE_LABEL: label} if label else {}},
        "Status": {"State": state, "Addr": "10.251.7.11"},
        "Description": {"Hostname": "same-for-every-lab-node"},
    }
    if role == "manager":
        node["ManagerStatus"] = {"Leader": leader, "Addr": "10.251.7.11:2377"}
    return node


def test_an_engine_outside_any_swarm_reads_as_inactive() -> None:
    state = parse_local_swarm('{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false,'
                              '"RemoteManagers":null}')
    assert (state.state, state.node_id, state.is_manager, state.manager_addresses) == ("inactive", "", False, ())


def test_a_worker_knows_its_node_id_and_its_managers_addresses() -> None:
    state = parse_local_swarm(json.dumps({"NodeID": "w1", "LocalNodeState": "active", "ControlAvailable": False,
                                          "RemoteManagers": [{"NodeID": "m", "Addr": "10.251.7.11:2377"}]}))
    assert (state.state, state.node_id, state.is_manager) == ("active", "w1", False)
    assert state.manager_addresses == ("10.251.7.11:2377",)


def test_nodes_are_matched_to_lab_hosts_by_node_id_not_hostname() -> None:
    inspected = json.dumps([_node("n2", "worker", "ready", "xsl2"), _node("n1", "manager", "ready", "xsl1", True)])
    nodes = parse_nodes(inspected, {"n1": "xsl1", "n2": "xsl2"})
    assert [(n.host, n.role, n.leader, n.label) for n in nodes] == [
        ("xsl1", "manager", True, "xsl1"), ("xsl2", "worker", False, "xsl2")]


def test_a_node_of_no_lab_host_is_listed_last_with_a_question_mark() -> None:
    inspected = json.dumps([_node("zz", "worker", "down"), _node("n1", "manager", "ready", "xsl1")])
    nodes = parse_nodes(inspected, {"n1": "xsl1"})
    assert [(n.host, n.status, n.label) for n in nodes] == [("xsl1", "ready", "xsl1"), ("?", "down", None)]


def test_init_advertises_and_listens_on_the_managers_lab_address() -> None:
    assert init_argv(H1) == ["docker", "-H", H1.docker_socket, "swarm", "init", "--advertise-addr", H1.address,
                             "--listen-addr", f"{H1.address}:2377"]


def test_a_worker_joins_the_manager_advertising_its_own_address() -> None:
    argv = join_argv(H2, H1, "SWMTKN-1-abc")
    assert argv[:3] == ["docker", "-H", H2.docker_socket]
    assert argv[-1] == f"{H1.address}:2377"
    assert argv[argv.index("--advertise-addr") + 1] == H2.address
    assert argv[argv.index("--token") + 1] == "SWMTKN-1-abc"


def test_the_label_is_set_through_the_manager() -> None:
    assert label_argv(H1, "n2", "xsl2") == ["docker", "-H", H1.docker_socket, "node", "update", "--label-add",
                                            "io.xcompose.host=xsl2", "n2"]


def test_the_lab_labels_nodes_with_the_label_stack_files_pin_by() -> None:
    from xcompose.plan.naming import LABEL_HOST

    assert NODE_LABEL == LABEL_HOST


def test_no_swarm_is_listed_when_the_first_hosts_engine_does_not_answer(tmp_path: Path) -> None:
    silent = Host("xsl1", "10.251.7.11", f"unix://{tmp_path / 'absent.sock'}")
    assert nodes([silent]) == []
