"""Secrets and configs in the file: declarations and their sources, what services are
given, located errors, and nothing of a secret's content in any output."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from xcompose.config.export import dump_config, topology_schema
from xcompose.config.load import load_project
from xcompose.config.project import Project
from xcompose.config.service_keys import SECRETS_DIR, Grant
from xcompose.errors import ConfigErrors

Load = Callable[..., Project]
Errors = Callable[..., list[str]]
SECRET = "s3cret-Value"

APP = """\
services:
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD_FILE: /run/secrets/db_password}
    secrets: [db_password]
  app:
    image: shop/app
    secrets:
      - source: db_password
        target: pw
        uid: "103"
        gid: 104
        mode: 0440
      - api_key
    configs:
      - motd
      - {source: nginx, target: /etc/nginx/nginx.conf, mode: "0644"}
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    environment: API_KEY
configs:
  motd:
    content: "welcome to ${SITE:-shop}"
  nginx:
    file: conf/nginx.conf
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "db_password.txt").write_text(SECRET + "\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "nginx.conf").write_bytes(b"events {}\n\x00binary ok")
    return tmp_path


def test_each_source_is_read_when_the_file_is_loaded(load_text: Load, folder: Path) -> None:
    project = load_text(APP, env={"API_KEY": "k3y"})
    assert project.contents == {
        ("secrets", "db_password"): (SECRET + "\n").encode(),
        ("secrets", "api_key"): b"k3y",
        ("configs", "motd"): b"welcome to shop",
        ("configs", "nginx"): b"events {}\n\x00binary ok",
    }


def test_a_secret_file_is_relative_to_the_project_folder_not_the_working_directory(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "xcompose.yaml").write_text(APP)
    monkeypatch.chdir("/")
    project = load_project([folder / "xcompose.yaml"], environ={"API_KEY": "k"})
    assert project.contents[("secrets", "db_password")] == (SECRET + "\n").encode()
    assert project.topology.secrets["db_password"].file == str(folder / "db_password.txt")


def test_an_environment_secret_comes_from_dotenv_and_the_environment_wins(load_text: Load, folder: Path) -> None:
    (folder / ".env").write_text("API_KEY=from-dotenv\n")
    assert load_text(APP).contents[("secrets", "api_key")] == b"from-dotenv"
    assert load_text(APP, env={"API_KEY": "from-env"}).contents[("secrets", "api_key")] == b"from-env"


def test_short_and_long_forms_become_one_shape(load_text: Load, folder: Path) -> None:
    app = load_text(APP, env={"API_KEY": "k"}).topology.services["app"]
    assert app.secrets == [Grant(source="db_password", target="pw", uid=103, gid=104, mode=0o440),
                           Grant(source="api_key")]
    assert app.configs[1] == Grant(source="nginx", target="/etc/nginx/nginx.conf", mode=0o644)


@pytest.mark.parametrize(("grant", "folder_", "path"), [
    (Grant(source="db_password"), SECRETS_DIR, "/run/secrets/db_password"),
    (Grant(source="db_password", target="pw"), SECRETS_DIR, "/run/secrets/pw"),
    (Grant(source="db_password", target="/etc/app/pw"), SECRETS_DIR, "/etc/app/pw"),
    (Grant(source="motd"), "/", "/motd"),
    (Grant(source="motd", target="etc/motd"), "/", "/etc/motd"),
    (Grant(source="motd", target="/etc//motd"), "/", "/etc/motd"),
])
def test_files_land_where_compose_puts_them(grant: Grant, folder_: str, path: str) -> None:
    assert grant.path(folder_) == path


@pytest.mark.parametrize(("mode", "expected"), [
    (None, 0o444), (0o440, 0o440), (0o400, 0o400), (0o755, 0o555), (0o600, 0o400), (0o4755, 0o4555),
])
def test_the_mode_is_0444_by_default_and_write_bits_are_ignored(mode: int | None, expected: int) -> None:
    assert Grant(source="a", mode=mode).file_mode() == expected


@pytest.mark.parametrize(("written", "mode"), [("0440", 0o440), ("0o440", 0o440), ("'0440'", 0o440),
                                               ("'440'", 0o440), ("288", 0o440), ("'0o640'", 0o640)])
def test_modes_read_as_compose_reads_them(load_text: Load, written: str, mode: int) -> None:
    project = load_text(f"services: {{a: {{image: i, configs: [{{source: c, mode: {written}}}]}}}}\n"
                        "configs: {c: {content: x}}\n")
    assert project.topology.services["a"].configs[0].mode == mode


# --- located errors --------------------------------------------------------------------


def test_a_missing_secret_file_is_located(load_errors: Errors, tmp_path: Path) -> None:
    errors = load_errors("services: {a: {image: i, secrets: [pw]}}\nsecrets:\n  pw:\n    file: ./nope.txt\n")
    assert errors == [f"xcompose.yaml:4: secrets.pw.file: secret file './nope.txt' not found "
                      f"(looked for {tmp_path / 'nope.txt'})"]


def test_a_folder_is_not_a_secret_file(load_errors: Errors, tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    errors = load_errors("services: {a: {image: i, configs: [k]}}\nconfigs:\n  k: {file: keys}\n")
    assert errors == [f"xcompose.yaml:3: configs.k.file: config file 'keys' is a folder, not a file "
                      f"(looked for {tmp_path / 'keys'})"]


def test_an_unset_variable_is_located_and_says_where_to_set_it(load_errors: Errors) -> None:
    errors = load_errors("services: {a: {image: i, secrets: [token]}}\nsecrets:\n  token:\n"
                         "    environment: OAUTH_TOKEN\n")
    assert errors == ["xcompose.yaml:4: secrets.token.environment: variable 'OAUTH_TOKEN' is not set, and the "
                      "secret 'token' is read from it (set it in the environment or in .env)"]


def test_an_external_secret_is_refused_because_only_swarm_has_them(load_errors: Errors) -> None:
    errors = load_errors("services: {a: {image: i, secrets: [cert], configs: [c]}}\n"
                         "secrets:\n  cert:\n    external: true\n    name: prod_cert\n"
                         "configs:\n  c: {external: true}\n")
    assert errors == [
        "xcompose.yaml:4: secrets.cert.external: external secrets exist only in Docker Swarm; on plain Docker "
        "engines there is no secret store to find 'prod_cert' in: give the secret a source xcompose reads "
        "(file: or environment:)",
        "xcompose.yaml:7: configs.c.external: external configs exist only in Docker Swarm; on plain Docker "
        "engines there is no config store to find 'c' in: give the config a source xcompose reads "
        "(file:, environment: or content:)",
    ]


def test_an_external_secret_is_accepted_on_a_swarm_and_nothing_is_read(load_text: Load) -> None:
    project = load_text("engine: swarm\nservices: {a: {image: i, secrets: [cert]}}\n"
                        "secrets:\n  cert: {external: true}\n")
    assert ("secrets", "cert") not in project.contents


def test_an_unknown_name_given_to_a_service_gets_a_suggestion(load_errors: Errors) -> None:
    errors = load_errors("services:\n  a:\n    image: i\n    secrets:\n      - db_pasword\n"
                         "      - source: api\n    configs: [motd]\n"
                         "secrets:\n  db_password: {content: x}\n" .replace("content: x", "environment: X"),
                         env={"X": "1"})
    assert errors == [
        "xcompose.yaml:5: services.a.secrets[0]: unknown secret 'db_pasword' (did you mean 'db_password'?)",
        "xcompose.yaml:6: services.a.secrets[1].source: unknown secret 'api'",
        "xcompose.yaml:7: services.a.configs[0]: unknown config 'motd': no configs are declared "
        "(add it under top-level configs:)",
    ]


def test_a_declaration_has_exactly_one_source(load_errors: Errors) -> None:
    errors = load_errors("secrets:\n  a: {}\n  b: {file: x, environment: Y}\n  c: {content: z}\n"
                         "configs:\n  d: {name: d}\n")
    assert errors == [
        "xcompose.yaml:2: secrets.a: no source: give one of file:, environment: or external: true",
        "xcompose.yaml:3: secrets.b: give one source, not file: and environment:",
        "xcompose.yaml:4: secrets.c.content: unknown key 'content'",
        "xcompose.yaml:6: configs.d: no source: give one of file:, environment:, content: or external: true",
    ]


def test_bad_grants_are_located_at_their_key(load_errors: Errors) -> None:
    errors = load_errors("services:\n  a:\n    image: i\n    secrets:\n      - source: s\n        mode: 0o17777\n"
                         "        uid: www-data\n      - {source: s, target: ../etc/shadow}\n      - {target: x}\n"
                         "      - 7\nsecrets: {s: {environment: S}}\n", env={"S": SECRET})
    assert errors == [
        "xcompose.yaml:6: services.a.secrets[0].mode: 0o17777 is not a file mode: permissions go from 0 to 0o7777",
        "xcompose.yaml:7: services.a.secrets[0].uid: 'www-data' is not a numeric id "
        "(names cannot be looked up outside the image)",
        "xcompose.yaml:8: services.a.secrets[1].target: '../etc/shadow': '..' is not allowed in a target path",
        "xcompose.yaml:9: services.a.secrets[2]: missing required key 'source'",
        "xcompose.yaml:10: services.a.secrets[3]: must be a mapping, not a number",
    ]


def test_names_must_be_usable_as_file_names(load_errors: Errors) -> None:
    errors = load_errors("secrets:\n  ../pw: {environment: X}\n", env={"X": "1"})
    assert errors == ["xcompose.yaml:2: secrets.../pw: '../pw' is not a valid secret name "
                      "(use letters, digits, '_', '.', '-')"]


def test_every_error_of_the_file_is_reported_at_once(load_errors: Errors) -> None:
    errors = load_errors("services: {a: {image: i, secrets: [x, y], ports: [0]}}\n"
                         "secrets:\n  x: {file: nope}\n  y: {environment: UNSET}\n")
    assert [e.split(": ")[1] for e in errors] == ["services.a.ports[0]", "secrets.x.file", "secrets.y.environment"]


def test_swarm_only_keys_are_ignored_with_a_located_warning(load_text: Load) -> None:
    project = load_text("secrets:\n  a:\n    environment: X\n    driver: vault\n    labels: [team=db]\n",
                        env={"X": "1"})
    assert project.warnings == [
        "xcompose.yaml:4: secrets.a.driver: only Docker Swarm reads this key: ignored on plain Docker engines",
        "xcompose.yaml:5: secrets.a.labels: only Docker Swarm reads this key: ignored on plain Docker engines",
    ]


# --- nothing secret in any output ------------------------------------------------------


def test_no_error_message_shows_a_secret_value(load_text: Load, folder: Path) -> None:
    bad = APP.replace("mode: 0440", "mode: rw").replace("shop/app", "shop/app\n    ports: [x]")
    bad += "  broken:\n    content: 123\n"
    with pytest.raises(ConfigErrors) as info:
        load_text(bad, env={"API_KEY": SECRET, "SITE": SECRET})
    assert len(info.value.errors) == 3
    assert SECRET not in "\n".join(info.value.lines())


def test_config_prints_declarations_never_contents(load_text: Load, folder: Path) -> None:
    project = load_text(APP, env={"API_KEY": "k3y", "SITE": "inline-site"})
    assert "k3y" not in repr(project) and SECRET not in repr(project)
    text = dump_config(project)
    assert SECRET not in text and "k3y" not in text  # a file's or a variable's content: never
    dumped = yaml.safe_load(text)
    assert dumped["secrets"] == {"db_password": {"file": str(folder / "db_password.txt")},
                                 "api_key": {"environment": "API_KEY"}}
    assert dumped["configs"]["motd"] == {"content": "welcome to inline-site"}  # in the file: shown, as Compose
    assert dumped["services"]["db"]["secrets"] == ["db_password"]
    assert dumped["services"]["app"]["secrets"][0] == {"source": "db_password", "target": "pw", "uid": 103,
                                                       "gid": 104, "mode": "0440"}


def test_config_loads_back_to_the_same_topology(load_text: Load, folder: Path) -> None:
    project = load_text(APP, env={"API_KEY": "k"})
    (folder / "dumped.yaml").write_text(dump_config(project))
    again = load_project([folder / "dumped.yaml"], environ={"API_KEY": "k"})
    assert again.topology.model_copy(update={"name": None}) == project.topology.model_copy(update={"name": None})
    assert again.contents == project.contents


def test_an_override_file_replaces_a_grant_by_its_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""\
        services:
          a: {image: i, secrets: [one, {source: two, target: t}]}
        secrets: {one: {environment: X}, two: {environment: X}, three: {environment: X}}
        """))
    (tmp_path / "over.yaml").write_text("services:\n  a: {secrets: [{source: three, target: t}, one]}\n")
    monkeypatch.chdir(tmp_path)
    project = load_project(["base.yaml", "over.yaml"], environ={"X": "1"})
    assert project.topology.services["a"].secrets == [Grant(source="one"), Grant(source="three", target="t")]


def test_the_schema_offers_both_forms_and_every_source() -> None:
    schema = topology_schema()
    assert set(schema["$defs"]["SecretDecl"]["properties"]) >= {"file", "environment", "external", "name"}
    assert "content" in schema["$defs"]["ConfigDecl"]["properties"]
    items = schema["$defs"]["Service"]["properties"]["secrets"]["items"]["anyOf"]
    assert {"type": "string"} in items
