"""What the commands on running containers take from the file: hosts, services, start order."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xcompose.cli.scope import scope_of
from xcompose.config.project import Project
from xcompose.errors import XcomposeError
from xcompose.plan.steps import StepId

Load = Callable[..., Project]

# UDP reached across hosts: a swarm's overlay carries it, plain engines' ambassadors do not.
UDP_ACROSS = """\
name: shop
engine: {engine}
hosts:
  h1: {{address: 10.0.0.1}}
  h2: {{address: 10.0.0.2}}
services:
  dns: {{image: coredns:1, host: h1, expose: ["53/udp"]}}
  app: {{image: redis:7, host: h2, depends_on: [dns]}}
"""


def test_a_file_only_a_swarm_can_run_still_names_its_hosts_and_services(load_text: Load) -> None:
    scope = scope_of(load_text(UDP_ACROSS.format(engine="swarm")))
    assert scope.project == "shop"
    assert sorted(host.name for host in scope.hosts) == ["h1", "h2"]
    scope.check_services(["dns", "app"])


def test_the_same_file_on_plain_engines_is_refused_as_up_refuses_it(load_text: Load) -> None:
    with pytest.raises(XcomposeError, match="ambassadors encrypt TCP only"):
        scope_of(load_text(UDP_ACROSS.format(engine="docker")))


def test_a_service_the_file_lacks_is_a_usage_error(load_text: Load) -> None:
    scope = scope_of(load_text(UDP_ACROSS.format(engine="swarm")))
    with pytest.raises(XcomposeError, match="no such service: db"):
        scope.check_services(["app", "db"])


def test_services_rank_in_start_order_and_unknown_ones_last(load_text: Load) -> None:
    scope = scope_of(load_text(UDP_ACROSS.format(engine="swarm")))
    ranks = [scope.rank(StepId.service(name)) for name in ("dns", "app", "gone")]
    assert ranks[0] < ranks[1] < ranks[2] == scope.rank(None)
