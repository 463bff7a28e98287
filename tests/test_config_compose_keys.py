"""Compose keys xcompose does not support are refused as such, keys only Swarm or dev
tooling read are ignored with a warning, and other unknown keys get a suggestion."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xcompose.config import compose_keys
from xcompose.config.declarations import NetworkDecl, VolumeDecl
from xcompose.config.model import Service, Topology
from xcompose.config.project import Project
from xcompose.config.service_keys import Healthcheck

Load = Callable[..., Project]
Errors = Callable[..., list[str]]


def test_a_compose_service_key_the_model_lacks_is_refused_as_not_supported(load_errors: Errors) -> None:
    text = "services:\n  app:\n    image: a\n    use_api_socket: true\n    gpus: all\n"
    assert load_errors(text) == [
        "xcompose.yaml:4: services.app.use_api_socket: xcompose does not support the Compose key 'use_api_socket' yet",
        "xcompose.yaml:5: services.app.gpus: xcompose does not support the Compose key 'gpus' yet",
    ]


@pytest.mark.parametrize(("text", "wanted"), [
    ("models:\n  m: {model: ai/smollm2}\nservices: {}\n", "xcompose.yaml:1: models: xcompose does not support the Compose key 'models' yet"),
    ("networks:\n  n: {enable_ipv4: false}\nservices: {}\n", "xcompose.yaml:2: networks.n.enable_ipv4: xcompose does not support the Compose key 'enable_ipv4' yet"),
    ("services:\n  a:\n    image: a\n    healthcheck: {start_interval: 1s}\n",
     "xcompose.yaml:4: services.a.healthcheck.start_interval: xcompose does not support the Compose key 'start_interval' yet"),
    ("services:\n  a:\n    image: a\n    volumes:\n      - {type: volume, source: v, target: /x, volume: {subpath: a}}\nvolumes: {v: {}}\n",
     "xcompose.yaml:5: services.a.volumes[0].volume.subpath: xcompose does not support the Compose key 'subpath' yet"),
    ("services:\n  a:\n    image: a\n    env_file:\n      - {path: a.env, format: raw}\n",
     "xcompose.yaml:5: services.a.env_file[0].format: xcompose does not support the Compose key 'format' yet"),
])
def test_compose_keys_are_refused_as_not_supported_at_every_level(load_errors: Errors, text: str, wanted: str) -> None:
    assert wanted in load_errors(text)


def test_a_key_compose_does_not_know_keeps_the_suggestion_from_xcomposes_words(load_errors: Errors) -> None:
    assert load_errors("services:\n  a:\n    image: a\n    hots: h\n") == [
        "xcompose.yaml:4: services.a.hots: unknown key 'hots' (did you mean 'host'?)"
    ]


def test_extension_keys_stay_allowed(load_text: Load) -> None:
    assert load_text("x-a: 1\nservices:\n  a: {image: a, x-b: 2}\n").topology.services["a"].image == "a"


def test_version_is_accepted_and_ignored_with_a_located_warning(load_text: Load) -> None:
    project = load_text("version: '3.8'\nservices:\n  a: {image: a}\n")
    assert project.warnings == ["xcompose.yaml:1: version: the Compose key 'version' is obsolete and ignored; it can be removed"]


def test_a_numeric_version_is_ignored_too(load_text: Load) -> None:
    assert load_text("version: 3.8\nservices:\n  a: {image: a}\n").warnings[0].startswith("xcompose.yaml:1: version:")


def test_deploy_and_develop_are_ignored_with_a_located_warning(load_text: Load) -> None:
    text = """\
    services:
      a:
        image: a
        deploy:
          replicas: 1
          restart_policy: {condition: on-failure}
        develop:
          watch: [{path: ., action: rebuild}]
    """
    project = load_text(text)
    assert project.warnings == [
        "xcompose.yaml:4: services.a.deploy: ignored: xcompose does not use the Swarm settings under 'deploy' "
        "(restart_policy)",
        "xcompose.yaml:7: services.a.develop: ignored: 'develop' configures development tooling (compose watch), "
        "which xcompose does not run",
    ]


def test_deploy_replicas_and_resources_are_read_not_ignored(load_text: Load) -> None:
    project = load_text("services:\n  a:\n    image: a\n    deploy:\n      replicas: 3\n"
                        "      resources: {limits: {memory: 1G}}\n")
    assert project.warnings == []
    assert project.topology.services["a"].replicas() == 3


def test_an_unknown_key_under_deploy_suggests_a_compose_one(load_errors: Errors) -> None:
    assert load_errors("services:\n  a:\n    image: a\n    deploy:\n      replica: 2\n") == [
        "xcompose.yaml:5: services.a.deploy.replica: unknown key 'replica' (did you mean 'replicas'?)"
    ]


@pytest.mark.parametrize(("model", "keys"), [
    (Topology, compose_keys.TOP_LEVEL), (Service, compose_keys.SERVICE), (NetworkDecl, compose_keys.NETWORK),
    (VolumeDecl, compose_keys.VOLUME), (Healthcheck, compose_keys.HEALTHCHECK),
])
def test_the_models_use_compose_words_for_compose_things(model: type, keys: frozenset[str]) -> None:
    """Every field that is not one of xcompose's own words is a Compose key of that place."""
    own = {"hosts", "ambassador", "host", "engine", "swarm"}
    assert set(model.model_fields) - own <= keys


def test_attach_is_accepted_since_up_never_follows_logs(load_text: Load) -> None:
    project = load_text("services:\n  a:\n    image: a\n    attach: false\n")
    assert project.warnings == [] and project.topology.services["a"].attach is False


def test_scale_zero_is_refused_with_what_to_do_instead(load_errors: Errors) -> None:
    assert load_errors("services:\n  a:\n    image: a\n    scale: 0\n") == [
        "xcompose.yaml:4: services.a.scale: 0: xcompose runs at least one container of a service "
        "(to leave a service out, give it a profile)"
    ]
