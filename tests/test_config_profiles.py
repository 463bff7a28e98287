"""Profiles: services left out unless one of their profiles is active, as in Compose."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xcompose.config.profiles import active_profiles
from xcompose.config.project import Project

Load = Callable[..., Project]
Errors = Callable[..., list[str]]

FILE = """\
services:
  app:
    image: a
  debug:
    image: d
    profiles: [debug, all]
  test:
    image: t
    profiles: [test]
"""


def test_services_with_profiles_are_left_out_unless_one_is_active(load_text: Load) -> None:
    assert list(load_text(FILE).topology.services) == ["app"]
    assert list(load_text(FILE, profiles=["all"]).topology.services) == ["app", "debug"]
    assert list(load_text(FILE, profiles=["debug", "test"]).topology.services) == ["app", "debug", "test"]


def test_a_star_activates_every_profile(load_text: Load) -> None:
    assert list(load_text(FILE, profiles=["*"]).topology.services) == ["app", "debug", "test"]


def test_profiles_come_from_the_environment_when_none_are_given(load_text: Load) -> None:
    assert list(load_text(FILE, env={"COMPOSE_PROFILES": "test, debug"}).topology.services) == ["app", "debug", "test"]
    assert list(load_text(FILE, env={"XCOMPOSE_PROFILES": "test"}).topology.services) == ["app", "test"]


def test_xcompose_profiles_wins_over_compose_profiles_and_the_argument_over_both() -> None:
    env = {"XCOMPOSE_PROFILES": "a,b", "COMPOSE_PROFILES": "c"}
    assert active_profiles(None, env) == {"a", "b"}
    assert active_profiles(["d"], env) == {"d"}
    assert active_profiles([], {"COMPOSE_PROFILES": "c"}) == {"c"}
    assert active_profiles(None, {}) == frozenset()


def test_a_dotenv_file_may_set_the_profiles(load_text: Load, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("COMPOSE_PROFILES=test\n")
    assert list(load_text(FILE).topology.services) == ["app", "test"]


def test_a_left_out_service_is_not_validated(load_text: Load) -> None:
    text = FILE + "  broken:\n    profiles: [later]\n    build: .\n    links: [nowhere]\n    host: nohost\n"
    assert list(load_text(text).topology.services) == ["app"]


def test_a_link_to_a_left_out_service_is_an_error_that_names_its_profiles(load_errors: Errors) -> None:
    text = FILE + "  web:\n    image: w\n    links: [debug]\n"
    assert load_errors(text) == [
        "xcompose.yaml:12: services.web.links[0]: service 'debug' is left out: none of its profiles (debug, all) is active"
    ]


def test_a_required_dependency_on_a_left_out_service_is_an_error(load_errors: Errors) -> None:
    text = FILE + "  web:\n    image: w\n    depends_on: [test]\n"
    assert load_errors(text) == [
        "xcompose.yaml:12: services.web.depends_on[0]: service 'test' is left out: none of its profiles (test) is active"
    ]


def test_a_dependency_that_is_not_required_is_dropped_with_a_warning(load_text: Load) -> None:
    text = FILE + "  web:\n    image: w\n    depends_on:\n      test: {condition: service_healthy, required: false}\n"
    project = load_text(text)
    assert project.topology.services["web"].depends_on == {}
    assert project.warnings == [
        "xcompose.yaml:13: services.web.depends_on.test: service 'test' is left out: none of its profiles (test) "
        "is active; not required, so left out"
    ]


def test_a_dependency_that_is_not_required_may_name_no_service_at_all(load_text: Load) -> None:
    text = FILE + "  web:\n    image: w\n    depends_on:\n      tset: {required: false}\n"
    project = load_text(text)
    assert project.topology.services["web"].depends_on == {}
    assert project.warnings == [
        "xcompose.yaml:13: services.web.depends_on.tset: unknown service 'tset' (did you mean 'test'?); "
        "not required, so left out"
    ]


def test_an_active_dependency_that_is_not_required_stays(load_text: Load) -> None:
    text = FILE + "  web:\n    image: w\n    depends_on:\n      test: {required: false}\n"
    depends = load_text(text, profiles=["test"]).topology.services["web"].depends_on
    assert depends["test"].required is False


def test_profiles_must_be_a_list_of_names(load_errors: Errors) -> None:
    assert load_errors("services:\n  a:\n    image: a\n    profiles: debug\n") == [
        "xcompose.yaml:4: services.a.profiles: must be a list, not a string"
    ]


def test_a_placement_for_a_left_out_service_is_left_out_with_it(write_topology, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from xcompose.config.load import load_project

    write_topology(FILE, name="compose.yaml")
    write_topology("hosts:\n  h1: {}\n  h2: {}\nservices:\n  app: {host: h1}\n  debug: {host: h2}\n")
    monkeypatch.chdir(tmp_path)
    project = load_project(["compose.yaml", "xcompose.yaml"], environ={})
    assert list(project.topology.services) == ["app"]


@pytest.mark.parametrize("value", ["", " , "])
def test_empty_profile_lists_activate_nothing(value: str) -> None:
    assert active_profiles(None, {"COMPOSE_PROFILES": value}) == frozenset()


def test_the_project_knows_every_profile_its_services_name_active_or_not(load_text: Load) -> None:
    project = load_text("services:\n  a: {image: a, profiles: [debug]}\n  b: {image: b, profiles: [ops, debug]}\n"
                        "  c: {image: c}\n", profiles=["ops"])
    assert project.profiles == ["debug", "ops"] and sorted(project.topology.services) == ["b", "c"]
