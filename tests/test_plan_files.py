"""The planner's secrets and configs: the files each service step uploads, where and how,
the digest label that re-creates a container when they change, and nothing of their
content in anything a container spec, a step's repr or a rendered plan shows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.planning import S
from xcompose.config.project import Project
from xcompose.errors import ConfigErrors
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.naming import LABEL_FILES_DIGEST
from xcompose.plan.render import render_plan
from xcompose.plan.specs import UploadFile, canonical_json
from xcompose.plan.steps import Plan, ServiceStep

Load = Callable[..., Project]
SECRET = "pg-s3cret-Value"

APP = """\
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
services:
  db:
    image: postgres:16
    host: h1
    environment: {POSTGRES_PASSWORD_FILE: /run/secrets/db_password}
    secrets: [db_password]
  client:
    image: xcompose/tools:latest
    host: h2
    secrets:
      - {source: db_password, target: pgpass, uid: "1000", gid: "1001", mode: 0400}
      - {source: db_password, target: /etc/client/password}
    configs: [motd, {source: motd, target: etc/issue, mode: 0644}]
  other:
    image: xcompose/tools:latest
    host: h2
secrets:
  db_password: {file: db_password.txt}
configs:
  motd: {content: "hello from ${SITE:-shop}"}
"""


@pytest.fixture
def load(load_text: Load, tmp_path: Path) -> Callable[..., Plan]:
    def plan(text: str = APP, password: str = SECRET, **env: str) -> Plan:
        (tmp_path / "db_password.txt").write_text(password)
        return build_plan(load_text(text, env=env), Credentials.none("shop"))

    return plan


def service(plan: Plan, name: str) -> ServiceStep:
    step = plan.step(S(f"service:{name}"))
    assert isinstance(step, ServiceStep)
    return step


def files(plan: Plan, name: str) -> list[tuple[str, bytes, int, int, int]]:
    return [(f.path, f.data, f.mode, f.uid, f.gid) for f in service(plan, name).files]


def test_each_service_uploads_its_secrets_and_configs_where_compose_puts_them(load: Callable[..., Plan]) -> None:
    plan = load()
    secret = SECRET.encode()
    assert files(plan, "db") == [("/run/secrets/db_password", secret, 0o444, 0, 0)]
    assert files(plan, "client") == [
        ("/run/secrets/pgpass", secret, 0o400, 1000, 1001),
        ("/etc/client/password", secret, 0o444, 0, 0),
        ("/motd", b"hello from shop", 0o444, 0, 0),
        ("/etc/issue", b"hello from shop", 0o444, 0, 0),  # 0644 without its write bit
    ]
    assert files(plan, "other") == []


def test_the_digest_label_changes_with_the_content_and_recreates_only_the_users(load: Callable[..., Plan]) -> None:
    before, after = load(), load(password="another password")
    def labels(plan: Plan, name: str) -> dict[str, str]:
        return dict(service(plan, name).container.labels)
    for name in ("db", "client"):
        assert labels(before, name)[LABEL_FILES_DIGEST].startswith("sha256:")
        assert labels(before, name)[LABEL_FILES_DIGEST] != labels(after, name)[LABEL_FILES_DIGEST]
        assert service(before, name).container.config_hash() != service(after, name).container.config_hash()
    for step in before.steps():
        if step.id not in (S("service:db"), S("service:client")) and hasattr(step, "container"):
            assert step.container == after.step(step.id).container  # type: ignore[union-attr]
    assert LABEL_FILES_DIGEST not in labels(before, "other")
    assert load().step(S("service:db")) == before.step(S("service:db"))  # the same file, the same plan


@pytest.mark.parametrize("change", [("mode: 0400", "mode: 0440"), ('uid: "1000"', 'uid: "1002"'),
                                    ("target: pgpass", "target: pgpass2")])
def test_mode_owner_and_place_are_in_the_digest_too(load: Callable[..., Plan], change: tuple[str, str]) -> None:
    edited = load(APP.replace(*change))
    def digest(plan: Plan) -> str:
        return dict(service(plan, "client").container.labels)[LABEL_FILES_DIGEST]
    assert digest(edited) != digest(load())


def test_nothing_secret_in_env_labels_command_hash_input_repr_or_rendered_plan(load: Callable[..., Plan]) -> None:
    plan = load(SITE=SECRET)
    for name in ("db", "client"):
        step = service(plan, name)
        spec_text = canonical_json(step.container)  # what the config hash is made of
        assert SECRET not in spec_text and "hello from" not in spec_text
        assert SECRET not in repr(step) and "hello from" not in repr(step)
        assert "/run/secrets" in repr(step) or "/motd" in repr(step)  # the paths are not secret
    assert SECRET not in repr(plan.steps())
    for fmt in ("table", "json", "dot", "mermaid"):
        assert SECRET not in render_plan(plan, fmt)  # type: ignore[arg-type]


def test_the_digest_is_not_a_bare_hash_of_the_secret(load: Callable[..., Plan]) -> None:
    digest = dict(service(load(), "db").container.labels)[LABEL_FILES_DIGEST]
    assert hashlib.sha256(SECRET.encode()).hexdigest() not in digest


def test_two_files_at_one_path_are_an_error(load: Callable[..., Plan]) -> None:
    text = APP.replace("target: /etc/client/password}", "target: /motd}")
    with pytest.raises(ConfigErrors) as caught:
        load(text)
    assert [str(e) for e in caught.value.errors] == [
        "xcompose.yaml:16: services.client.configs[0]: /motd is already where secret 'db_password' goes; "
        "give one of them another `target:`"]


@pytest.mark.parametrize(("volume", "kind", "target", "why"), [
    ("{type: tmpfs, target: /run}", "tmpfs", "/run", "would be hidden under the tmpfs"),
    ("'./run:/run/secrets'", "bind", "/run/secrets", "would be written into the host folder"),
    ("'cache:/run'", "volume", "/run", "would be written into the volume"),
])
def test_a_file_below_a_mount_is_an_error(load: Callable[..., Plan], volume: str, kind: str, target: str,
                                          why: str) -> None:
    text = APP.replace("    secrets: [db_password]\n", f"    secrets: [db_password]\n    volumes: [{volume}]\n")
    with pytest.raises(ConfigErrors) as caught:
        load(text + "volumes: {cache: {}}\n")
    assert [str(e) for e in caught.value.errors] == [
        f"xcompose.yaml:9: services.db.secrets[0]: /run/secrets/db_password is below the {kind} mount at "
        f"{target}: the secret {why}; give it a `target:` outside {target}"]


def test_upload_files_never_show_their_data() -> None:
    assert SECRET not in repr(UploadFile("/run/secrets/x", SECRET.encode(), 0o400, 1, 2))
