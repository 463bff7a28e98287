"""The relay inside an ambassador: haproxy config and TLS from the plan, files not flags,
the socat fallback, and the probes."""

from __future__ import annotations

import io
import shlex
import tarfile
from pathlib import Path

import yaml

from tests.planning import S
from xcompose.config.load import load_project
from xcompose.engines.base import archive
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.naming import (
    LABEL_HOST,
    LABEL_RELAY,
    LABEL_RELAY_DIGEST,
    LABEL_ROLE,
    LABEL_TLS_CA,
    LABEL_TLS_CERT,
)
from xcompose.plan.relay import (
    HAPROXY_CONFIG,
    HAPROXY_ENTRYPOINT,
    NEW_CA,
    ambassador,
    haproxy_config,
    relay_command,
    relay_kind,
    relay_probe,
)
from xcompose.plan.render import render_plan
from xcompose.plan.specs import Endpoint, PortBinding, RelaySetup, UploadFile
from xcompose.plan.specs import RelayPort as Relay
from xcompose.plan.steps import AMBASSADOR_STEPS, AmbassadorStep, Plan, ServiceStep

CA = CertificateAuthority.new("shop")


def _plan(tmp_path: Path, tls: bool = True, image: str = "haproxy:2.6",
          credentials: Credentials | None = None) -> Plan:
    data = {
        "name": "shop",
        "hosts": {"db1": {"address": "10.0.0.1"}, "web1": {"address": "10.0.0.2"}},
        "ambassador": {"image": image, "tls": tls},
        "services": {
            "db": {"image": "redis:7", "host": "db1", "expose": [6379]},
            "app": {"image": "app:1", "host": "web1", "links": ["db:cache"]},
        },
    }
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(data))
    return build_plan(load_project([str(tmp_path / "shop.yaml")]), credentials or Credentials("shop", CA))


def _amb(plan: Plan, text: str) -> AmbassadorStep:
    step = plan.step(S(text))
    assert isinstance(step, AMBASSADOR_STEPS)
    return step


def _file(relay: RelaySetup, path: str) -> UploadFile:
    return next(f for f in relay.files if f.path == path)


def test_the_relay_is_haproxy_unless_the_image_is_socat() -> None:
    assert relay_kind("haproxy:2.6") == "haproxy"
    assert relay_kind("registry.example:5000/haproxy:2.8") == "haproxy"
    assert relay_kind("alpine/socat:latest") == "socat"


