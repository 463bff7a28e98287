"""Compose's short syntaxes: each parser reads back what it writes, and refuses what is not
a duration, a port, a link or a volume with a message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xcompose.config.syntax import (
    PortPublish,
    PortSpec,
    VolumeMount,
    format_duration,
    parse_duration,
    parse_expose,
    parse_link,
    parse_ports,
    parse_volume,
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
    assert parse_ports(port.short()) == (port,)


@given(ports, protocols)
def test_an_exposed_port_short_form_reads_back(port: int, proto: str) -> None:
    spec = PortSpec(port=port, protocol=proto)  # type: ignore[arg-type]
    assert parse_expose(spec.short()) == (spec,)


def test_a_link_short_form_leaves_out_an_alias_equal_to_the_target() -> None:
    assert (parse_link("db").short(), parse_link("db:database").short()) == ("db", "db:database")


@pytest.mark.parametrize("text", ["pgdata:/data", "./conf:/etc/conf:ro", "/abs:/x", "/anon"])
def test_a_volume_short_form_reads_back(text: str) -> None:
    assert parse_volume(text).short() == text


def test_a_volume_without_a_faithful_short_form_has_none() -> None:
    assert VolumeMount(type="tmpfs", target="/tmp").short() is None
    assert VolumeMount(type="volume", source="./odd", target="/x").short() is None




@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, "-1s", "", "1e400", "5 s", True, [1]])
def test_a_duration_that_is_not_finite_and_positive_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_is_a_duration_or_a_clear_refusal(value: float) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        assert "duration" in str(error)
    else:
        assert 0 <= seconds < float("inf")


@pytest.mark.parametrize(("text", "expected"), [
    ("8000-8002:9000-9002", ["8000:9000", "8001:9001", "8002:9002"]),
    ("[::1]:80:80", ["[::1]:80:80"]),
    ("1.2.3.4:5000-5001:5000-5001/udp", ["1.2.3.4:5000:5000/udp", "1.2.3.4:5001:5001/udp"]),
    ("127.0.0.1::80", ["127.0.0.1::80"]),
])
def test_published_port_ranges_and_ipv6_as_docker_run_reads_them(text: str, expected: list[str]) -> None:
    assert [p.short() for p in parse_ports(text)] == expected


def test_the_long_form_of_a_published_port_reads_as_the_short_one() -> None:
    assert parse_ports({"target": 80, "published": "8080", "protocol": "udp", "mode": "host"}) == parse_ports("8080:80/udp")


@pytest.mark.parametrize(("value", "message"), [
    ("0:80", "out of range"), ("80/sctp", "must be tcp or udp"), ("a:b", "is not a port mapping"),
    ({"published": 80}, "needs `target`"), ({"target": 80, "bogus": 1}, "unknown key 'bogus'"),
])
def test_a_bad_published_port_says_why(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ports(value)


def test_an_exposed_range_stands_for_its_ports() -> None:
    assert [p.port for p in parse_expose("8000-8002/udp")] == [8000, 8001, 8002]


@pytest.mark.parametrize("text", ["./conf:/etc/conf:ro,Z", "data:/data:z", "data:/data:nocopy", "/a:/b:rshared"])
def test_compose_volume_options_other_than_ro_and_rw_are_refused_as_not_supported(text: str) -> None:
    option = text.rsplit(":", 1)[1].split(",")[-1]
    with pytest.raises(ValueError, match=f"xcompose does not support the Compose volume option '{option}' yet"):
        parse_volume(text)


def test_ro_and_rw_may_be_written_as_a_list_of_options() -> None:
    assert parse_volume("data:/data:rw,ro").read_only is True
