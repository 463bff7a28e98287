"""`convert --to compose`: one single-host compose file per host, which xcompose's own loader
reads back; what crossed hosts through ambassadors crosses them by the hosts' addresses."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import load_files
from xcompose.config.project import Project
from xcompose.plan.convert_hosts import to_host_files

Load = Callable[..., Project]

SHOP = """\
name: shop
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
  h3: {address: 10.0.0.3}
services:
  db:
    image: redis:7
    host: h1
    expose: [6379]
    volumes: ["data:/data"]
    ambassador: {tls: false}
  app:
    image: redis:7
    host: h2
    links: ["db:cache"]
    depends_on: [db, worker]
    networks: [default, back]
  worker:
    image: redis:7
    host: h2
    networks: [back]
volumes:
  data: {}
networks:
  back: {}
"""


def files(project: Project) -> dict[str, dict[str, Any]]:
    return {host: yaml.safe_load(converted.text) for host, converted in to_host_files(project).items()}


def test_there_is_one_file_per_host_with_the_services_placed_there_and_none_for_an_idle_host(
        load_text: Load) -> None:
    found = files(load_text(SHOP))
    assert {host: list(doc["services"]) for host, doc in found.items()} == {"h1": ["db"], "h2": ["app", "worker"]}


def test_each_file_loads_back_as_a_single_host_project_with_the_same_services(load_text: Load,
                                                                               tmp_path: Path) -> None:
    for host, converted in to_host_files(load_text(SHOP)).items():
        path = tmp_path / f"{host}.yaml"
        path.write_text(converted.text)
        loaded = load_files(str(path))
        assert not loaded.topology.hosts
        assert list(loaded.topology.services) == list(yaml.safe_load(converted.text)["services"])


def test_xcompose_only_keys_are_gone(load_text: Load) -> None:
    found = files(load_text(SHOP))
    assert "host" not in found["h1"]["services"]["db"] and "ambassador" not in found["h1"]["services"]["db"]
    assert "hosts" not in found["h1"] and "name" not in found["h1"]


def test_a_target_reached_from_another_host_publishes_its_ports_on_its_hosts_address(load_text: Load) -> None:
    assert files(load_text(SHOP))["h1"]["services"]["db"]["ports"] == ["10.0.0.1:6379:6379"]


def test_its_consumer_finds_it_by_name_and_alias_at_that_address(load_text: Load) -> None:
    app = files(load_text(SHOP))["h2"]["services"]["app"]
    assert app["extra_hosts"] == ["db:10.0.0.1", "cache:10.0.0.1"]
    assert "links" not in app
    assert app["environment"]["CACHE_PORT_6379_TCP"] == "tcp://cache:6379"


def test_depends_on_keeps_only_services_of_the_same_host_and_warns_of_the_others(load_text: Load) -> None:
    converted = to_host_files(load_text(SHOP))["h2"]
    assert yaml.safe_load(converted.text)["services"]["app"]["depends_on"] == ["worker"]
    assert converted.warnings == ["xcompose.yaml:17: services.app.depends_on.db: 'db' runs on h1: start it there "
                                  "first"]


def test_a_file_holds_only_the_declarations_its_services_use(load_text: Load) -> None:
    found = files(load_text(SHOP))
    assert found["h1"]["volumes"] == {"data": {}} and "networks" not in found["h1"]
    assert found["h2"]["networks"] == {"back": {}} and "volumes" not in found["h2"]


def test_the_header_names_the_host_and_how_to_run_the_file(load_text: Load) -> None:
    text = to_host_files(load_text(SHOP))["h1"].text
    assert text.startswith("# host h1 (10.0.0.1): the services of the project shop")
    assert "docker compose -p shop -f FILE up -d" in text


def test_a_linked_target_without_a_port_is_said_to_be_unreachable(load_text: Load) -> None:
    project = load_text("""\
        hosts: {h1: {address: 10.0.0.1}, h2: {address: 10.0.0.2}}
        services:
          db: {image: redis:7, host: h1}
          app: {image: redis:7, host: h2, links: [db]}
        """)
    converted = to_host_files(project)["h1"]
    assert "ports" not in yaml.safe_load(converted.text)["services"]["db"]
    assert converted.warnings == ["xcompose.yaml:3: services.db: linked from other hosts but declares no port: add "
                                  "`expose:` to publish it on its host's address"]


def test_two_targets_on_one_host_do_not_both_take_one_port(load_text: Load) -> None:
    project = load_text("""\
        hosts: {h1: {address: 10.0.0.1}, h2: {address: 10.0.0.2}}
        services:
          a: {image: redis:7, host: h1, expose: [6379]}
          b: {image: redis:7, host: h1, expose: [6379]}
          app: {image: redis:7, host: h2, links: [a, b]}
        """)
    converted = to_host_files(project)["h1"]
    services = yaml.safe_load(converted.text)["services"]
    assert services["a"]["ports"] == ["10.0.0.1:6379:6379"] and services["b"].get("ports", []) == []
    assert "published for 'a' already" in converted.warnings[0]


def test_a_file_without_hosts_gives_one_file_for_the_local_engine(load_text: Load) -> None:
    found = files(load_text("services:\n  a: {image: redis:7, links: [b]}\n  b: {image: redis:7, expose: [1]}\n"))
    assert list(found) == ["local"]
    assert found["local"]["services"]["a"]["links"] == ["b"]
    assert "ports" not in found["local"]["services"]["b"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose v1 checks the files' format")
def test_docker_compose_v1_accepts_every_host_file(load_text: Load, tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text("x")
    project = load_text(SHOP.replace("    ambassador: {tls: false}\n", "    secrets: [{source: pw, uid: '10', mode: "
                                     "'0400'}]\n    restart: always\n    ports: ['8080:80']\n")
                        + "secrets: {pw: {file: pw.txt}}\n")
    for host, converted in to_host_files(project).items():
        path = tmp_path / f"{host}.yaml"
        path.write_text(converted.text)
        proc = subprocess.run(["docker-compose", "-f", str(path), "config", "-q"], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, f"{host}: {proc.stderr}"
