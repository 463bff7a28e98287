"""`down` on a swarm against an in-memory manager."""

from __future__ import annotations

from collections.abc import Callable

from tests.swarmfakes import FakeManager, Notes
from xcompose.config.project import Project
from xcompose.errors import DockerError
from xcompose.plan.swarm import build_swarm_plan
from xcompose.plan.swarm_converge import LiveSwarm
from xcompose.run.swarm_down import down_swarm
from xcompose.run.swarm_up import SwarmUpOptions, up_swarm

Load = Callable[..., Project]

TEXT = """\
name: shop
engine: swarm
hosts:
  h1: {address: 10.0.0.1}
secrets:
  token: {environment: TOKEN}
services:
  db: {image: redis:7, host: h1, secrets: [token]}
"""


def swarm_with_the_project(load_text: Load) -> FakeManager:
    manager = FakeManager()
    up_swarm(manager, build_swarm_plan(load_text(TEXT, env={"TOKEN": "t"}), "dnsrr"), Notes(), SwarmUpOptions())
    manager.calls.clear()
    return manager


def test_down_removes_services_then_networks_and_secrets(load_text: Load) -> None:
    manager = swarm_with_the_project(load_text)
    result = down_swarm(manager, "shop", Notes())
    assert result.ok
    assert manager.calls[:2] == ["remove service shop_db", "remove network shop_default"]
    assert manager.calls[2].startswith("remove secret shop_token_")
    assert not manager.services and not manager.networks and not manager.objects


def test_a_network_still_in_use_is_retried_until_the_nodes_let_it_go(load_text: Load) -> None:
    manager = swarm_with_the_project(load_text)
    refusals = iter([True, True, False])
    remove = manager.remove_network

    def busy_at_first(name: str) -> None:
        if next(refusals):
            raise DockerError("network shop_default has active endpoints")
        remove(name)

    manager.remove_network = busy_at_first  # type: ignore[method-assign]
    result = down_swarm(manager, "shop", Notes(), clock=lambda: 0.0, sleep=lambda _s: None)
    assert result.ok and "network shop_default" in result.removed


def test_what_stays_in_use_past_the_settling_time_is_reported(load_text: Load) -> None:
    manager = swarm_with_the_project(load_text)

    def always_busy(name: str) -> None:
        raise DockerError("has active endpoints")

    manager.remove_network = always_busy  # type: ignore[method-assign]
    times = iter([0.0, 0.0, 100.0, 100.0, 100.0, 100.0])
    result = down_swarm(manager, "shop", Notes(), settle_s=10, clock=lambda: next(times), sleep=lambda _s: None)
    assert result.errors == ["network shop_default: has active endpoints"]


def test_down_waits_until_the_swarm_lists_a_removed_network_no_more(load_text: Load) -> None:
    manager = swarm_with_the_project(load_text)
    listed = manager.networks.copy()
    remove = manager.remove_network
    polls = iter([True, True, False, False])

    def gone_later(name: str) -> None:
        remove(name)
        manager.networks.update(listed)  # the manager still lists it for a while

    def read_live(project: str) -> LiveSwarm:
        if not next(polls, False):
            manager.networks.clear()
        return FakeManager.read_live(manager, project)

    manager.remove_network = gone_later  # type: ignore[method-assign]
    manager.read_live = read_live  # type: ignore[method-assign]
    naps: list[float] = []
    result = down_swarm(manager, "shop", Notes(), clock=lambda: 0.0, sleep=naps.append)
    assert result.ok and naps and not manager.networks
