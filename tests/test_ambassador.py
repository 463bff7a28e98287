"""The relay of an ambassador: haproxy config and TLS from the Step, files not flags."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

import pytest
import yaml

from xcompose.ambassador import (
    FILES_ATTR,
    HAPROXY_CONFIG,
    LABEL_RELAY_DIGEST,
    LABEL_TLS_CERT,
    archive,
    haproxy_config,
    relay_kind,
    secure_plan,
    upload_for,
)
from xcompose.errors import UsageError
from xcompose.loader import load_project
from xcompose.plan import Relay
from xcompose.planner import build_plan


def _plan(tls: bool = True, image: str = "haproxy:2.6"):  # type: ignore[no-untyped-def]
    data = {
        "name": "shop",
        "hosts": {"db1": {"address": "10.0.0.1"}, "web1": {"address": "10.0.0.2"}},
        "ambassador": {"image": image, "tls": tls},
        "services": {
            "db": {"image": "redis:7", "host": "db1", "expose": [6379]},
            "app": {"image": "app:1", "host": "web1", "links": ["db:cache"]},
        },
    }
    folder = Path(tempfile.mkdtemp())
    (folder / "shop.yaml").write_text(yaml.safe_dump(data))
    return build_plan(load_project([str(folder / "shop.yaml")]))


@pytest.fixture(autouse=True)
def _state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def test_the_relay_is_haproxy_unless_the_image_is_socat() -> None:
    assert relay_kind("haproxy:2.6") == "haproxy"
    assert relay_kind("registry.example:5000/haproxy:2.8") == "haproxy"
    assert relay_kind("alpine/socat:latest") == "socat"


def _udp_plan(image: str):  # type: ignore[no-untyped-def]
    data = {
        "name": "dns",
        "hosts": {"a": {"address": "10.0.0.1"}, "b": {"address": "10.0.0.2"}},
        "ambassador": {"image": image},
        "services": {
            "ns": {"image": "ns:1", "host": "a", "expose": ["53/udp"]},
            "app": {"image": "app:1", "host": "b", "links": ["ns"]},
        },
    }
    folder = Path(tempfile.mkdtemp())
    (folder / "dns.yaml").write_text(yaml.safe_dump(data))
    return build_plan(load_project([str(folder / "dns.yaml")]))


def test_udp_needs_a_socat_image_and_says_so() -> None:
    with pytest.raises(UsageError, match="relays TCP only.*socat"):
        secure_plan(_udp_plan("haproxy:2.6"))
    plan = secure_plan(_udp_plan("alpine/socat:latest"))
    assert plan.step("ambassador-server:ns").container.command[0].startswith("UDP-LISTEN:53")


def test_server_requires_client_certificates_and_client_verifies_the_server_name() -> None:
    plan = secure_plan(_plan())
    server = plan.graph.nodes["ambassador-server:db"]
    client = plan.graph.nodes["ambassador-client:db@web1"]
    server_cfg = server[FILES_ATTR][HAPROXY_CONFIG][0].decode()
    client_cfg = client[FILES_ATTR][HAPROXY_CONFIG][0].decode()
    assert "bind :6379 ssl crt" in server_cfg and "verify required" in server_cfg
    assert "server relay db:6379" in server_cfg
    assert "server relay 10.0.0.1:6379" in client_cfg
    assert "verifyhost shop-db-ambassador " in client_cfg and "verify required" in client_cfg


def test_nothing_secret_in_command_env_or_labels_and_the_key_is_0600() -> None:
    plan = secure_plan(_plan())
    for step_id in ("ambassador-server:db", "ambassador-client:db@web1"):
        step = plan.step(step_id)
        spec = step.container
        text = repr((spec.entrypoint, spec.command, spec.environment, spec.labels, step.probe))
        assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text
        assert spec.entrypoint == ("haproxy", "-W", "-db", "-f", HAPROXY_CONFIG)
        tar = tarfile.open(fileobj=io.BytesIO(upload_for(plan, step_id)))
        modes = {m.name: m.mode for m in tar.getmembers() if m.isfile()}
        assert modes["usr/local/etc/haproxy/xcompose/ambassador.pem"] == 0o600
        assert b"PRIVATE KEY" in tar.extractfile("usr/local/etc/haproxy/xcompose/ambassador.pem").read()


def test_tls_off_has_no_certificates_and_another_hash() -> None:
    on, off = secure_plan(_plan(tls=True)), secure_plan(_plan(tls=False))
    assert "ssl crt" not in off.graph.nodes["ambassador-server:db"][FILES_ATTR][HAPROXY_CONFIG][0].decode()
    assert len(off.graph.nodes["ambassador-server:db"][FILES_ATTR]) == 1
    h = lambda p: p.step("ambassador-server:db").container.config_hash()  # noqa: E731
    assert h(on) != h(off)


def test_the_hash_is_stable_across_runs_and_changes_on_rotation(tmp_path: Path) -> None:
    from xcompose.pki import ProjectPki

    h = lambda p: p.step("ambassador-client:db@web1").container.config_hash()  # noqa: E731
    first, second = secure_plan(_plan()), secure_plan(_plan())
    assert h(first) == h(second)
    ProjectPki("shop").rotate()
    rotated = secure_plan(_plan())
    assert h(rotated) != h(first)
    labels = dict(rotated.step("ambassador-client:db@web1").container.labels)
    assert labels[LABEL_TLS_CERT].startswith("sha256:") and labels[LABEL_RELAY_DIGEST].startswith("sha256:")


def test_secure_plan_is_idempotent_and_leaves_services_alone() -> None:
    once = secure_plan(_plan())
    twice = secure_plan(once)
    assert [s.container for s in once.steps()] == [s.container for s in twice.steps()]
    plain = _plan()
    assert once.step("service:db") == plain.step("service:db")


def test_socat_image_keeps_socat_with_openssl_addresses() -> None:
    plan = secure_plan(_plan(image="alpine/socat:latest"))
    server = plan.step("ambassador-server:db").container
    client = plan.step("ambassador-client:db@web1").container
    assert server.entrypoint == ("socat",) and server.command[0].startswith("OPENSSL-LISTEN:6379")
    assert "verify=1" in server.command[0]
    assert client.command[1].startswith("OPENSSL:10.0.0.1:6379") and "commonname=shop-db-ambassador" in client.command[1]


def test_haproxy_probe_uses_bash_and_dials_upstream_from_the_client() -> None:
    plan = secure_plan(_plan())
    probe = plan.step("ambassador-client:db@web1").probe
    assert probe[2:4] == ("bash", "-c")
    assert "/dev/tcp/127.0.0.1/6379" in probe[4] and "/dev/tcp/10.0.0.1/6379" in probe[4]


def test_config_has_one_frontend_and_backend_per_port() -> None:
    cfg = haproxy_config([Relay(80, "web", 80), Relay(443, "web", 443)], "ambassador-server", None)
    assert cfg.count("\nfrontend ") == 2 and cfg.count("\nbackend ") == 2 and "mode tcp" in cfg


def test_archive_has_folders_before_files() -> None:
    tar = tarfile.open(fileobj=io.BytesIO(archive({"/a/b/c.txt": (b"x", 0o600)})))
    assert [m.name for m in tar.getmembers()] == ["a/b", "a/b/c.txt"]
    assert [m.mode for m in tar.getmembers()] == [0o755, 0o600]
