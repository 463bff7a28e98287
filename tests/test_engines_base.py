"""Reading `docker inspect` (the API's and the CLI's JSON are the same) into LiveContainer."""

from __future__ import annotations

from typing import Any

from xcompose.engines.base import live_container
from xcompose.plan.updatable import Updatable

# Parts of a real `docker inspect` of a container after `docker update --memory 128m
# --memory-swap 1g --cpus 1.5 --pids-limit 64 --restart on-failure:2` and a
# `docker network disconnect` from one of its two networks.
INSPECT: dict[str, Any] = {
    "Id": "4f1c0ffee0000000000000000000000000000000000000000000000000000000",
    "Name": "/demo-web",
    "Image": "sha256:9d7a",
    "State": {"Status": "running", "ExitCode": 0},
    "Config": {"Image": "redis:7", "Labels": {"io.xcompose.project": "demo"}, "StopTimeout": None},
    "HostConfig": {
        "Memory": 134217728, "MemoryReservation": 33554432, "MemorySwap": 1073741824, "NanoCpus": 1500000000,
        "CpuShares": 512, "CpuQuota": 0, "CpuPeriod": 0, "CpusetCpus": "0", "CpusetMems": "", "PidsLimit": 64,
        "BlkioWeight": 0, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2},
        "NetworkMode": "demo_default",
    },
    "NetworkSettings": {
        "Ports": {"6379/tcp": None},
        "Networks": {"demo_front": {"Aliases": ["web"], "IPAddress": "172.20.0.3"}},
    },
}


def test_live_container_reads_the_networks_the_container_is_on() -> None:
    assert live_container(INSPECT).networks == ("demo_front",)


def test_live_container_reads_what_docker_update_changes() -> None:
    assert live_container(INSPECT).updatable == Updatable(
        memory=128 << 20, memory_reservation=32 << 20, memory_swap=1 << 30, nano_cpus=1_500_000_000, cpu_shares=512,
        cpuset_cpus="0", pids_limit=64, restart="on-failure:2")


def test_live_container_reads_a_container_with_no_limits_and_no_network_as_dockers_defaults() -> None:
    bare = {**INSPECT, "HostConfig": {"PidsLimit": None, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}},
            "NetworkSettings": {"Networks": None}}
    container = live_container(bare)
    assert (container.networks, container.updatable) == ((), Updatable())
