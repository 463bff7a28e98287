"""Top-level `include`: other compose applications brought in, each from its own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import WriteFile, load_files, load_files_errors

Write = WriteFile


@pytest.fixture
def write(write_file: WriteFile) -> WriteFile:
    return write_file


load = load_files
errors = load_files_errors


def test_the_short_form_brings_in_services_and_volumes(write: Write) -> None:
    write("db/compose.yaml", """\
        services:
          db:
            image: postgres
            volumes: ["pgdata:/var/lib/postgresql/data"]
        volumes:
          pgdata:
        """)
    write("compose.yaml", "include:\n  - db/compose.yaml\nservices:\n  app:\n    image: a\n    links: [db]\n")
    project = load("compose.yaml")
    assert list(project.topology.services) == ["app", "db"]
    assert list(project.topology.volumes) == ["pgdata"]
    assert project.locations[("services", "db")] == ("db/compose.yaml", 2)


def test_relative_paths_of_an_included_file_start_from_its_folder(write: Write, tmp_path: Path) -> None:
    write("db/db.env", "POSTGRES_DB=shop\n")
    write("db/compose.yaml", "services:\n  db:\n    image: postgres\n    env_file: db.env\n    volumes: ['./init:/init']\n")
    write("compose.yaml", "include: [db/compose.yaml]\n")
    db = load("compose.yaml").topology.services["db"]
    assert db.environment == {"POSTGRES_DB": "shop"}
    assert db.volumes[0].source == str(tmp_path / "db/init")
    assert db.env_file[0].path == str(tmp_path / "db/db.env")


def test_the_long_form_merges_several_files_and_sets_the_project_directory(write: Write, tmp_path: Path) -> None:
    write("lib/db.yaml", "services:\n  db:\n    image: postgres\n    volumes: ['./data:/data']\n")
    write("lib/db.override.yaml", "services:\n  db:\n    user: postgres\n")
    write("compose.yaml", """\
        include:
          - path: [lib/db.yaml, lib/db.override.yaml]
            project_directory: .
        """)
    db = load("compose.yaml").topology.services["db"]
    assert db.user == "postgres"
    assert db.volumes[0].source == "./data"  # the project directory is the including folder here


def test_an_included_file_reads_the_env_file_of_its_folder(write: Write) -> None:
    write("db/.env", "TAG=15\n")
    write("db/compose.yaml", "services:\n  db: {image: 'postgres:${TAG}'}\n")
    write("compose.yaml", "include: [db/compose.yaml]\n")
    assert load("compose.yaml").topology.services["db"].image == "postgres:15"


def test_the_including_projects_variables_win_over_the_included_env_file(write: Write) -> None:
    write("db/.env", "TAG=15\n")
    write("db/compose.yaml", "services:\n  db: {image: 'postgres:${TAG}'}\n")
    write("compose.yaml", "include: [db/compose.yaml]\n")
    assert load("compose.yaml", env={"TAG": "16"}).topology.services["db"].image == "postgres:16"


def test_env_file_of_an_entry_replaces_the_default_dotenv(write: Write) -> None:
    write("db/.env", "TAG=15\n")
    write("settings/db.env", "TAG=14\n")
    write("db/compose.yaml", "services:\n  db: {image: 'postgres:${TAG}'}\n")
    write("compose.yaml", "include:\n  - path: db/compose.yaml\n    env_file: settings/db.env\n")
    assert load("compose.yaml").topology.services["db"].image == "postgres:14"


def test_includes_apply_recursively(write: Write) -> None:
    write("a/b/compose.yaml", "services:\n  deep: {image: d}\n")
    write("a/compose.yaml", "include: [b/compose.yaml]\nservices:\n  mid: {image: m}\n")
    write("compose.yaml", "include: [a/compose.yaml]\nservices:\n  top: {image: t}\n")
    assert sorted(load("compose.yaml").topology.services) == ["deep", "mid", "top"]


def test_a_service_defined_here_and_in_an_included_file_is_an_error(write: Write) -> None:
    write("db/compose.yaml", "services:\n  db:\n    image: postgres:16\n")
    write("compose.yaml", "include:\n  - db/compose.yaml\nservices:\n  db:\n    image: postgres:15\n")
    assert errors("compose.yaml") == [
        "compose.yaml:4: services.db: service 'db' is also defined by an included file (db/compose.yaml:2); "
        "Compose does not merge them: rename or remove one"
    ]


def test_the_same_definition_twice_is_not_a_conflict(write: Write) -> None:
    write("db/compose.yaml", "services:\n  db: {image: postgres}\nvolumes:\n  data:\n")
    write("compose.yaml", "include: [db/compose.yaml]\nservices:\n  db: {image: postgres}\nvolumes:\n  data:\n")
    assert list(load("compose.yaml").topology.services) == ["db"]


def test_an_override_file_still_places_an_included_service(write: Write) -> None:
    write("db/compose.yaml", "services:\n  db:\n    image: postgres\n")
    write("compose.yaml", "include: [db/compose.yaml]\nservices:\n  app: {image: a}\n")
    write("xcompose.yaml", "hosts:\n  h1: {}\n  h2: {}\nservices:\n  db: {host: h1}\n  app: {host: h2}\n")
    project = load("compose.yaml", "xcompose.yaml")
    assert (project.host_of("db"), project.host_of("app")) == ("h1", "h2")


def test_an_error_inside_an_included_file_is_located_there(write: Write) -> None:
    write("db/compose.yaml", "services:\n  db:\n    image: postgres\n    restart: sometimes\n")
    write("compose.yaml", "include: [db/compose.yaml]\n")
    assert errors("compose.yaml") == [
        "db/compose.yaml:4: services.db.restart: must be one of 'no', 'always', 'on-failure', 'on-failure:N' "
        "or 'unless-stopped' (got 'sometimes')"
    ]


def test_a_missing_included_file_is_located_at_its_entry(write: Write, tmp_path: Path) -> None:
    write("compose.yaml", "services: {}\ninclude:\n  - path: nowhere/compose.yaml\n")
    assert errors("compose.yaml") == [
        f"compose.yaml:3: include[0].path: no such file (looked for {tmp_path / 'nowhere/compose.yaml'})"
    ]


def test_an_include_loop_is_an_error(write: Write) -> None:
    write("a.yaml", "include: [b.yaml]\nservices: {}\n")
    write("b.yaml", "include: [a.yaml]\nservices: {}\n")
    assert errors("a.yaml") == ["b.yaml:1: include[0]: include loop: a.yaml -> b.yaml -> a.yaml"]


def test_an_unknown_key_of_an_entry_suggests_the_right_one(write: Write) -> None:
    write("compose.yaml", "include:\n  - path: x.yaml\n    env_files: a.env\n")
    assert errors("compose.yaml") == [
        "compose.yaml:3: include[0].env_files: unknown key 'env_files' (did you mean 'env_file'?)"
    ]


def test_a_missing_env_file_of_an_entry_is_located(write: Write, tmp_path: Path) -> None:
    write("db/compose.yaml", "services: {}\n")
    write("compose.yaml", "include:\n  - path: db/compose.yaml\n    env_file: nope.env\n")
    assert errors("compose.yaml") == [
        f"compose.yaml:3: include[0].env_file: env file 'nope.env' not found (looked for {tmp_path / 'nope.env'})"
    ]


def test_include_must_be_a_list(write: Write) -> None:
    write("compose.yaml", "include: db.yaml\nservices: {}\n")
    assert errors("compose.yaml") == ["compose.yaml:1: include: must be a list, not a string"]
