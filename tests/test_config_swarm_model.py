"""The `engine:` and `swarm:` keys of the file."""

from __future__ import annotations

from collections.abc import Callable

from xcompose.config.project import Project

Load = Callable[..., Project]
Errors = Callable[..., list[str]]

HOSTS = """\
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
services:
  a: {image: redis:7, host: h1}
"""


def test_the_engine_is_docker_unless_the_file_says_swarm(load_text: Load) -> None:
    topology = load_text(HOSTS).topology
    assert topology.engine == "docker"
    assert (topology.swarm.manager, topology.swarm.encrypted, topology.swarm.endpoint_mode) == (None, True, "auto")


def test_swarm_settings_are_read(load_text: Load) -> None:
    text = "engine: swarm\nswarm: {manager: h2, encrypted: false, endpoint_mode: dnsrr}\n" + HOSTS
    topology = load_text(text).topology
    assert topology.engine == "swarm"
    assert (topology.swarm.manager, topology.swarm.encrypted, topology.swarm.endpoint_mode) == ("h2", False, "dnsrr")


def test_an_unknown_engine_is_a_located_error(load_errors: Errors) -> None:
    assert load_errors("engine: kubernetes\n" + HOSTS) == [
        "xcompose.yaml:1: engine: must be one of 'docker' or 'swarm' (got 'kubernetes')"]


def test_a_bad_endpoint_mode_is_a_located_error(load_errors: Errors) -> None:
    assert load_errors("swarm:\n  endpoint_mode: ipvs\n" + HOSTS) == [
        "xcompose.yaml:2: swarm.endpoint_mode: must be one of 'vip', 'dnsrr' or 'auto' (got 'ipvs')"]


def test_encrypted_must_be_a_boolean(load_errors: Errors) -> None:
    assert load_errors("swarm: {encrypted: maybe}\n" + HOSTS) == [
        "xcompose.yaml:1: swarm.encrypted: must be true or false, not a string"]


def test_a_manager_that_is_no_host_is_a_located_error(load_errors: Errors) -> None:
    assert load_errors("swarm:\n  manager: h3\n" + HOSTS) == [
        "xcompose.yaml:2: swarm.manager: unknown host 'h3'"]


def test_an_unknown_swarm_key_is_refused(load_errors: Errors) -> None:
    errors = load_errors("swarm: {managers: h1}\n" + HOSTS)
    assert len(errors) == 1 and errors[0].startswith("xcompose.yaml:1: swarm.managers:")
