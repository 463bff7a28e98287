"""Several `-f` files merged as Compose merges them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from xcompose.config.load import load_project
from xcompose.config.model import Service
from xcompose.config.project import Project
from xcompose.errors import ConfigErrors

BASE = """\
hosts:
  db1: {address: 10.0.0.1, docker: "ssh://deploy@10.0.0.1"}
  web1: {address: 10.0.0.2}
services:
  db:
    image: postgres:16
    host: db1
    expose: [5432]
  app:
    image: shop/app:1.4
    host: web1
    command: [serve, --port, "80"]
    ports: ["80:8080"]
    links: [db]
    cap_add: NET_ADMIN
    environment: [A=1, B=2]
    labels: {tier: web}
    depends_on: [db]
    volumes: ["data:/data", "./conf:/etc/app:ro"]
    healthcheck: {test: [CMD, check], interval: 5s, retries: 3}
volumes:
  data:
"""


def merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str, base: str = BASE) -> Project:
    (tmp_path / "base.yaml").write_text(base)
    (tmp_path / "over.yaml").write_text(textwrap.dedent(override))
    monkeypatch.chdir(tmp_path)
    return load_project(["base.yaml", "over.yaml"], environ={})


@pytest.fixture
def merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return lambda override, base=BASE: merged(tmp_path, monkeypatch, override, base)


def app(project: Project) -> Service:
    return project.topology.services["app"]


def test_a_later_scalar_overrides_an_earlier_one(merge) -> None:  # type: ignore[no-untyped-def]
    assert app(merge("services:\n  app:\n    image: shop/app:2.0\n")).image == "shop/app:2.0"


def test_host_settings_merge_key_by_key(merge) -> None:  # type: ignore[no-untyped-def]
    host = merge("hosts:\n  db1: {address: 172.30.0.2}\n").topology.hosts["db1"]
    assert (host.address, host.docker) == ("172.30.0.2", "ssh://deploy@10.0.0.1")


def test_ports_are_concatenated_without_duplicates(merge) -> None:  # type: ignore[no-untyped-def]
    ports = app(merge("services:\n  app:\n    ports: ['80:8080', '443:8443']\n")).published_ports()
    assert [(p.published, p.target) for _, p in ports] == [(80, 8080), (443, 8443)]


def test_links_and_expose_accumulate(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("services:\n  db:\n    expose: [5433]\n  app:\n    links: ['db:database']\n")
    assert [p.port for p in project.topology.services["db"].exposed_ports()] == [5432, 5433]
    assert [(link.target, link.alias) for link in app(project).links] == [("db", "db"), ("db", "database")]


def test_a_single_string_cap_add_merges_with_a_list(merge) -> None:  # type: ignore[no-untyped-def]
    assert app(merge("services:\n  app:\n    cap_add: [SYS_TIME, NET_ADMIN]\n")).cap_add == ["NET_ADMIN", "SYS_TIME"]


def test_environment_merges_by_name_across_list_and_map_forms(merge) -> None:  # type: ignore[no-untyped-def]
    env = app(merge("services:\n  app:\n    environment: {B: two, C: '3'}\n")).environment
    assert env == {"A": "1", "B": "two", "C": "3"}


def test_labels_merge_by_name(merge) -> None:  # type: ignore[no-untyped-def]
    assert app(merge("services:\n  app:\n    labels: [team=shop]\n")).labels == {"tier": "web", "team": "shop"}


def test_container_option_lists_accumulate_and_sysctls_merge_by_name(merge) -> None:  # type: ignore[no-untyped-def]
    base = BASE.replace("    cap_add: NET_ADMIN\n", "    cap_add: NET_ADMIN\n    dns: 1.1.1.1\n    tmpfs: /run\n"
                        "    sysctls: {net.core.somaxconn: 1024}\n    extra_hosts: [a=10.0.0.1]\n")
    service = app(merge("services:\n  app:\n    dns: [8.8.8.8]\n    tmpfs: /tmp\n"
                        "    sysctls: [net.ipv4.tcp_syncookies=0]\n    extra_hosts: [b=10.0.0.2]\n", base))
    assert (service.dns, service.tmpfs) == (["1.1.1.1", "8.8.8.8"], ["/run", "/tmp"])
    assert service.sysctls == {"net.core.somaxconn": "1024", "net.ipv4.tcp_syncookies": "0"}
    assert service.extra_hosts == ["a:10.0.0.1", "b:10.0.0.2"]


def test_command_is_replaced_whole(merge) -> None:  # type: ignore[no-untyped-def]
    assert app(merge("services:\n  app:\n    command: serve --debug\n")).command == "serve --debug"


def test_volumes_merge_by_target_path(merge) -> None:  # type: ignore[no-untyped-def]
    volumes = app(merge("services:\n  app:\n    volumes: ['./other:/data', '/cache']\n")).volumes
    assert [(v.source, v.target) for v in volumes] == [("./other", "/data"), ("./conf", "/etc/app"), (None, "/cache")]


def test_depends_on_list_and_map_forms_merge(merge) -> None:  # type: ignore[no-untyped-def]
    depends = app(merge("services:\n  app:\n    depends_on: {db: {condition: service_healthy}}\n")).depends_on
    assert {k: v.condition for k, v in depends.items()} == {"db": "service_healthy"}


def test_healthcheck_merges_key_by_key(merge) -> None:  # type: ignore[no-untyped-def]
    check = app(merge("services:\n  app:\n    healthcheck: {retries: 10}\n")).healthcheck
    assert check is not None and (check.test, check.interval, check.retries) == (["CMD", "check"], 5.0, 10)


def test_a_new_service_in_the_override_is_added(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("services:\n  worker: {image: w, host: web1}\n")
    assert set(project.topology.services) == {"db", "app", "worker"}


def test_locations_point_to_the_file_that_set_the_value_last(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("services:\n  app:\n    image: shop/app:2.0\n    ports: ['443:8443']\n")
    assert project.locations[("services", "app", "image")] == ("over.yaml", 3)
    assert project.locations[("services", "app", "command")] == ("base.yaml", 12)
    assert project.locations[("services", "app", "ports", 0)] == ("base.yaml", 13)
    assert project.locations[("services", "app", "ports", 1)] == ("over.yaml", 4)


def test_a_mapping_and_a_scalar_cannot_merge_and_both_files_are_named(merge) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigErrors) as info:
        merge("services:\n  app:\n    healthcheck: none\n")
    assert [str(e) for e in info.value.errors] == [
        "over.yaml:3: services.app.healthcheck: cannot merge a string (over.yaml:3) into a mapping "
        "(base.yaml:20); use the same form in both files"
    ]


def test_an_error_in_the_override_is_located_in_the_override(merge) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigErrors) as info:
        merge("services:\n  app:\n    links: [dbb]\n")
    assert [str(e) for e in info.value.errors] == [
        "over.yaml:3: services.app.links[1]: unknown service 'dbb' (did you mean 'db'?)"
    ]


def test_an_empty_entry_in_the_override_keeps_the_base_declaration(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("volumes:\n  data:\n", base=BASE.replace("  data:\n", "  data: {driver: local}\n"))
    assert project.topology.volume("data").driver == "local"


# --- !reset and !override ----------------------------------------------------------------


def test_reset_removes_what_earlier_files_set(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("services:\n  app:\n    ports: !reset []\n    environment:\n      A: !reset null\n")
    assert (app(project).ports, app(project).environment) == ([], {"B": "2"})


def test_reset_of_a_whole_mapping_drops_it(merge) -> None:  # type: ignore[no-untyped-def]
    assert app(merge("services:\n  app:\n    healthcheck: !reset {}\n")).healthcheck is None


def test_override_replaces_instead_of_merging(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("services:\n  app:\n    ports: !override ['8443:443']\n    labels: !override {team: x}\n")
    assert [p.short() for _, p in app(project).published_ports()] == ["8443:443"]
    assert app(project).labels == {"team": "x"}


def test_override_of_a_healthcheck_does_not_keep_earlier_keys(merge) -> None:  # type: ignore[no-untyped-def]
    check = app(merge("services:\n  app:\n    healthcheck: !override {test: [CMD, other]}\n")).healthcheck
    assert check is not None and (check.test, check.interval, check.retries) == (["CMD", "other"], 30.0, 3)


def test_a_reset_in_the_first_file_just_leaves_the_key_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one.yaml").write_text("services:\n  app:\n    image: a\n    ports: !reset ['80:80']\n")
    monkeypatch.chdir(tmp_path)
    assert load_project(["one.yaml"], environ={}).topology.services["app"].ports == []


def test_a_reset_list_item_is_left_out(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("services:\n  app:\n    cap_add: [SYS_TIME, !reset NET_RAW]\n")
    assert app(project).cap_add == ["NET_ADMIN", "SYS_TIME"]


def test_other_tags_are_still_refused(merge) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigErrors) as info:
        merge("services:\n  app:\n    ports: !replace []\n")
    assert [str(e) for e in info.value.errors] == ["over.yaml:3: services.app.ports: unsupported YAML tag !replace"]


# --- where a merged service is located ---------------------------------------------------


def test_an_error_about_a_service_points_at_its_definition_not_at_a_placement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: a\n  db:\n    restart: always\n")
    (tmp_path / "xcompose.yaml").write_text(
        "hosts:\n  h1: {}\n  h2: {}\nservices:\n  web: {host: h1}\n  db: {host: h2}\n"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigErrors) as info:
        load_project(["compose.yaml", "xcompose.yaml"], environ={})
    assert [str(e) for e in info.value.errors] == ["compose.yaml:4: services.db: missing required key 'image' (or `build:`, to build the image)"]


def test_a_service_first_defined_in_the_override_is_located_there(merge) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigErrors) as info:
        merge("services:\n  worker:\n    host: web1\n")
    assert [str(e) for e in info.value.errors] == ["over.yaml:2: services.worker: missing required key 'image' (or `build:`, to build the image)"]


def test_an_empty_service_entry_is_where_the_service_is_defined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n")
    (tmp_path / "xcompose.yaml").write_text("services:\n  web: {user: root}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigErrors) as info:
        load_project(["compose.yaml", "xcompose.yaml"], environ={})
    assert [str(e) for e in info.value.errors] == ["compose.yaml:2: services.web: missing required key 'image' (or `build:`, to build the image)"]


def test_a_mapping_both_files_add_to_keeps_its_first_location(merge) -> None:  # type: ignore[no-untyped-def]
    project = merge("services:\n  app:\n    labels: {team: shop}\n    ports: ['443:8443']\n")
    assert project.locations[("services", "app")] == ("base.yaml", 9)
    assert project.locations[("services", "app", "labels")] == ("base.yaml", 17)
    assert project.locations[("services", "app", "labels", "team")] == ("over.yaml", 3)
    assert project.locations[("services", "app", "ports")] == ("base.yaml", 13)
