"""`extends`: a service built on another of the same file or of another file, as Compose does it."""

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


def test_a_service_extends_one_of_the_same_file_and_overrides_what_it_says(write: Write) -> None:
    write("compose.yaml", """\
        services:
          base:
            image: shop/app:1
            environment: {A: "1", B: "1"}
            ports: ["80:80"]
          web:
            extends: base
            environment: {B: "2"}
            ports: ["443:443"]
        """)
    web = load("compose.yaml").topology.services["web"]
    assert web.image == "shop/app:1"
    assert web.environment == {"A": "1", "B": "2"}
    assert [p.short() for _, p in web.published_ports()] == ["80:80", "443:443"]


def test_the_long_form_without_file_takes_the_same_file(write: Write) -> None:
    write("compose.yaml", "services:\n  base: {image: a, user: root}\n  web:\n    extends: {service: base}\n")
    assert load("compose.yaml").topology.services["web"].user == "root"


def test_a_chain_of_extends_is_followed(write: Write) -> None:
    write("compose.yaml", """\
        services:
          cli:
            extends: common
          common:
            extends: base
            command: [run]
          base:
            image: busybox
            user: root
        """)
    cli = load("compose.yaml").topology.services["cli"]
    assert (cli.image, cli.user, cli.command) == ("busybox", "root", ["run"])


def test_a_service_of_another_file_is_extended_and_not_added(write: Write) -> None:
    write("common/services.yaml", "services:\n  webapp:\n    image: shop/web\n    expose: [8000]\n")
    write("compose.yaml", """\
        services:
          web:
            extends:
              file: common/services.yaml
              service: webapp
            expose: [9000]
        """)
    project = load("compose.yaml")
    assert list(project.topology.services) == ["web"]
    assert [p.port for p in project.topology.services["web"].exposed_ports()] == [8000, 9000]


def test_relative_paths_of_the_other_file_start_from_its_folder(write: Write, tmp_path: Path) -> None:
    write("common/app.env", "FROM_FILE=yes\n")
    write("common/services.yaml", """\
        services:
          webapp:
            image: shop/web
            env_file: app.env
            volumes: ["./conf:/etc/app:ro", "data:/data"]
        """)
    write("compose.yaml", """\
        services:
          web:
            extends: {file: common/services.yaml, service: webapp}
        volumes:
          data:
        """)
    web = load("compose.yaml").topology.services["web"]
    assert web.environment == {"FROM_FILE": "yes"}
    assert [(v.source, v.target) for v in web.volumes] == [(str(tmp_path / "common/conf"), "/etc/app"), ("data", "/data")]


def test_the_other_file_may_itself_extend_relative_to_its_own_folder(write: Write) -> None:
    write("a/b/base.yaml", "services:\n  root: {image: base, user: nobody}\n")
    write("a/mid.yaml", "services:\n  mid:\n    extends: {file: b/base.yaml, service: root}\n    user: app\n")
    write("compose.yaml", "services:\n  web:\n    extends: {file: a/mid.yaml, service: mid}\n")
    web = load("compose.yaml").topology.services["web"]
    assert (web.image, web.user) == ("base", "app")


def test_depends_on_and_links_are_inherited_as_compose_v2_does(write: Write) -> None:
    write("compose.yaml", """\
        services:
          db: {image: postgres}
          base:
            image: a
            links: [db]
            depends_on: [db]
          web:
            extends: base
        """)
    web = load("compose.yaml").topology.services["web"]
    assert [link.target for link in web.links] == ["db"] and list(web.depends_on) == ["db"]


def test_an_inherited_reference_must_exist_in_the_project(write: Write) -> None:
    write("other.yaml", "services:\n  base:\n    image: a\n    links: [db]\n  db: {image: b}\n")
    write("compose.yaml", "services:\n  web:\n    extends: {file: other.yaml, service: base}\n")
    assert errors("compose.yaml") == ["other.yaml:4: services.web.links[0]: unknown service 'db'"]


def test_a_reset_in_the_extending_service_removes_an_inherited_key(write: Write) -> None:
    write("compose.yaml", """\
        services:
          base: {image: a, ports: ["80:80"], user: root}
          web:
            extends: base
            ports: !reset []
        """)
    web = load("compose.yaml").topology.services["web"]
    assert (web.ports, web.user) == ([], "root")