def test_server_requires_client_certificates_and_client_verifies_the_server_name(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    server_cfg = _file(_amb(plan, "ambassador-server:db").relay, HAPROXY_CONFIG).data.decode()
    client_cfg = _file(_amb(plan, "ambassador-client:db@web1").relay, HAPROXY_CONFIG).data.decode()
    assert "bind :6379 ssl crt" in server_cfg and "verify required" in server_cfg
    assert "server relay db:6379" in server_cfg
    assert "server relay 10.0.0.1:6379" in client_cfg
    assert "verifyhost shop-db-ambassador " in client_cfg and "verify required" in client_cfg


def test_nothing_secret_in_command_env_or_labels_and_the_key_is_0600(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    for step_id in ("ambassador-server:db", "ambassador-client:db@web1"):
        step = _amb(plan, step_id)
        spec = step.container
        text = repr((spec.entrypoint, spec.command, spec.environment, spec.labels, step.relay))
        assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text
        assert spec.entrypoint == ("haproxy", "-W", "-db", "-f", HAPROXY_CONFIG)
        with tarfile.open(fileobj=io.BytesIO(archive(step.relay.files))) as tar:
            modes = {m.name: m.mode for m in tar.getmembers() if m.isfile()}
            assert modes["usr/local/etc/haproxy/xcompose/ambassador.pem"] == 0o600
            member = tar.extractfile("usr/local/etc/haproxy/xcompose/ambassador.pem")
            assert member is not None and b"PRIVATE KEY" in member.read()


def test_tls_off_has_no_certificates_and_another_hash(tmp_path: Path) -> None:
    on, off = _plan(tmp_path, tls=True), _plan(tmp_path, tls=False)
    relay = _amb(off, "ambassador-server:db").relay
    assert "ssl crt" not in _file(relay, HAPROXY_CONFIG).data.decode() and len(relay.files) == 1
    def digest(p: Plan) -> str:
        return _amb(p, "ambassador-server:db").container.config_hash()
    assert digest(on) != digest(off)


def test_the_hash_is_stable_with_the_same_credentials_and_changes_with_the_ca(tmp_path: Path) -> None:
    credentials = Credentials("shop", CA)
    def digest(p: Plan) -> str:
        return _amb(p, "ambassador-client:db@web1").container.config_hash()
    first = _plan(tmp_path, credentials=credentials)
    assert digest(_plan(tmp_path, credentials=credentials)) == digest(first)
    rotated = _plan(tmp_path, credentials=Credentials("shop", CertificateAuthority.new("shop")))
    assert digest(rotated) != digest(first)
    labels = dict(_amb(rotated, "ambassador-client:db@web1").container.labels)
    assert labels[LABEL_TLS_CERT].startswith("sha256:") and labels[LABEL_RELAY_DIGEST].startswith("sha256:")


def test_without_a_ca_the_plan_says_a_new_one_will_be_made(tmp_path: Path) -> None:
    plan = _plan(tmp_path, credentials=Credentials("shop"))
    assert plan.new_ca and "new project CA" in plan.notes[0]
    assert dict(_amb(plan, "ambassador-server:db").container.labels)[LABEL_TLS_CA] == NEW_CA
    unread = _plan(tmp_path, credentials=Credentials.none("shop"))
    assert not unread.new_ca and not any("CA" in note for note in unread.notes)


def test_services_do_not_depend_on_the_credentials(tmp_path: Path) -> None:
    with_ca, without = _plan(tmp_path), _plan(tmp_path, credentials=Credentials.none("shop"))
    db = with_ca.step(S("service:db"))
    assert isinstance(db, ServiceStep) and db == without.step(S("service:db"))


def test_socat_image_keeps_socat_with_openssl_addresses(tmp_path: Path) -> None:
    plan = _plan(tmp_path, image="alpine/socat:latest")
    server = _amb(plan, "ambassador-server:db").container
    client = _amb(plan, "ambassador-client:db@web1").container
    assert server.entrypoint == ("socat",) and server.command is not None and client.command is not None
    assert server.command[0].startswith("OPENSSL-LISTEN:6379") and "verify=1" in server.command[0]
    assert client.command[1].startswith("OPENSSL:10.0.0.1:6379") and "commonname=shop-db-ambassador" in client.command[1]


def test_haproxy_probe_uses_bash_and_dials_upstream_from_the_client(tmp_path: Path) -> None:
    probe = _amb(_plan(tmp_path), "ambassador-client:db@web1").relay.probe
    assert probe is not None and probe[2:4] == ("bash", "-c")
    assert "/dev/tcp/127.0.0.1/6379" in probe[4] and "/dev/tcp/10.0.0.1/6379" in probe[4]


def test_config_has_one_frontend_and_backend_per_port() -> None:
    cfg = haproxy_config([Relay(80, "web", 80), Relay(443, "web", 443)], "ambassador-server", None)
    assert cfg.count("\nfrontend ") == 2 and cfg.count("\nbackend ") == 2 and "mode tcp" in cfg


def test_a_server_relay_to_replicas_keeps_a_destination_for_each() -> None:
    cfg = haproxy_config([Relay(80, "web", 80, to_count=3)], "ambassador-server", None)
    assert "  server-template relay 3 web:80 resolvers sys init-addr none" in cfg.splitlines()
    single = haproxy_config([Relay(80, "web", 80)], "ambassador-server", None)
    assert "  server relay web:80 resolvers sys init-addr last,libc,none" in single.splitlines()


def test_archive_holds_the_files_only_with_mode_and_owner() -> None:
    # No folder entries: Docker makes missing parents and leaves the image's own alone.
    files = [UploadFile("/a/b/c.txt", b"x", 0o600), UploadFile("/run/secrets/pw", b"pw", 0o440, 999, 998)]
    with tarfile.open(fileobj=io.BytesIO(archive(files))) as tar:
        assert [(m.name, m.mode, m.uid, m.gid, m.isfile()) for m in tar.getmembers()] == [
            ("a/b/c.txt", 0o600, 0, 0, True), ("run/secrets/pw", 0o440, 999, 998, True)]


def test_one_relay_runs_socat_with_explicit_addresses() -> None:
    entrypoint, command = relay_command([Relay(6379, "10.0.0.1", 6379)])
    assert entrypoint == ("socat",)
    assert command == ("TCP-LISTEN:6379,fork,reuseaddr,backlog=1024,max-children=4096", "TCP:10.0.0.1:6379")


def test_socat_listens_with_room_for_a_burst_of_connections() -> None:
    # socat's default backlog of 5 drops the SYNs of a burst; children are bounded too.
    [listen, _] = relay_command([Relay(6379, "redis", 6379)])[1]
    options = dict(o.split("=") for o in listen.split(",")[1:] if "=" in o)
    assert int(options["backlog"]) >= 512 and int(options["max-children"]) >= 512


def test_udp_relay_uses_udp_addresses() -> None:
    _, command = relay_command([Relay(53, "dns", 53, "udp")])
    assert command == ("UDP-LISTEN:53,fork,reuseaddr", "UDP:dns:53")


def test_several_relays_run_under_one_shell() -> None:
    entrypoint, command = relay_command([Relay(80, "web", 80), Relay(443, "web", 443)])
    assert entrypoint == ("/bin/sh", "-c")
    [script] = command
    assert "socat TCP-LISTEN:80,fork,reuseaddr,backlog=1024,max-children=4096 TCP:web:80 &" in script
    assert "socat TCP-LISTEN:443,fork,reuseaddr,backlog=1024,max-children=4096 TCP:web:443 & wait" in script
    shlex.split(script)  # well-formed shell words


def test_probe_connects_to_the_relayed_port_on_loopback() -> None:
    assert relay_probe([Relay(6379, "redis", 6379)]) == (
        "socat", "-u", "OPEN:/dev/null", "TCP:127.0.0.1:6379,connect-timeout=2")


def test_client_probe_also_dials_the_server_ambassador() -> None:
    probe = relay_probe([Relay(6379, "10.0.0.1", 16379)], upstream=True)
    assert probe is not None and probe[:2] == ("/bin/sh", "-c")
    assert "TCP:127.0.0.1:6379" in probe[2] and "TCP:10.0.0.1:16379" in probe[2]


def test_udp_only_relay_has_no_probe() -> None:
    assert relay_probe([Relay(53, "dns", 53, "udp")]) is None


def test_an_ambassador_exposes_its_listen_ports_and_restarts() -> None:
    made = ambassador(
        role="ambassador-server", name="p-redis-ambassador", image="alpine/socat:latest", networks=(Endpoint("p_default"),),
        ports=[Relay(6379, "redis", 6379)], labels=[("b", "2"), ("a", "1")], tls=False, identity=None,
    )
    spec, relay = made.spec, made.setup
    assert spec.expose == ((6379, "tcp"),)
    assert spec.restart == "unless-stopped"
    assert dict(spec.labels)["a"] == "1" and dict(spec.labels)[LABEL_RELAY] == "socat"
    assert relay.kind == "socat" and relay.files == ()


def test_a_plan_with_tls_pairs_says_it_needs_a_ca_even_before_there_is_one(tmp_path: Path) -> None:
    # `up` makes the CA before planning with it when this says so.
    assert _plan(tmp_path, credentials=Credentials.none("shop")).uses_tls


def test_a_plan_whose_pairs_are_plain_needs_no_ca(tmp_path: Path) -> None:
    assert not _plan(tmp_path, tls=False).uses_tls


def test_an_ambassadors_relay_and_container_spec_are_made_once_and_kept(tmp_path: Path) -> None:
    step = _amb(_plan(tmp_path), "ambassador-client:db@web1")
    assert step.relay is step.relay and step.container is step.container


def test_a_plan_says_it_uses_tls_without_making_any_relay(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert plan.uses_tls
    assert all("relay" not in vars(_amb(plan, text).ambassador)
               for text in ("ambassador-server:db", "ambassador-client:db@web1"))


def test_an_ambassadors_spec_joins_its_steps_labels_and_its_relays(tmp_path: Path) -> None:
    spec = _amb(_plan(tmp_path, tls=False), "ambassador-server:db").container
    labels = dict(spec.labels)
    assert (labels[LABEL_ROLE], labels[LABEL_HOST], labels[LABEL_RELAY]) == ("ambassador-server", "db1", "haproxy")
    assert labels[LABEL_RELAY_DIGEST].startswith("sha256:")
    assert [label for label, _ in spec.labels] == sorted(labels)
    assert (spec.entrypoint, spec.user, spec.restart, spec.expose) == (
        HAPROXY_ENTRYPOINT, "root", "unless-stopped", ((6379, "tcp"),))
    assert spec.ports == (PortBinding(6379, "tcp", spec.ports[0].host_port, "10.0.0.1"),)


def test_an_ambassadors_spec_read_after_the_plan_was_printed_is_the_one_read_at_once(tmp_path: Path) -> None:
    early = _plan(tmp_path, credentials=Credentials.none("shop"))
    at_once = {str(s.id): s.container.config_hash() for s in early.steps() if isinstance(s, AMBASSADOR_STEPS)}
    late = _plan(tmp_path, credentials=Credentials.none("shop"))
    render_plan(late, "json")
    render_plan(late, "table", width=120)
    assert {str(s.id): s.container.config_hash() for s in late.steps() if isinstance(s, AMBASSADOR_STEPS)} == at_once
