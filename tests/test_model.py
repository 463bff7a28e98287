"""The models' own behaviour: short forms both ways, durations, field lookup for suggestions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from xcompose.model import (
    Link,
    PortPublish,
    PortSpec,
    Service,
    VolumeMount,
    field_names_at,
    format_duration,
    parse_duration,
)

ports = st.integers(min_value=1, max_value=65535)
protocols = st.sampled_from(["tcp", "udp"])


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from([1.0, 0.001, 0.5]))
def test_a_formatted_duration_parses_back_to_the_same_seconds(count: int, unit: float) -> None:
    seconds = count * unit
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_durations_are_formatted_as_compose_writes_them() -> None:
    assert [format_duration(s) for s in (90, 0.5, 3600, 0)] == ["1m30s", "500ms", "1h", "0s"]


@given(ports, st.one_of(st.none(), ports), st.sampled_from([None, "127.0.0.1", "::1"]), protocols)
def test_a_published_port_short_form_reads_back(target: int, published: int | None, ip: str | None, proto: str) -> None:
    port = PortPublish(target=target, published=published, host_ip=ip, protocol=proto)  # type: ignore[arg-type]
    assert PortPublish.parse(port.short()) == port


@given(ports, protocols)
def test_an_exposed_port_short_form_reads_back(port: int, proto: str) -> None:
    spec = PortSpec(port=port, protocol=proto)  # type: ignore[arg-type]
    assert PortSpec.parse(spec.short()) == spec


def test_a_link_short_form_leaves_out_an_alias_equal_to_the_target() -> None:
    assert (Link.parse("db").short(), Link.parse("db:database").short()) == ("db", "db:database")


@pytest.mark.parametrize("text", ["pgdata:/data", "./conf:/etc/conf:ro", "/abs:/x", "/anon"])
def test_a_volume_short_form_reads_back(text: str) -> None:
    assert VolumeMount.parse(text).short() == text


def test_a_volume_without_a_faithful_short_form_has_none() -> None:
    assert VolumeMount(type="tmpfs", target="/tmp").short() is None
    assert VolumeMount(type="volume", source="./odd", target="/x").short() is None


def test_field_names_at_follows_dicts_lists_and_optionals() -> None:
    assert field_names_at(("services", "app", "volumes", 0)) == ["type", "source", "target", "read_only"]
    assert "verify" in field_names_at(("hosts", "h", "tls"))
    assert "driver" in field_names_at(("volumes", "v"))


def test_field_names_at_a_non_model_location_is_empty() -> None:
    assert field_names_at(("services", "app", "environment")) == []


def test_an_environment_list_becomes_a_mapping() -> None:
    service = Service.model_validate({"image": "a", "environment": ["A=1", "B"]})
    assert service.environment == {"A": "1", "B": None}


def test_a_nested_environment_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="environment value of 'A' must be a string"):
        Service.model_validate({"image": "a", "environment": {"A": {"x": 1}}})
