"""docker-py's arguments for a container spec: the HostConfig and container config the api
executor sends, field for field what the ssh executor's command line makes Docker store."""

from __future__ import annotations

from typing import Any

import docker

from tests.test_engines_dockercli import OPTIONS, RICH
from xcompose.engines.apiargs import create_args, host_config
from xcompose.plan.specs import ContainerSpec, Endpoint, Mount, PortBinding

VERSION = "1.41"


def container_config(spec: ContainerSpec) -> dict[str, Any]:
    """The JSON body docker-py posts to create the container."""
    args = create_args(spec, VERSION)
    for key in ("name", "platform", "networking_config", "host_config"):
        args.pop(key)
    config: dict[str, Any] = docker.types.ContainerConfig(VERSION, **args)
    return config


def test_the_container_options_in_the_host_config() -> None:
    config = host_config(OPTIONS, VERSION)
    assert {key: config.get(key) for key in (
        "Init", "ReadonlyRootfs", "Sysctls", "Ulimits", "ShmSize", "Tmpfs", "ExtraHosts", "Dns", "DnsSearch",
        "DnsOptions", "Devices", "SecurityOpt", "Memory", "MemorySwap", "MemoryReservation", "NanoCpus",
        "CpuShares", "CpusetCpus", "PidsLimit", "OomScoreAdj", "LogConfig", "PidMode", "IpcMode", "VolumesFrom",
        "Runtime", "GroupAdd", "UsernsMode", "CgroupParent", "CgroupnsMode", "NetworkMode")} == {
        "Init": True, "ReadonlyRootfs": True, "Sysctls": {"net.core.somaxconn": "1024"},
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}], "ShmSize": 67108864,
        "Tmpfs": {"/run": "size=16m,mode=1777", "/tmp": ""}, "ExtraHosts": ["db:10.0.0.5", "gw:host-gateway"],
        "Dns": ["9.9.9.9"], "DnsSearch": ["x.test"], "DnsOptions": ["ndots:2"],
        "Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/xzero", "CgroupPermissions": "r"}],
        "SecurityOpt": ["no-new-privileges:true"], "Memory": 67108864, "MemorySwap": -1,
        "MemoryReservation": 33554432, "NanoCpus": 1_500_000_000, "CpuShares": 512, "CpusetCpus": "0-1",
        "PidsLimit": 100, "OomScoreAdj": -10, "LogConfig": {"Type": "json-file", "Config": {"max-size": "5m"}},
        "PidMode": "host", "IpcMode": "container:shop-db", "VolumesFrom": ["shop-data:ro"], "Runtime": "runc",
        "GroupAdd": ["123"], "UsernsMode": "host", "CgroupParent": "/xc", "CgroupnsMode": "host",
        "NetworkMode": "shop_default",
    }


def test_the_container_options_in_the_container_config() -> None:
    config = container_config(OPTIONS)
    assert {key: config.get(key) for key in (
        "StopSignal", "StopTimeout", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr",
        "Tty", "Domainname", "MacAddress")} == {
        "StopSignal": "SIGQUIT", "StopTimeout": 30, "OpenStdin": True, "StdinOnce": True, "AttachStdin": True,
        "AttachStdout": True, "AttachStderr": True, "Tty": True, "Domainname": "example.org",
        "MacAddress": "02:42:ac:11:00:99",
    }
    assert create_args(OPTIONS, VERSION)["platform"] == "linux/amd64"


def test_mounts_take_the_binds_form_where_only_it_does_the_job() -> None:
    config = host_config(RICH, VERSION)
    assert config["Binds"] == ["/srv/logs:/logs:z", "shop_certs:/certs:ro,Z"]
    assert [{k: m.get(k) for k in ("Type", "Source", "Target", "ReadOnly")} for m in config["Mounts"]] == [
        {"Type": "volume", "Source": "shop_data", "Target": "/data", "ReadOnly": False},
        {"Type": "bind", "Source": "/srv/conf,v2", "Target": "/etc/redis", "ReadOnly": True},
        {"Type": "tmpfs", "Source": None, "Target": "/run/cache", "ReadOnly": False},
    ]
    volume, bind, tmpfs = config["Mounts"]
    assert volume["VolumeOptions"] == {"NoCopy": True}
    assert bind["BindOptions"] == {"Propagation": "rslave"}
    assert tmpfs["TmpfsOptions"] == {"SizeBytes": 16 * 2**20, "Mode": 0o1777}


def test_a_bind_mount_made_as_compose_makes_it_creates_its_host_folder() -> None:
    spec = ContainerSpec(name="a", image="i", mounts=(Mount("bind", "/srv/new", "/data"),
                                                      Mount("bind", "/srv/x:y", "/odd")))
    config = host_config(spec, VERSION)
    assert config["Binds"] == ["/srv/new:/data"]  # Docker makes /srv/new when missing
    assert [m["Source"] for m in config["Mounts"]] == ["/srv/x:y"]  # a ':' only fits the Mounts form


def test_unset_options_leave_the_host_config_as_before() -> None:
    config = host_config(ContainerSpec(name="a", image="i", networks=(Endpoint("n"),)), VERSION)
    assert config == {"NetworkMode": "n", "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}


def test_a_range_of_host_ports_is_bound_as_docker_run_binds_it() -> None:
    spec = ContainerSpec(name="a", image="i", ports=(PortBinding(80, "tcp", 6005, None, 6015), PortBinding(443)))
    assert host_config(spec, VERSION)["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "6005-6015"}], "443/tcp": [{"HostIp": "", "HostPort": ""}]}
