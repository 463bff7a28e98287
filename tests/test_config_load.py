"""Loading topology files: YAML with lines, validation messages, references, names, dump."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from xcompose.config import source as yamlsource
from xcompose.config.export import dump_config, topology_schema
from xcompose.config.load import load_project
from xcompose.config.project import Project
from xcompose.errors import ConfigErrors

Load = Callable[..., Project]
Errors = Callable[..., list[str]]

TWO_HOSTS = """\
hosts:
  db1: {address: 10.0.0.1}
  web1: {address: 10.0.0.2}
"""


def errors_of(files: list[Path | str], **kwargs: object) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_project(files, **kwargs)  # type: ignore[arg-type]
    return [str(e) for e in info.value.errors]


# --- YAML with lines -------------------------------------------------------------------


def test_each_key_is_located_at_the_line_it_is_written_on(load_text: Load) -> None:
    project = load_text("services:\n  db:\n    image: postgres\n    expose:\n      - 5432\n")
    assert project.locations[("services", "db")] == ("xcompose.yaml", 2)
    assert project.locations[("services", "db", "image")] == ("xcompose.yaml", 3)
    assert project.locations[("services", "db", "expose", 0)] == ("xcompose.yaml", 5)


def test_a_duplicate_key_is_an_error_at_its_second_occurrence(load_errors: Errors) -> None:
    text = "services:\n  db:\n    image: a\n    image: b\n"
    assert load_errors(text) == [
        "xcompose.yaml:4: services.db.image: duplicate key 'image' (first defined on line 3)"
    ]


def test_a_syntax_error_is_reported_at_the_line_yaml_names(load_errors: Errors) -> None:
    errors = load_errors("services:\n  db:\n    image: a\n   bad: [\n")
    assert errors == ["xcompose.yaml:4: YAML syntax error: did not find expected key (while parsing a block mapping)"]


def test_a_missing_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert errors_of(["nope.yaml"], environ={}) == ["nope.yaml: no such file"]


def test_an_empty_file_says_so(write_topology: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_topology("# only a comment\n")
    monkeypatch.chdir(tmp_path)
    assert errors_of(["xcompose.yaml"], environ={}) == ["xcompose.yaml: file is empty"]


def test_a_top_level_list_is_refused(load_errors: Errors) -> None:
    assert load_errors("- a\n- b\n") == ["xcompose.yaml:1: the top level must be a mapping, not a list"]


def test_a_binary_file_is_refused_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xcompose.yaml").write_bytes(b"services:\n\x00\x01\x02")
    monkeypatch.chdir(tmp_path)
    assert errors_of(["xcompose.yaml"], environ={}) == ["xcompose.yaml:2: binary file (NUL byte), not a YAML topology"]


def test_invalid_utf8_is_located_at_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xcompose.yaml").write_bytes(b"services:\n  db:\n    image: caf\xe9\n")
    monkeypatch.chdir(tmp_path)
    assert errors_of(["xcompose.yaml"], environ={}) == ["xcompose.yaml:3: not valid UTF-8 (byte 0xe9 at offset 30)"]


def test_anchors_and_merge_keys_work_as_in_compose(load_text: Load) -> None:
    project = load_text(
        """\
        x-base: &base
          image: shop/app
          restart: always
        services:
          app:
            <<: *base
            restart: "no"
          worker: *base
        """
    )
    services = project.topology.services
    assert (services["app"].image, services["app"].restart) == ("shop/app", "no")
    assert services["worker"].restart == "always"


def test_python_tags_are_refused(load_errors: Errors) -> None:
    errors = load_errors("services:\n  db:\n    image: !!python/object/apply:os.system [ls]\n")
    assert errors == ["xcompose.yaml:3: services.db.image: unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system"]


def test_yaml_1_2_keeps_yes_and_colon_numbers_as_strings(load_text: Load) -> None:
    project = load_text("services:\n  a:\n    image: a\n    environment: {FLAG: yes}\n    ports: [22:22]\n")
    service = project.topology.services["a"]
    assert service.environment == {"FLAG": "yes"}
    assert [(p.published, p.target) for _, p in service.published_ports()] == [(22, 22)]


def test_a_leading_zero_makes_an_octal_number_as_yaml_v3_reads_it() -> None:
    # `mode: 0440` means 0o440 to Compose: yaml.v3 kept YAML 1.1's octal form.
    data = yamlsource.parse_text("a: 0440\nb: 0o440\nc: '0440'\nd: 0\ne: 10\nf: 089\n", "f.yaml").data
    assert data == {"a": 0o440, "b": 0o440, "c": "0440", "d": 0, "e": 10, "f": 89}


def test_the_pure_python_composer_builds_the_same_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "x: &a {k: [1, '2', yes, 22:22, 0o17, ~]}\ny:\n  <<: *a\n  z: 1.5\n"
    fast = yamlsource.parse_text(text, "f.yaml")
    monkeypatch.setattr(yamlsource, "_Composer", yamlsource._PyComposer)
    slow = yamlsource.parse_text(text, "f.yaml")
    assert fast.data == slow.data == {"x": {"k": [1, "2", "yes", "22:22", 15, None]}, "y": {"k": [1, "2", "yes", "22:22", 15, None], "z": 1.5}}
    assert yamlsource.to_plain(fast.data)[1] == yamlsource.to_plain(slow.data)[1]


def test_both_composers_read_the_merge_tags_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: !reset null\nb: !override [1, !reset 2, 3]\nc: !override {k: v}\nd: !reset\n"
    fast = yamlsource.parse_text(text, "f.yaml").data
    monkeypatch.setattr(yamlsource, "_Composer", yamlsource._PyComposer)
    slow = yamlsource.parse_text(text, "f.yaml").data
    for tree in (fast, slow):
        assert tree == {"b": [1, 3], "c": {"k": "v"}}
        assert (tree.resets, tree.overrides) == ({"a": ("f.yaml", 1), "d": ("f.yaml", 4)}, {"b", "c"})


def test_a_recursive_alias_is_an_error(load_errors: Errors) -> None:
    errors = load_errors("x-a: &a [*a]\nservices: {}\n")
    assert errors == ["xcompose.yaml:1: x-a[0]: an alias refers to the node that contains it"]


def test_an_alias_bomb_stops_at_the_node_limit(load_errors: Errors, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "MAX_NODES", 1000)
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    (error,) = load_errors(text)
    assert "more than 1000 values after expanding aliases" in error


# --- validation messages ---------------------------------------------------------------


def test_unknown_key_suggests_the_close_field_name(load_errors: Errors) -> None:
    assert load_errors("services:\n  app:\n    image: a\n    imagee: b\n") == [
        "xcompose.yaml:4: services.app.imagee: unknown key 'imagee' (did you mean 'image'?)"
    ]


def test_unknown_key_in_a_nested_model_suggests_that_models_fields(load_errors: Errors) -> None:
    text = "hosts:\n  h:\n    tls: {verfy: false}\nservices: {}\n"
    assert load_errors(text) == ["xcompose.yaml:3: hosts.h.tls.verfy: unknown key 'verfy' (did you mean 'verify'?)"]


def test_unknown_key_without_a_close_match_has_no_suggestion(load_errors: Errors) -> None:
    assert load_errors("services: {}\nzzz: 1\n") == ["xcompose.yaml:2: zzz: unknown key 'zzz'"]


def test_extension_keys_are_allowed_anywhere(load_text: Load) -> None:
    project = load_text("x-top: 1\nservices:\n  a:\n    image: a\n    x-note: hi\n")
    assert project.topology.services["a"].image == "a"


def test_a_missing_required_key_is_located_at_its_parent(load_errors: Errors) -> None:
    assert load_errors("services:\n  app:\n    restart: always\n") == [
        "xcompose.yaml:2: services.app: missing required key 'image' (or `build:`, to build the image)"
    ]


def test_a_union_type_error_is_one_message(load_errors: Errors) -> None:
    assert load_errors("services:\n  app:\n    image: a\n    command: 5\n") == [
        "xcompose.yaml:4: services.app.command: must be a list or a string, not a number"
    ]


def test_a_bad_short_form_item_is_located_at_the_item(load_errors: Errors) -> None:
    errors = load_errors("services:\n  app:\n    image: a\n    ports:\n      - 80\n      - nope\n")
    assert len(errors) == 1 and errors[0].startswith("xcompose.yaml:6: services.app.ports[1]: 'nope' is not a port mapping")


def test_a_bound_error_shows_the_bound_and_the_value(load_errors: Errors) -> None:
    assert load_errors("services:\n  app:\n    image: a\n    expose: [70000]\n") == [
        "xcompose.yaml:4: services.app.expose[0]: '70000': port 70000 is out of range (1-65535)"
    ]
    assert load_errors("hosts:\n  h:\n    max_parallel: 0\nservices:\n  app:\n    image: a\n") == [
        "xcompose.yaml:3: hosts.h.max_parallel: must be at least 1 (got 0)"
    ]


def test_a_nested_environment_value_is_refused_without_showing_it(load_errors: Errors) -> None:
    errors = load_errors("services:\n  app:\n    image: a\n    environment: {PASS: [s3cret]}\n")
    assert errors == [
        "xcompose.yaml:4: services.app.environment: environment value of 'PASS' must be a string, number or boolean"
    ]


# --- forms real compose files use -----------------------------------------------------


def test_restart_on_failure_may_give_a_count(load_text: Load) -> None:
    assert load_text("services:\n  a: {image: a, restart: 'on-failure:5'}\n").topology.services["a"].restart == "on-failure:5"


@pytest.mark.parametrize("value", ["on-failure:", "on-failure:x", "always:3", "never"])
def test_restart_refuses_other_forms(load_errors: Errors, value: str) -> None:
    assert load_errors(f"services:\n  a: {{image: a, restart: '{value}'}}\n") == [
        f"xcompose.yaml:2: services.a.restart: must be one of 'no', 'always', 'on-failure', 'on-failure:N' "
        f"or 'unless-stopped' (got '{value}')"
    ]


def test_legacy_external_with_a_name_is_external_true_and_name(load_text: Load) -> None:
    text = "services: {}\nvolumes:\n  data: {external: {name: shop_data}}\nnetworks:\n  front: {external: {name: proxy}}\n"
    topology = load_text(text).topology
    assert (topology.volume("data").external, topology.volume("data").name) == (True, "shop_data")
    front = topology.networks["front"]
    assert front is not None and (front.external, front.name) == (True, "proxy")


def test_legacy_external_name_must_agree_with_name(load_errors: Errors) -> None:
    assert load_errors("services: {}\nvolumes:\n  data: {name: a, external: {name: b}}\n") == [
        "xcompose.yaml:3: volumes.data: external.name 'b' and name 'a' differ; keep only name"
    ]


def test_env_file_long_form_skips_a_missing_optional_file(load_text: Load, tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\n")
    text = "services:\n  app:\n    image: a\n    env_file:\n      - path: a.env\n      - path: local.env\n        required: false\n"
    service = load_text(text).topology.services["app"]
    assert service.environment == {"A": "1"}
    assert [e.path for e in service.env_file] == [str(tmp_path / "a.env")]


def test_env_file_long_form_that_is_required_must_exist(load_errors: Errors, tmp_path: Path) -> None:
    text = "services:\n  app:\n    image: a\n    env_file:\n      - path: gone.env\n        required: true\n"
    assert load_errors(text) == [
        f"xcompose.yaml:5: services.app.env_file[0]: env file 'gone.env' not found (looked for {tmp_path / 'gone.env'})"
    ]


def test_depends_on_long_form_reads_required_and_restart(load_text: Load) -> None:
    text = """\
    services:
      db: {image: d}
      app:
        image: a
        depends_on:
          db: {condition: service_healthy, required: false, restart: true}
    """
    dependency = load_text(text).topology.services["app"].depends_on["db"]
    assert (dependency.condition, dependency.required, dependency.restart) == ("service_healthy", False, True)


def test_a_link_to_an_undeclared_service_is_an_error_even_next_to_an_optional_dependency(load_errors: Errors) -> None:
    text = "services:\n  app:\n    image: a\n    links: [db]\n    depends_on:\n      db: {required: false}\n"
    assert load_errors(text) == ["xcompose.yaml:4: services.app.links[0]: unknown service 'db'"]


# --- references ------------------------------------------------------------------------


def test_unknown_link_target_suggests_the_close_service(load_errors: Errors) -> None:
    text = "services:\n  db: {image: a}\n  app:\n    image: b\n    links: [dbb]\n"
    assert load_errors(text) == ["xcompose.yaml:5: services.app.links[0]: unknown service 'dbb' (did you mean 'db'?)"]


def test_unknown_depends_on_service_is_located_in_either_form(load_errors: Errors) -> None:
    text = "services:\n  db: {image: a}\n  app:\n    image: b\n    depends_on:\n      dbx: {condition: service_started}\n"
    assert load_errors(text) == ["xcompose.yaml:6: services.app.depends_on.dbx: unknown service 'dbx' (did you mean 'db'?)"]


def test_a_service_linking_to_itself_is_an_error(load_errors: Errors) -> None:
    text = "services:\n  app:\n    image: b\n    links: [app]\n"
    assert load_errors(text) == ["xcompose.yaml:4: services.app.links[0]: a service cannot link to itself"]


def test_unknown_host_suggests_the_close_host(load_errors: Errors) -> None:
    text = TWO_HOSTS + "services:\n  db:\n    image: a\n    host: db2\n"
    assert load_errors(text) == ["xcompose.yaml:7: services.db.host: unknown host 'db2' (did you mean 'db1'?)"]


def test_with_several_hosts_every_service_needs_a_host(load_errors: Errors) -> None:
    text = TWO_HOSTS + "services:\n  db:\n    image: a\n"
    assert load_errors(text) == [
        "xcompose.yaml:5: services.db: no host: the file declares several hosts (db1, web1); add host: to pin it"
    ]


def test_with_one_host_the_host_key_may_be_left_out(load_text: Load) -> None:
    project = load_text("hosts:\n  only: {}\nservices:\n  db: {image: a}\n")
    assert project.host_of("db") == "only"


def test_a_host_without_a_hosts_section_is_an_error(load_errors: Errors) -> None:
    assert load_errors("services:\n  db: {image: a, host: web1}\n") == [
        "xcompose.yaml:2: services.db.host: unknown host 'web1': no hosts are declared (add it under hosts:)"
    ]


def test_a_hostname_placement_constraint_pins_a_service_without_host(load_text: Load) -> None:
    constraints = "    deploy: {placement: {constraints: ['node.role == worker', 'node.hostname == web1']}}\n"
    project = load_text(TWO_HOSTS + "services:\n  db:\n    image: a\n" + constraints
                        + "  app:\n    image: a\n    host: db1\n" + constraints)
    assert (project.host_of("db"), project.host_of("app")) == ("web1", "db1")
    assert project.warnings == [
        "xcompose.yaml:7: services.db.deploy.placement.constraints[0]: 'node.role == worker' is a Swarm "
        "constraint; xcompose places services by host and ignores it",
        "xcompose.yaml:11: services.app.deploy.placement.constraints[0]: 'node.role == worker' is a Swarm "
        "constraint; xcompose places services by host and ignores it",
        "xcompose.yaml:11: services.app.deploy.placement.constraints[1]: ignored: `host: db1` places the service",
    ]


def test_a_placement_constraint_must_name_a_declared_host(load_errors: Errors) -> None:
    text = TWO_HOSTS + "services:\n  db:\n    image: a\n    deploy:\n      placement:\n        constraints:\n" \
        "          - node.hostname == db2\n"
    assert load_errors(text) == [
        "xcompose.yaml:10: services.db.deploy.placement.constraints[0]: unknown host 'db2' (did you mean 'db1'?)"
    ]


def test_shared_namespaces_and_volumes_name_known_services(load_errors: Errors) -> None:
    text = "services:\n  db: {image: a}\n  app:\n    image: a\n    ipc: service:dbb\n    pid: service:app\n" \
        "    volumes_from: [db, 'dbx:ro', 'container:other']\n"
    assert load_errors(text) == [
        "xcompose.yaml:5: services.app.ipc: unknown service 'dbb' (did you mean 'db'?)",
        "xcompose.yaml:6: services.app.pid: a service cannot share the PID namespace of itself",
        "xcompose.yaml:7: services.app.volumes_from[1]: unknown service 'dbx' (did you mean 'db'?)",
    ]


def test_a_named_volume_must_be_declared_at_the_top_level(load_errors: Errors) -> None:
    text = "services:\n  db:\n    image: a\n    volumes: ['pgdta:/data', './here:/x']\nvolumes:\n  pgdata:\n"
    assert load_errors(text) == [
        "xcompose.yaml:4: services.db.volumes[0]: named volume 'pgdta' is not declared under top-level volumes: "
        "(did you mean 'pgdata'?)"
    ]


def test_a_service_name_must_match_the_name_pattern(load_errors: Errors) -> None:
    assert load_errors("services:\n  'my app': {image: a}\n") == [
        "xcompose.yaml:2: services.my app: 'my app' is not a valid service name (use letters, digits, '_', '.', '-')"
    ]


def test_env_file_values_lose_against_the_services_environment(load_text: Load, tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("A=from-file\nB=from-file\n")
    project = load_text("services:\n  app:\n    image: a\n    env_file: app.env\n    environment: {B: own}\n")
    assert project.topology.services["app"].environment == {"A": "from-file", "B": "own"}


def test_a_missing_env_file_is_located(load_errors: Errors, tmp_path: Path) -> None:
    errors = load_errors("services:\n  app:\n    image: a\n    env_file: [nope.env]\n")
    assert errors == [f"xcompose.yaml:4: services.app.env_file[0]: env file 'nope.env' not found (looked for {tmp_path / 'nope.env'})"]


def test_errors_of_all_kinds_are_collected_together(load_errors: Errors) -> None:
    text = "services:\n  app:\n    image: a\n    imagee: b\n    links: [dbb]\n    restart: never\n"
    assert len(load_errors(text)) == 3


def test_a_failed_interpolation_hides_the_validation_error_of_the_same_value(load_errors: Errors) -> None:
    assert load_errors("services:\n  app:\n    image: a\n    ports: ['${PORT:?set PORT}']\n") == [
        "xcompose.yaml:4: services.app.ports[0]: required variable PORT is missing a value: set PORT"
    ]


def test_errors_of_two_unreadable_files_are_both_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yaml").write_text("")
    (tmp_path / "b.yaml").write_text("[1]\n")
    monkeypatch.chdir(tmp_path)
    assert errors_of(["a.yaml", "b.yaml"], environ={}) == [
        "a.yaml: file is empty",
        "b.yaml:1: the top level must be a mapping, not a list",
    ]


# --- environment and variables ---------------------------------------------------------


def test_dotenv_beside_the_first_file_feeds_interpolation(load_text: Load, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAG=1.4\n")
    assert load_text("services:\n  app: {image: 'shop:${TAG}'}\n").topology.services["app"].image == "shop:1.4"


def test_the_process_environment_wins_over_dotenv(load_text: Load, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAG=1.4\n")
    project = load_text("services:\n  app: {image: 'shop:${TAG}'}\n", env={"TAG": "2.0"})
    assert project.topology.services["app"].image == "shop:2.0"


def test_an_unset_variable_becomes_empty_with_a_located_warning(load_text: Load) -> None:
    project = load_text("services:\n  app: {image: 'shop${SUFFIX}'}\n")
    assert project.topology.services["app"].image == "shop"
    assert project.warnings == ['xcompose.yaml:2: services.app.image: the "SUFFIX" variable is not set, using an empty string']


def test_an_environment_entry_without_value_passes_the_variable_through(load_text: Load) -> None:
    project = load_text("services:\n  app:\n    image: a\n    environment: [TOKEN, UNSET]\n", env={"TOKEN": "t"})
    assert project.topology.services["app"].environment == {"TOKEN": "t", "UNSET": None}


# --- files and project name ------------------------------------------------------------


def test_without_files_xcompose_yaml_in_the_cwd_is_used(write_topology: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_topology("services: {app: {image: a}}\n", name="xcompose.yml")
    monkeypatch.chdir(tmp_path)
    assert load_project([], environ={}).files == [tmp_path / "xcompose.yml"]


def test_without_files_xcompose_file_is_read_from_the_environment(write_topology: Callable[..., Path], tmp_path: Path) -> None:
    a = write_topology("services: {app: {image: a}}\n", name="a.yaml")
    b = write_topology("services: {app: {image: b}}\n", name="b.yaml")
    project = load_project([], environ={"XCOMPOSE_FILE": f"{a}:{b}"})
    assert project.topology.services["app"].image == "b"


def test_no_file_at_all_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert errors_of([], environ={}) == [
        f"{tmp_path}: no compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml, xcompose.yaml, "
        "xcompose.yml here or in a folder above (use -f FILE)"]


def test_project_name_defaults_to_the_normalised_folder_name(write_topology: Callable[..., Path]) -> None:
    path = write_topology("services: {}\n", name="My Shop.v2/xcompose.yaml")
    assert load_project([path], environ={}).name == "myshopv2"


def test_project_name_precedence_is_argument_env_file_folder(write_topology: Callable[..., Path]) -> None:
    path = write_topology("name: fromfile\nservices: {}\n")
    assert load_project([path], environ={}).name == "fromfile"
    assert load_project([path], environ={"XCOMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load_project([path], environ={"XCOMPOSE_PROJECT_NAME": "fromenv"}, project_name="arg").name == "arg"


def test_project_name_is_lowercased(write_topology: Callable[..., Path]) -> None:
    assert load_project([write_topology("name: Shop\nservices: {}\n")], environ={}).name == "shop"


def test_an_invalid_project_name_in_the_file_is_located(load_errors: Errors) -> None:
    assert load_errors("name: 'my shop!'\nservices: {}\n") == [
        "xcompose.yaml:1: name: project name 'my shop!' must contain only a-z, 0-9, '_' and '-' "
        "and start with a letter or digit"
    ]


# --- dump and schema -------------------------------------------------------------------

SHOP = TWO_HOSTS + """\
services:
  db:
    image: postgres:16
    host: db1
    expose: [5432, 53/udp]
    environment: {POSTGRES_PASSWORD: "${PGPASS:?set PGPASS}", LEVEL: "0o17"}
    volumes: ["pgdata:/var/lib/postgresql/data", "./conf:/etc/conf:ro", {type: tmpfs, target: /tmp}]
    healthcheck: {test: ["CMD", "pg_isready"], interval: 1m30s, timeout: 500ms, retries: 30}
  app:
    image: shop/app:1.4
    host: web1
    links: ["db:database"]
    ports: ["80:8080", "127.0.0.1::9000/udp"]
    depends_on: {db: {condition: service_healthy}}
