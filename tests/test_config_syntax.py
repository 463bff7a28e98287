"""Compose's short syntaxes: each parser reads back what it writes, and refuses what is not
a duration, a port, a link or a volume with a message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xcompose.config.mounts import BindOptions, VolumeMount, VolumeOptions, parse_volume
from xcompose.config.options import (
    constraint_host,
    nano_cpus,
    parse_bytes,
    parse_cpus,
    parse_device,
    parse_extra_host,
    parse_security_opt,
    parse_swap,
    parse_volumes_from,
)
from xcompose.config.syntax import (
    PortPublish,
    PortSpec,
    format_duration,
    parse_duration,
    parse_expose,
    parse_link,
    parse_ports,
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


@pytest.mark.parametrize("text", ["pgdata:/data", "./conf:/etc/conf:ro", "/abs:/x", "/anon", "pgdata:/data:Z",
                                  "./conf:/etc/conf:ro,z,rshared", "cache:/cache:nocopy"])
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
    ("6005-6015:80", ["6005-6015:80"]),
    ("10.0.0.1:6005-6015:80/udp", ["10.0.0.1:6005-6015:80/udp"]),
])
def test_published_port_ranges_and_ipv6_as_docker_run_reads_them(text: str, expected: list[str]) -> None:
    assert [p.short() for p in parse_ports(text)] == expected


def test_the_long_form_of_a_published_port_reads_as_the_short_one() -> None:
    assert parse_ports({"target": 80, "published": "8080", "protocol": "udp", "mode": "host"}) == parse_ports("8080:80/udp")
    assert parse_ports({"target": 80, "published": "6005-6015"}) == parse_ports("6005-6015:80")


def test_a_range_of_host_ports_for_one_container_port_is_any_free_one_of_them() -> None:
    [port] = parse_ports("6005-6007:80")
    assert (port.target, port.published, port.published_last) == (80, 6005, 6007)
    assert list(port.host_ports()) == [6005, 6006, 6007]


@pytest.mark.parametrize(("value", "message"), [
    ("0:80", "out of range"), ("80/sctp", "must be tcp or udp"), ("a:b", "is not a port mapping"),
    ({"published": 80}, "needs `target`"), ({"target": 80, "bogus": 1}, "unknown key 'bogus'"),
    ("8010-8000:80", "the first port comes first"),
])
def test_a_bad_published_port_says_why(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ports(value)


def test_an_exposed_range_stands_for_its_ports() -> None:
    assert [p.port for p in parse_expose("8000-8002/udp")] == [8000, 8001, 8002]


# --- volume modes and options ----------------------------------------------------------------


def test_short_volume_modes_become_the_long_forms_options() -> None:
    assert parse_volume("./conf:/etc/conf:ro,Z,rslave") == parse_volume(
        {"type": "bind", "source": "./conf", "target": "/etc/conf", "read_only": True,
         "bind": {"selinux": "Z", "propagation": "rslave"}})
    assert parse_volume("cache:/cache:nocopy").volume == VolumeOptions(nocopy=True)
    assert parse_volume("data:/data:z").bind == BindOptions(selinux="z")
    assert parse_volume("./src:/app:cached") == parse_volume("./src:/app")  # Docker on Linux ignores it


@pytest.mark.parametrize(("text", "message"), [
    ("./d:/d:rx", "unknown mode 'rx'"), ("./d:/d:ro,rw", "'ro' and 'rw' contradict"),
    ("data:/d:rshared", "propagation .rshared. applies to bind mounts only"),
    ("./d:/d:nocopy", "nocopy applies to named volumes only"), ("a:b:c:d", "is not a volume"),
])
def test_a_bad_volume_mode_says_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_volume(text)


def test_long_form_options_of_each_type() -> None:
    tmpfs = parse_volume({"type": "tmpfs", "target": "/t", "tmpfs": {"size": "16m", "mode": "1777"}})
    assert (tmpfs.tmpfs and (tmpfs.tmpfs.size, tmpfs.tmpfs.mode)) == (16 * 1024**2, 0o1777)
    assert parse_volume({"type": "tmpfs", "target": "/t", "tmpfs": {"mode": 0o700}}).short() is None
    kept = parse_volume({"type": "bind", "source": "/s", "target": "/t", "bind": {"create_host_path": False}})
    assert kept.bind is not None and not kept.bind.create_host_path and kept.short() is None


@pytest.mark.parametrize(("value", "message"), [
    ({"type": "volume", "source": "v", "target": "/t", "tmpfs": {"size": 1}}, "type: tmpfs only"),
    ({"type": "bind", "source": "/s", "target": "/t", "volume": {"nocopy": True}}, "type: volume only"),
    ({"type": "volume", "source": "v", "target": "/t", "bind": {"propagation": "shared"}}, "bind mounts only"),
    ({"type": "bind", "source": "/s", "target": "/t", "bind": {"selinux": "z", "create_host_path": False}},
     "needs create_host_path"),
    ({"type": "tmpfs", "source": "x", "target": "/t"}, "has no source"),
])
def test_long_form_options_must_fit_the_mount_type(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_volume(value)


# --- container options -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "size"), [
    (1024, 1024), ("2b", 2), ("1024kb", 1024**2), ("2048k", 2 * 1024**2), ("300m", 300 * 1024**2), ("300M", 300 * 1024**2),
    ("1gb", 1024**3), ("1.5G", 1536 * 1024**2), ("64 MiB", 64 * 1024**2), ("100", 100),
])
def test_byte_values_as_compose_writes_them(value: object, size: int) -> None:
    assert parse_bytes(value) == size


@pytest.mark.parametrize("value", ["", "1x", "-5m", -1, True, "m", [1]])
def test_a_bad_byte_value_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_bytes(value)


def test_swap_may_be_unlimited_and_cpus_are_exact_in_nanos() -> None:
    assert (parse_swap(-1), parse_swap("-1"), parse_swap("1g")) == (-1, -1, 1024**3)
    assert [nano_cpus(parse_cpus(v)) for v in (0.1, "1.5", 2, "0.000000001")] == [100_000_000, 1_500_000_000,
                                                                                     2_000_000_000, 1]
    for bad in ("half", -1, "nan"):
        with pytest.raises(ValueError, match="CPUs"):
            parse_cpus(bad)


@pytest.mark.parametrize(("value", "entry"), [
    ("db=10.0.0.5", "db:10.0.0.5"), ("db:10.0.0.5", "db:10.0.0.5"), ("v6=::1", "v6:::1"), ("v6:::1", "v6:::1"),
    ("v6=[fe80::1]", "v6:fe80::1"), ("host.docker.internal=host-gateway", "host.docker.internal:host-gateway"),
    (("db", "10.0.0.5"), "db:10.0.0.5"),
])
def test_extra_hosts_in_either_separator_become_dockers_form(value: object, entry: str) -> None:
    assert parse_extra_host(value) == entry


@pytest.mark.parametrize("value", ["db", "db=nothing", "=1.2.3.4", "a b=1.2.3.4", 5])
def test_a_bad_extra_host_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_extra_host(value)


def test_devices_in_dockers_short_forms() -> None:
    assert parse_device("/dev/ttyUSB0") == {"source": "/dev/ttyUSB0", "target": None, "permissions": "rwm"}
    assert parse_device("/dev/sda:/dev/xvda:rw") == {"source": "/dev/sda", "target": "/dev/xvda", "permissions": "rw"}
    assert parse_device("/dev/sda:r") == {"source": "/dev/sda", "permissions": "r"}
    with pytest.raises(ValueError, match="not a device"):
        parse_device("/a:/b:rw:x")


def test_security_options_pass_but_a_seccomp_file_is_refused() -> None:
    assert parse_security_opt("label:disable") == "label:disable"
    assert parse_security_opt("seccomp=unconfined") == "seccomp=unconfined"
    with pytest.raises(ValueError, match="seccomp profile from a file"):
        parse_security_opt("seccomp:./profile.json")


def test_volumes_from_forms() -> None:
    assert parse_volumes_from("db") == ("db", "db", False)
    assert parse_volumes_from("db:ro") == ("db", "db", True)
    assert parse_volumes_from("container:data:rw") == (None, "data", False)
    with pytest.raises(ValueError, match="not a volumes_from entry"):
        parse_volumes_from("db:rx")


def test_only_a_hostname_constraint_names_a_host() -> None:
    assert constraint_host("node.hostname == db1") == "db1"
    assert constraint_host("node.hostname==db1") == "db1"
    assert constraint_host("node.hostname != db1") is None
    assert constraint_host("node.role == manager") is None

