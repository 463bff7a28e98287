"""Which swarm node is which host: matched by address, labelled io.xcompose.host."""

from __future__ import annotations

from xcompose.plan.specs import HostTarget
from xcompose.plan.swarm_nodes import NodeFacts, match_nodes, node_facts

HOSTS = {"h1": HostTarget("h1", "10.0.0.1", None), "h2": HostTarget("h2", "10.0.0.2", None)}


def node(node_id: str, address: str, labels: dict[str, str] | None = None, state: str = "ready",
         availability: str = "active") -> NodeFacts:
    return NodeFacts(node_id, 7, (address,), labels or {}, state, availability)


def test_a_node_is_read_from_the_engine_api_answer() -> None:
    facts = node_facts({"ID": "n1", "Version": {"Index": 12}, "Spec": {"Labels": {"a": "b"}, "Availability": "active"},
                        "Status": {"State": "ready", "Addr": "0.0.0.0"},
                        "ManagerStatus": {"Addr": "10.0.0.1:2377"}})
    assert (facts.id, facts.version, facts.addresses, facts.labels) == ("n1", 12, ("10.0.0.1",), {"a": "b"})


def test_hosts_are_the_nodes_with_their_addresses_and_get_labelled() -> None:
    match = match_nodes(HOSTS, "h1", "n1", [node("n1", "10.0.0.1"), node("n2", "10.0.0.2")])
    assert match.node_of == {"h1": "n1", "h2": "n2"} and not match.problems
    assert {c.node.id: dict(c.labels) for c in match.changes} == {
        "n1": {"io.xcompose.host": "h1"}, "n2": {"io.xcompose.host": "h2"}}


def test_nodes_labelled_already_are_left_alone() -> None:
    nodes = [node("n1", "10.0.0.1", {"io.xcompose.host": "h1"}), node("n2", "10.0.0.2", {"io.xcompose.host": "h2"})]
    assert match_nodes(HOSTS, "h1", "n1", nodes).changes == ()


def test_the_managers_host_is_its_own_node_whatever_its_address() -> None:
    match = match_nodes(HOSTS, "h1", "n1", [node("n1", "192.168.9.9"), node("n2", "10.0.0.2")])
    assert match.node_of["h1"] == "n1" and not match.problems


def test_a_host_that_is_no_node_is_a_problem_that_says_how_to_join() -> None:
    match = match_nodes(HOSTS, "h1", "n1", [node("n1", "10.0.0.1")])
    assert len(match.problems) == 1
    assert match.problems[0].startswith("host h2 (10.0.0.2) is no node of the swarm managed by h1")
    assert "docker swarm join" in match.problems[0]


def test_a_drained_node_is_a_problem() -> None:
    match = match_nodes(HOSTS, "h1", "n1", [node("n1", "10.0.0.1"), node("n2", "10.0.0.2", availability="drain")])
    assert match.problems == ("host h2: its swarm node n2 is set to drain; `docker node update --availability "
                              "active` lets tasks run there",)


def test_a_stale_label_for_one_of_our_hosts_is_taken_off_another_node() -> None:
    nodes = [node("n1", "10.0.0.1"), node("n2", "10.0.0.2"), node("n3", "10.0.0.3", {"io.xcompose.host": "h2", "x": "y"})]
    changes = {c.node.id: dict(c.labels) for c in match_nodes(HOSTS, "h1", "n1", nodes).changes}
    assert changes["n3"] == {"x": "y"}


def test_a_label_naming_no_host_of_ours_is_not_touched() -> None:
    nodes = [node("n1", "10.0.0.1"), node("n2", "10.0.0.2"), node("n3", "10.0.0.3", {"io.xcompose.host": "other"})]
    assert "n3" not in {c.node.id for c in match_nodes(HOSTS, "h1", "n1", nodes).changes}
