"""What `docker update` can change: the HostConfig entries a spec asks for, and the drift
between those and a live container's, named by `docker update`'s flags."""

from __future__ import annotations

from xcompose.plan.specs import ContainerSpec
from xcompose.plan.updatable import Updatable, drift, host_config, read

SPEC = ContainerSpec(name="demo-web", image="redis:7", mem_limit=256 << 20, nano_cpus=500_000_000,
                     restart="on-failure:3")


def test_host_config_holds_only_the_limits_the_spec_sets_and_always_a_restart_policy() -> None:
    assert host_config(SPEC) == {"Memory": 256 << 20, "NanoCpus": 500_000_000,
                                 "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}
    assert host_config(ContainerSpec(name="x", image="y")) == {"RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}


def test_read_takes_every_way_docker_writes_unset_as_its_default() -> None:
    assert read({"PidsLimit": -1, "NanoCpus": None, "CpusetCpus": None, "RestartPolicy": {"Name": ""}}) == Updatable()
    assert read({}) == Updatable()


def test_no_drift_between_a_spec_and_the_host_config_it_asks_for() -> None:
    assert drift(SPEC, read(host_config(SPEC))) == []


def test_drift_names_each_changed_field_by_its_flag_live_value_first() -> None:
    live = read({**host_config(SPEC), "Memory": 1 << 30, "CpuQuota": 50_000, "CpusetMems": "0"})
    assert drift(SPEC, live) == ["memory 1GiB -> 256MiB", "cpu-quota 50000 -> none", "cpuset-mems 0 -> any"]


def test_sizes_that_are_no_whole_unit_read_in_bytes() -> None:
    live = read({**host_config(SPEC), "MemoryReservation": 1000})
    assert drift(SPEC, live) == ["memory-reservation 1000B -> none"]