def test_errors_of_inherited_keys_point_at_the_file_that_wrote_them(write: Write) -> None:
    write("other.yaml", "services:\n  base:\n    image: a\n    restart: sometimes\n")
    write("compose.yaml", "services:\n  web:\n    extends: {file: other.yaml, service: base}\n")
    assert errors("compose.yaml") == [
        "other.yaml:4: services.web.restart: must be one of 'no', 'always', 'on-failure', 'on-failure:N' "
        "or 'unless-stopped' (got 'sometimes')"
    ]


def test_a_loop_is_a_located_error(write: Write) -> None:
    write("compose.yaml", """\
        services:
          a:
            image: x
            extends: b
          b:
            extends: {service: a}
        """)
    assert errors("compose.yaml") == ["compose.yaml:4: services.a.extends: extends loop: a -> b -> a"]


def test_a_service_extending_itself_is_a_loop(write: Write) -> None:
    write("compose.yaml", "services:\n  a:\n    image: x\n    extends: a\n")
    assert errors("compose.yaml") == ["compose.yaml:4: services.a.extends: extends loop: a -> a"]


def test_a_loop_across_files_names_each_file(write: Write) -> None:
    write("one.yaml", "services:\n  a:\n    extends: {file: two.yaml, service: b}\n")
    write("two.yaml", "services:\n  b:\n    image: x\n    extends: {file: one.yaml, service: a}\n")
    assert errors("one.yaml") == ["one.yaml:3: services.a.extends: extends loop: a -> b (two.yaml) -> a"]


def test_an_unknown_service_to_extend_suggests_a_close_one(write: Write) -> None:
    write("compose.yaml", "services:\n  base: {image: a}\n  web:\n    extends: {service: bsae}\n")
    assert errors("compose.yaml") == [
        "compose.yaml:4: services.web.extends.service: no service 'bsae' to extend (did you mean 'base'?)"
    ]


def test_an_unknown_service_in_another_file_names_that_file(write: Write) -> None:
    write("other.yaml", "services:\n  base: {image: a}\n")
    write("compose.yaml", "services:\n  web:\n    extends:\n      file: other.yaml\n      service: nope\n")
    assert errors("compose.yaml") == ["compose.yaml:5: services.web.extends.service: no service 'nope' to extend in other.yaml"]


def test_a_missing_file_to_extend_is_located(write: Write, tmp_path: Path) -> None:
    write("compose.yaml", "services:\n  web:\n    image: a\n    extends:\n      file: gone.yaml\n      service: x\n")
    assert errors("compose.yaml") == [f"compose.yaml:5: services.web.extends.file: no such file (looked for {tmp_path / 'gone.yaml'})"]


def test_a_syntax_error_in_the_other_file_stops_the_load_there(write: Write) -> None:
    write("other.yaml", "services:\n  base: [\n")
    write("compose.yaml", "services:\n  web:\n    extends: {file: other.yaml, service: base}\n")
    (error,) = errors("compose.yaml")
    assert error.startswith("other.yaml:3: YAML syntax error")


def test_an_unknown_key_in_extends_suggests_the_right_one(write: Write) -> None:
    write("compose.yaml", "services:\n  base: {image: a}\n  web:\n    extends: {service: base, files: x}\n")
    assert errors("compose.yaml") == ["compose.yaml:4: services.web.extends.files: unknown key 'files' (did you mean 'file'?)"]


def test_extends_must_name_a_service(write: Write) -> None:
    write("compose.yaml", "services:\n  web:\n    image: a\n    extends: {file: x.yaml}\n")
    assert errors("compose.yaml") == ["compose.yaml:4: services.web.extends: missing required key 'service'"]


def test_the_other_file_is_interpolated_with_the_project_variables(write: Write) -> None:
    write("other.yaml", "services:\n  base: {image: 'shop:${TAG}'}\n")
    write("compose.yaml", "services:\n  web:\n    extends: {file: other.yaml, service: base}\n")
    assert load("compose.yaml", env={"TAG": "2"}).topology.services["web"].image == "shop:2"


def test_an_override_file_changes_an_extending_service(write: Write) -> None:
    write("compose.yaml", "services:\n  base: {image: a}\n  web:\n    extends: base\n")
    write("over.yaml", "services:\n  web: {user: root}\n")
    web = load("compose.yaml", "over.yaml").topology.services["web"]
    assert (web.image, web.user) == ("a", "root")


def test_a_failed_extends_further_down_the_chain_is_told_once(write: Write) -> None:
    write("other.yaml", "services:\n  base:\n    extends: nowhere\n")
    write("compose.yaml", "services:\n  web:\n    extends: {file: other.yaml, service: base}\n")
    assert errors("compose.yaml") == ["other.yaml:3: services.base.extends: no service 'nowhere' to extend"]
