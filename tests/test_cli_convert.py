"""`xcompose convert`: where the stack file and the per-host files go, warnings on stderr,
and the files `plan` refuses refused here too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from xcompose.cli import cli

TOPOLOGY = """\
name: shop
hosts:
  a: {address: 10.0.0.1}
  b: {address: 10.0.0.2}
services:
  db: {image: redis:7, host: a, expose: [6379], privileged: true}
  app: {image: redis:7, host: b, links: [db]}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "xcompose.yaml").write_text(TOPOLOGY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_stack_file_goes_to_stdout_and_what_is_left_out_to_stderr(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", "--to", "stack"])
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load(result.stdout)["services"]) == ["db", "app"]
    assert "warning: xcompose.yaml:6: services.db.privileged: a Swarm service has no 'privileged'" in result.stderr


def test_vip_is_asked_for_with_endpoint_mode(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", "--to", "stack", "--endpoint-mode", "vip"])
    assert yaml.safe_load(result.stdout)["services"]["db"]["deploy"]["endpoint_mode"] == "vip"


def test_the_host_files_on_stdout_are_yaml_documents_one_per_host(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", "--to", "compose"])
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert [list(doc["services"]) for doc in documents] == [["db"], ["app"]]
    assert "# host b (10.0.0.2)" in result.stdout.split("---")[1]


def test_with_output_each_host_file_is_written_into_the_folder(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", "--to", "compose", "--output", "out"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["a.yaml", "b.yaml"]
    assert list(yaml.safe_load((folder / "out" / "b.yaml").read_text())["services"]) == ["app"]
    assert result.stdout == ""


def test_with_output_the_stack_file_is_written_there(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", "--to", "stack", "-o", "stack.yaml"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((folder / "stack.yaml").read_text())["version"] == "3.8"


def test_endpoint_mode_with_compose_is_a_usage_error(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", "--to", "compose", "--endpoint-mode", "vip"])
    assert result.exit_code == 2
    assert "--endpoint-mode applies to --to stack only" in result.stderr


def test_a_file_plan_refuses_is_not_converted(folder: Path) -> None:
    (folder / "xcompose.yaml").write_text(TOPOLOGY.replace("links: [db]", "links: [dbb]"))
    result = CliRunner().invoke(cli, ["convert", "--to", "stack"])
    assert result.exit_code == 2
    assert "unknown service 'dbb'" in result.stderr and result.stdout == ""


SWARM_ONLY = """\
name: shop
engine: swarm
hosts:
  a: {address: 10.0.0.1}
  b: {address: 10.0.0.2}
services:
  dns: {image: coredns:1, host: a, expose: ["53/udp"], secrets: [cert]}
  app: {image: redis:7, host: b, depends_on: [dns]}
secrets:
  cert: {external: true, name: prod_cert}
"""


def test_a_file_only_a_swarm_runs_converts_to_a_stack_with_its_external_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xcompose.yaml").write_text(SWARM_ONLY)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["convert", "--to", "stack"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["secrets"] == {"cert": {"external": True, "name": "prod_cert"}}


def test_an_external_secret_cannot_go_into_single_host_compose_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xcompose.yaml").write_text(SWARM_ONLY)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["convert", "--to", "compose"])
    assert result.exit_code == 2
    assert "xcompose.yaml:10: secrets.cert.external: external secrets live in a swarm" in result.stderr