volumes:
  pgdata:
"""


def test_dump_config_prints_values_as_compose_does_with_each_dollar_doubled(load_text: Load, tmp_path: Path) -> None:
    project = load_text("services:\n  app:\n    image: a\n    environment: {PW: s3cret, HASH: '$$2a$$14$$x'}\n"
                        "    command: [sh, -c, 'echo $$HOME']\n")
    text = dump_config(project)
    assert "PW: s3cret" in text and "HASH: $$2a$$14$$x" in text and "echo $$HOME" in text
    (tmp_path / "again.yaml").write_text(text)
    assert load_project([tmp_path / "again.yaml"], environ={}).topology.services == project.topology.services


def test_dump_config_loads_back_to_the_same_topology(load_text: Load, tmp_path: Path) -> None:
    project = load_text(SHOP, env={"PGPASS": "s3cret"})
    (tmp_path / "dumped.yaml").write_text(dump_config(project))
    again = load_project([tmp_path / "dumped.yaml"], environ={})
    assert again.topology == project.topology


def test_dump_config_sets_the_project_name(load_text: Load) -> None:
    dumped = yaml.safe_load(dump_config(load_text("services: {app: {image: a}}\n")))
    assert dumped["name"] == load_text("services: {app: {image: a}}\n").name


def test_the_schema_allows_extension_keys_and_short_forms() -> None:
    schema = topology_schema()
    service = schema["$defs"]["Service"]
    assert service["additionalProperties"] is False and "^x-" in service["patternProperties"]
    assert {"type": "string"} in service["properties"]["env_file"]["anyOf"]


def test_the_schema_offers_the_long_forms_and_the_restart_pattern() -> None:
    schema = topology_schema()
    service = schema["$defs"]["Service"]["properties"]
    listed = next(a for a in service["env_file"]["anyOf"] if a.get("type") == "array")
    assert {"$ref": "#/$defs/EnvFileEntry"} in listed["items"]["anyOf"]
    assert service["restart"]["pattern"] == "^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"
    assert set(schema["$defs"]["DependsOn"]["properties"]) == {"condition", "required", "restart"}


# --- the corpus of broken files --------------------------------------------------------

BAD_INPUTS = Path(__file__).parent / "bad_inputs"
# Errors that have no line because there is no line to point at.
UNLOCATABLE = ("file is empty",)


def _inputs_of(expect: Path) -> list[str]:
    """`NAME.yaml`, or `NAME.1.yaml`, `NAME.2.yaml`, … merged in that order."""
    single = expect.with_suffix(".yaml")
    if single.exists():
        return [single.name]
    return sorted(p.name for p in BAD_INPUTS.glob(f"{expect.stem}.*.yaml"))


@pytest.mark.parametrize("expect", sorted(BAD_INPUTS.glob("*.expect")), ids=lambda p: p.stem)
def test_every_bad_input_is_refused_with_a_located_message(expect: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD_INPUTS)
    with pytest.raises(ConfigErrors) as info:
        load_project(_inputs_of(expect), environ={})
    wanted = expect.read_text(encoding="utf-8").strip()
    assert wanted in str(info.value)
    for error in info.value.errors:
        assert error.file.endswith(".yaml")
        assert error.line is not None or error.message in UNLOCATABLE


def test_the_corpus_covers_at_least_thirty_cases() -> None:
    assert len(list(BAD_INPUTS.glob("*.expect"))) >= 30


def test_a_huge_file_is_loaded_and_its_error_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 20_000
    lines = ["services:"]
    for index in range(count):
        lines += [f"  s{index}:", "    image: app:1", f"    links: [s{max(index - 1, 0) if index else 1}]"]
    lines += ["  last:", "    image: app:1", "    links: [s1999999]"]
    (tmp_path / "huge.yaml").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    assert errors_of(["huge.yaml"], environ={}) == [f"huge.yaml:{len(lines)}: services.last.links[0]: unknown service 's1999999' (did you mean 's19999'?)"]


def test_a_bad_dotenv_line_is_located_in_the_dotenv_file(load_errors: Errors, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAG=1\nno good\n")
    assert load_errors("services: {app: {image: a}}\n") == [".env:2: 'no good' is not a variable name (use NAME=VALUE)"]
