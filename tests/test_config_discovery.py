"""Which files make the project and which variables it reads, as Compose finds them: the
user runs `xcompose up` in the project's folder (or below it) with no -f at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import WriteFile
from xcompose.config.load import load_project

COMPOSE = "services:\n  web: {image: nginx}\n"


def test_compose_yaml_its_override_and_the_placement_file_are_merged_in_that_order(write_file: WriteFile) -> None:
    write_file("compose.yaml", COMPOSE)
    write_file("compose.override.yaml", "services:\n  web: {environment: {DEBUG: '1'}}\n")
    write_file("xcompose.yaml", "hosts:\n  vm1: {address: 10.0.0.1}\nservices:\n  web: {host: vm1}\n")
    project = load_project([], environ={})
    assert [p.name for p in project.files] == ["compose.yaml", "compose.override.yaml", "xcompose.yaml"]
    web = project.topology.services["web"]
    assert (web.image, web.environment, web.host) == ("nginx", {"DEBUG": "1"}, "vm1")


@pytest.mark.parametrize("names", [("compose.yaml", "docker-compose.yml"), ("compose.yml", "docker-compose.yaml")])
def test_compose_yaml_is_preferred_to_the_older_names(write_file: WriteFile, names: tuple[str, str]) -> None:
    write_file(names[0], COMPOSE)
    write_file(names[1], "services:\n  other: {image: x}\n")
    assert [p.name for p in load_project([], environ={}).files] == [names[0]]


def test_the_project_is_found_in_a_folder_above_and_named_after_it(
    write_file: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_file("shop/docker-compose.yml", COMPOSE)
    (tmp_path / "shop" / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shop" / "src" / "deep")
    project = load_project([], environ={})
    assert project.name == "shop" and project.working_dir == tmp_path / "shop"


def test_a_placement_file_alone_is_the_project(write_file: WriteFile) -> None:
    write_file("xcompose.yml", COMPOSE)
    assert [p.name for p in load_project([], environ={}).files] == ["xcompose.yml"]


def test_compose_file_names_the_files_with_its_separator_from_env_or_dotenv(write_file: WriteFile) -> None:
    write_file("a.yaml", COMPOSE)
    write_file("b.yaml", "services:\n  web: {environment: {B: '1'}}\n")
    project = load_project([], environ={"COMPOSE_FILE": "a.yaml,b.yaml", "COMPOSE_PATH_SEPARATOR": ","})
    assert [p.name for p in project.files] == ["a.yaml", "b.yaml"]
    write_file(".env", "COMPOSE_FILE=b.yaml:a.yaml\nCOMPOSE_PROJECT_NAME=fromdotenv\n")
    project = load_project([], environ={})
    assert [p.name for p in project.files] == ["b.yaml", "a.yaml"] and project.name == "fromdotenv"
    assert [p.name for p in load_project([], environ={"XCOMPOSE_FILE": "a.yaml"}).files] == ["a.yaml"]


def test_env_files_replace_dotenv_and_the_environment_wins_over_both(write_file: WriteFile) -> None:
    write_file("compose.yaml", "services:\n  web: {image: 'nginx:${TAG}', environment: {WHO: '${WHO}'}}\n")
    write_file(".env", "TAG=dotenv\nWHO=dotenv\n")
    write_file("prod.env", "TAG=prod\nWHO=prod\n")
    write_file("more.env", "WHO=more-${TAG}\n")
    web = load_project([], environ={}, env_files=["prod.env", "more.env"]).topology.services["web"]
    assert (web.image, web.environment["WHO"]) == ("nginx:prod", "more-prod")
    web = load_project([], environ={"TAG": "shell"}).topology.services["web"]
    assert web.image == "nginx:shell"


def test_the_project_directory_is_where_relative_paths_and_dotenv_are_read(
    write_file: WriteFile, tmp_path: Path
) -> None:
    write_file("files/compose.yaml", "services:\n  web: {image: 'nginx:${TAG}', env_file: [web.env]}\n")
    write_file("app/.env", "TAG=app\n")
    write_file("app/web.env", "A=1\n")
    project = load_project(["files/compose.yaml"], environ={}, project_directory="app")
    web = project.topology.services["web"]
    assert (web.image, web.environment, project.name) == ("nginx:app", {"A": "1"}, "app")
    assert project.working_dir == tmp_path / "app"


def test_a_file_named_dash_is_read_from_standard_input(write_file: WriteFile, tmp_path: Path) -> None:
    write_file("web.env", "A=1\n")
    project = load_project(["-"], environ={}, stdin=b"services:\n  web: {image: nginx, env_file: [web.env]}\n")
    assert project.topology.services["web"].environment == {"A": "1"}
    assert project.name == tmp_path.name.lower().replace(".", "")
