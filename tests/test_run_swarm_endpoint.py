"""How `endpoint_mode: auto` becomes vip or dnsrr without asking a node where it need not."""

from __future__ import annotations

from collections.abc import Callable

from xcompose.config.project import Project
from xcompose.plan.swarm_converge import LiveService, LiveSwarm
from xcompose.plan.swarm_steps import LABEL_ENDPOINT_MODE
from xcompose.run.swarm_endpoint import known_mode, probed_mode

Load = Callable[..., Project]

TEXT = """\
name: shop
engine: swarm
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
services:
  db: {image: redis:7, host: h1}
  app: {image: redis:7, host: h2}
"""


def test_a_mode_the_file_names_is_taken_as_it_is(load_text: Load) -> None:
    project = load_text(TEXT.replace("engine: swarm\n", "engine: swarm\nswarm: {endpoint_mode: vip}\n"))
    assert known_mode(project, LiveSwarm()) == "vip"


def test_auto_keeps_the_mode_the_running_services_were_made_with(load_text: Load) -> None:
    live = LiveSwarm({"shop_db": LiveService("x", 1, {LABEL_ENDPOINT_MODE: "vip"})})
    assert known_mode(load_text(TEXT), live) == "vip"


def test_auto_needs_a_probe_before_the_project_runs(load_text: Load) -> None:
    assert known_mode(load_text(TEXT), LiveSwarm()) is None


def test_auto_is_dnsrr_with_a_note_when_no_node_could_be_asked(load_text: Load) -> None:
    mode, notes = probed_mode(load_text(TEXT), {}, "h1")
    assert mode == "dnsrr"
    assert notes == ["endpoint mode auto: dnsrr, since IPVS could not be checked on h1 (its engine is not reached), "
                     "h2 (its engine is not reached); set `swarm: {endpoint_mode: vip}` if every node carries it"]
