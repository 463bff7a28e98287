"""`pki rotate`, `pki export`, `pki import`, and what `plan` and `up` do with the CA the
hosts keep, against in-memory engines. On the lab: tests/e2e/test_operators.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.cli import cli
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.run.statebox import BOX_IMAGE, box_name

TOPOLOGY = """\
name: shop
hosts:
  a: {address: 10.0.0.1, docker: "unix:///a.sock"}
  b: {address: 10.0.0.2, docker: "unix:///b.sock"}
services:
  db: {image: redis:7, host: a, expose: [6379]}
  app: {image: redis:7, host: b, depends_on: [db]}
"""


@pytest.fixture
def engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeEngine]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(TOPOLOGY)
    found = {name: FakeEngine(name) for name in ("a", "b")}
    monkeypatch.setattr("xcompose.engines.connect", lambda target: FakeExecutor(target, found[target.name]))
    return found


def run(*args: str, machine: str = "ann") -> Result:
    """The command as run on `machine`: its own state folder."""
    env = {"XDG_STATE_HOME": f"state-{machine}", "XCOMPOSE_OPERATOR": f"{machine}@{machine}-laptop"}
    return CliRunner().invoke(cli, list(args), prog_name="xcompose", env=env)


def creates(engines: dict[str, FakeEngine]) -> list[str]:
    """The project's containers made since the last look (state boxes left out)."""
    made = [call for e in engines.values() for call in e.calls if call.startswith("create shop-")]
    for engine in engines.values():
        engine.calls.clear()
    return sorted(made)


def test_plan_of_a_new_project_writes_nothing_on_the_hosts(engines: dict[str, FakeEngine]) -> None:
    result = run("plan")
    assert result.exit_code == 0, result.output
    assert all(not e.containers and BOX_IMAGE not in e.images for e in engines.values())


def test_up_from_a_second_machine_recreates_nothing(engines: dict[str, FakeEngine]) -> None:
    assert run("up").exit_code == 0
    assert "shop-db-ambassador" in " ".join(creates(engines))
    second = run("up", machine="bob")
    assert second.exit_code == 0 and "nothing to change" in second.output, second.output
    assert creates(engines) == []


def test_an_up_that_finds_the_certificates_on_the_hosts_issues_none_and_checks_no_signature(
        engines: dict[str, FakeEngine], monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("up").exit_code == 0
    creates(engines)
    issued: list[str] = []
    checked: list[bytes] = []
    monkeypatch.setattr(CertificateAuthority, "issue", lambda self, name: issued.append(name))
    monkeypatch.setattr(CertificateAuthority, "signed", lambda self, pem: checked.append(pem))
    second = run("up", machine="bob")
    assert second.exit_code == 0 and "nothing to change" in second.output, second.output
    assert issued == [] and checked == [] and creates(engines) == []


def test_client_ambassadors_with_certificates_of_their_own_are_not_recreated(
        engines: dict[str, FakeEngine], monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as before:  # as an xcompose that gave each its own made them
        before.setattr(Credentials, "client_identity", lambda self, name, host: self.identity(name))
        assert run("up").exit_code == 0
    creates(engines)
    again = run("up", machine="bob")
    assert again.exit_code == 0 and "nothing to change" in again.output, again.output
    assert creates(engines) == []


def test_rotate_then_up_recreates_the_ambassadors_only(engines: dict[str, FakeEngine]) -> None:
    assert run("up").exit_code == 0
    creates(engines)
    rotated = run("pki", "rotate", machine="bob")
    assert rotated.exit_code == 0 and "generation 2" in rotated.output, rotated.output
    assert run("up", machine="cat").exit_code == 0
    assert creates(engines) == ["create shop-db-ambassador", "create shop-db-ambassador-b"]


def test_an_export_restores_the_ca_after_every_copy_is_lost(engines: dict[str, FakeEngine], tmp_path: Path) -> None:
    assert run("up").exit_code == 0
    creates(engines)
    exported = run("pki", "export", "backup.tar")
    assert exported.exit_code == 0, exported.output
    assert stat.S_IMODE((tmp_path / "backup.tar").stat().st_mode) == 0o600
    for engine in engines.values():
        box = engine.named(box_name("shop", "pki"))
        assert box is not None
        del engine.containers[box.id]
    imported = run("pki", "import", "backup.tar", machine="bob")
    assert imported.exit_code == 0, imported.output
    assert run("up", machine="cat").exit_code == 0
    assert creates(engines) == []


def test_export_of_a_project_without_a_ca_says_so(engines: dict[str, FakeEngine]) -> None:
    result = run("pki", "export", "backup.tar")
    assert result.exit_code == 2 and "project shop has no CA on the hosts that answered (a, b)" in result.output


def test_import_of_a_file_that_is_no_bundle_is_a_located_error(engines: dict[str, FakeEngine], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = run("pki", "import", "notes.txt")
    assert result.exit_code == 2 and "notes.txt: not an xcompose PKI bundle" in result.output, result.output
    assert "Traceback" not in result.output


def test_import_of_a_missing_file_is_a_usage_error(engines: dict[str, FakeEngine]) -> None:
    result = run("pki", "import", "nowhere.tar")
    assert result.exit_code == 2 and "nowhere.tar: No such file or directory" in result.output, result.output
