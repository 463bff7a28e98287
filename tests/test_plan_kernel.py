"""Kernel mode (`ambassador: {mode: kernel}`): TLS must be turned off in the file, the
target publishes its own ports on its host's address instead of a server ambassador, and
the client ambassador DNATs to them."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.planning import S, edge
from xcompose.config.load import load_project
from xcompose.config.model import Topology
from xcompose.errors import ConfigErrors
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.naming import LABEL_RELAY
from xcompose.plan.render import describe
from xcompose.plan.specs import PortBinding
from xcompose.plan.steps import ClientAmbassadorStep, Plan, ServiceStep

HOSTS = {"db1": {"address": "10.0.0.1"}, "web1": {"address": "10.0.0.2"}}


def _services(**db: Any) -> dict[str, Any]:
    return {
        "db": {"image": "redis:7", "host": "db1", "expose": [6379], **db},
        "app": {"image": "app:1", "host": "web1", "links": ["db:cache"]},
    }


def _plan(tmp_path: Path, ambassador: dict[str, Any] | None = None,
          services: dict[str, Any] | None = None) -> Plan:
    data = {"name": "shop", "hosts": HOSTS,
            "ambassador": {"mode": "kernel", "tls": False} if ambassador is None else ambassador,
            "services": services or _services()}
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return build_plan(load_project([str(tmp_path / "shop.yaml")]), Credentials.none("shop"))


def _errors(tmp_path: Path, ambassador: dict[str, Any] | None = None,
            services: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as raised:
        _plan(tmp_path, ambassador, services)
    return [str(error) for error in raised.value.errors]


def _client(plan: Plan) -> ClientAmbassadorStep:
    step = plan.step(S("ambassador-client:db@web1"))
    assert isinstance(step, ClientAmbassadorStep)
    return step


def _target(plan: Plan) -> ServiceStep:
    step = plan.step(S("service:db"))
    assert isinstance(step, ServiceStep)
    return step


def _script(plan: Plan) -> str:
    command = _client(plan).container.command
    assert command is not None
    return command[0]


# --- TLS must be off, said in the file ------------------------------------------------------


def test_project_kernel_mode_with_tls_left_on_is_refused_at_its_mode_key(tmp_path: Path) -> None:
    errors = _errors(tmp_path, {"mode": "kernel"})
    assert len(errors) == 1
    assert "shop.yaml:8: ambassador.mode: kernel mode carries no TLS" in errors[0]
    assert "`ambassador.tls: false`" in errors[0]


def test_a_services_kernel_mode_with_tls_left_on_is_refused_at_its_own_mode_key(tmp_path: Path) -> None:
    errors = _errors(tmp_path, {}, _services(ambassador={"mode": "kernel"}))
    assert len(errors) == 1
    assert "services.db.ambassador.mode: kernel mode carries no TLS" in errors[0]
    assert "`services.db.ambassador.tls: false`" in errors[0]


def test_a_service_turning_tls_on_under_a_kernel_project_is_refused_at_its_tls_key(tmp_path: Path) -> None:
    errors = _errors(tmp_path, None, _services(ambassador={"tls": True}))
    assert len(errors) == 1 and "services.db.ambassador.tls: kernel mode carries no TLS" in errors[0]


def test_a_service_in_kernel_mode_with_its_own_tls_off_plans(tmp_path: Path) -> None:
    plan = _plan(tmp_path, {}, _services(ambassador={"mode": "kernel", "tls": False}))
    assert _client(plan).relay.kind == "kernel"


def test_the_schema_describes_the_mode() -> None:
    schema = Topology.model_json_schema()
    described = schema["$defs"]["AmbassadorSettings"]["properties"]["mode"]
    assert "kernel" in described["description"] and described["default"] == "proxy"


# --- the target's side: published by Docker, no server ambassador ---------------------------


def test_kernel_mode_plans_no_server_ambassador(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert not [s for s in plan.steps() if s.id.kind == "ambassador-server"]


def test_the_target_publishes_its_ports_on_its_hosts_address_only(tmp_path: Path) -> None:
    assert _target(_plan(tmp_path)).container.ports == (PortBinding(6379, "tcp", 6379, "10.0.0.1"),)


def test_the_publish_override_sets_the_targets_host_port(tmp_path: Path) -> None:
    plan = _plan(tmp_path, services=_services(ambassador={"publish": {6379: 16379}}))
    assert _target(plan).container.ports == (PortBinding(6379, "tcp", 16379, "10.0.0.1"),)
    assert _client(plan).relay.ports[0].to_port == 16379


def test_a_host_port_taken_by_another_service_moves_the_publish_to_a_free_one(tmp_path: Path) -> None:
    services = {**_services(), "other": {"image": "redis:7", "host": "db1", "ports": ["6379:6379"]}}
    binding = _target(_plan(tmp_path, services=services)).container.ports[0]
    assert binding.host_ip == "10.0.0.1" and binding.host_port not in (None, 6379)


def test_a_publish_override_clashing_on_the_host_is_refused_naming_the_target(tmp_path: Path) -> None:
    services = {**_services(ambassador={"publish": {6379: 7000}}),
                "other": {"image": "redis:7", "host": "db1", "ports": ["7000:6379"]}}
    errors = _errors(tmp_path, None, services)
    assert any("services.db.ambassador.publish.6379" in e for e in errors)


def test_a_target_reached_from_no_other_host_publishes_nothing(tmp_path: Path) -> None:
    services = _services()
    services["app"]["host"] = "db1"
    assert _target(_plan(tmp_path, services=services)).container.ports == ()


def test_a_target_with_replicas_is_refused_in_kernel_mode(tmp_path: Path) -> None:
    errors = _errors(tmp_path, None, _services(scale=2))
    assert len(errors) == 1 and "ambassador.mode: ambassador mode kernel publishes 'db'" in errors[0]


# --- the client ambassador -----------------------------------------------------------------


def test_the_client_ambassador_answers_to_the_targets_names_on_the_consumers_network(tmp_path: Path) -> None:
    networks = _client(_plan(tmp_path)).container.networks
    assert [(n.network, n.aliases) for n in networks] == [("shop_default", ("db",))]


def test_the_client_ambassador_starts_after_the_target_and_before_its_consumer(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert edge(plan, "service:db", "ambassador-client:db@web1")
    assert edge(plan, "ambassador-client:db@web1", "service:app")


def test_the_client_ambassador_may_change_its_nat_table_and_forward(tmp_path: Path) -> None:
    container = _client(_plan(tmp_path)).container
    assert container.cap_add == ("NET_ADMIN",) and container.user == "root"
    assert ("net.ipv4.ip_forward", "1") in container.sysctls
    assert dict(container.labels)[LABEL_RELAY] == "kernel"


def test_the_client_ambassador_dnats_each_port_to_the_published_one_and_masquerades(tmp_path: Path) -> None:
    script = _script(_plan(tmp_path))
    assert ("-A PREROUTING -p tcp --dport 6379 -j DNAT --to-destination 10.0.0.1:6379" in script)
    assert "-A POSTROUTING -p tcp -d 10.0.0.1 --dport 6379 -j MASQUERADE" in script


def test_a_refused_rule_stops_the_client_ambassador(tmp_path: Path) -> None:
    assert _script(_plan(tmp_path)).startswith("set -e\n")


def test_udp_crosses_hosts_in_kernel_mode_whatever_the_relay_image(tmp_path: Path) -> None:
    script = _script(_plan(tmp_path, services=_services(expose=[6379, "5353/udp"])))
    assert "-A PREROUTING -p udp --dport 5353 -j DNAT --to-destination 10.0.0.1:5353" in script


def test_the_client_probe_asks_iptables_for_every_rule(tmp_path: Path) -> None:
    probe = _client(_plan(tmp_path)).relay.probe
    assert probe is not None and probe[:2] == ("/bin/sh", "-c")
    checks = [shlex.split(part) for part in probe[2].split(" && ")]
    assert [c[:5] for c in checks] == [["iptables", "-w", "-t", "nat", "-C"]] * 2
    assert [c[5] for c in checks] == ["PREROUTING", "POSTROUTING"]


# --- what the plan says ------------------------------------------------------------------


def test_the_plan_notes_that_kernel_links_are_unencrypted(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert any("'db' is reached from other hosts unencrypted" in note and "10.0.0.1:6379" in note
               for note in plan.notes)
    assert "kernel DNAT, unencrypted" in describe(_client(plan))


def test_proxy_mode_stays_the_default(tmp_path: Path) -> None:
    plan = _plan(tmp_path, {"tls": False})
    assert _client(plan).relay.kind == "haproxy" and plan.step(S("ambassador-server:db")) is not None
