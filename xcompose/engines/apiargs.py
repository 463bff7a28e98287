"""docker-py's arguments for a container spec, as pure functions (the api executor sends
them; the unit tests read them): the twin of dockercli.py, and held to make the same
containers as its command lines."""

from __future__ import annotations

from typing import Any

import docker

from xcompose.plan import updatable
from xcompose.plan.specs import ContainerSpec, Endpoint, Mount

NS = 1_000_000_000


def endpoint_args(endpoint: Endpoint) -> dict[str, Any]:
    """docker-py's arguments for a container's place on one network."""
    return {
        "aliases": list(endpoint.aliases) or None,
        "links": [tuple(link.split(":", 1)) for link in endpoint.links] or None,
        "ipv4_address": endpoint.ipv4_address,
        "ipv6_address": endpoint.ipv6_address,
    }


def capability(name: str) -> str:
    """Capability names as the docker CLI normalises them (`net_admin` -> `CAP_NET_ADMIN`),
    so that both executors store the same HostConfig."""
    name = name.upper()
    return name if name == "ALL" or name.startswith("CAP_") else f"CAP_{name}"


def _mount(m: Mount) -> docker.types.Mount:
    return docker.types.Mount(
        m.target, m.source if m.type != "tmpfs" else None, type=m.type, read_only=m.read_only,
        propagation=m.propagation, no_copy=m.no_copy, tmpfs_size=m.tmpfs_size, tmpfs_mode=m.tmpfs_mode,
    )


def host_config(spec: ContainerSpec, version: str) -> dict[str, Any]:
    """The HostConfig of the spec, for an engine speaking API `version`."""
    bindings: dict[int | str, list[dict[str, str]]] = {}
    for port in spec.ports:
        bindings.setdefault(f"{port.container_port}/{port.protocol}", []).append(
            {"HostIp": port.host_ip or "", "HostPort": port.host_ports}
        )
    binds = [m.as_bind() for m in spec.mounts]
    logging = None
    if spec.log_driver or spec.log_options:
        logging = docker.types.LogConfig(type=spec.log_driver or "", config=dict(spec.log_options))
    first = spec.networks[0].network if spec.networks else None
    config: dict[str, Any] = docker.types.HostConfig(
        version,
        network_mode=spec.network_mode or first,
        port_bindings=bindings or None,
        binds=[b for b in binds if b is not None] or None,
        mounts=[_mount(m) for m, b in zip(spec.mounts, binds, strict=True) if b is None] or None,
        cap_add=[capability(c) for c in spec.cap_add] or None,
        cap_drop=[capability(c) for c in spec.cap_drop] or None,
        privileged=spec.privileged,
        init=spec.init,
        read_only=spec.read_only or None,
        sysctls=dict(spec.sysctls) or None,
        ulimits=[docker.types.Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in spec.ulimits] or None,
        shm_size=spec.shm_size,
        tmpfs=dict(spec.tmpfs) or None,
        extra_hosts=list(spec.extra_hosts) or None,
        dns=list(spec.dns) or None,
        dns_search=list(spec.dns_search) or None,
        dns_opt=list(spec.dns_opt) or None,
        devices=[f"{d.source}:{d.target}:{d.permissions}" for d in spec.devices] or None,
        security_opt=list(spec.security_opt) or None,
        oom_score_adj=spec.oom_score_adj,
        log_config=logging,
        pid_mode=spec.pid,
        ipc_mode=spec.ipc,
        volumes_from=list(spec.volumes_from) or None,
        runtime=spec.runtime,
        group_add=list(spec.group_add) or None,
        cgroup_parent=spec.cgroup_parent,
    )
    # The limits and restart policy, from where converge.py reads them back to find drift.
    config.update(updatable.host_config(spec))
    if spec.userns_mode:
        config["UsernsMode"] = spec.userns_mode  # docker-py takes `host` only; the engine decides
    if spec.cgroupns:
        config["CgroupnsMode"] = spec.cgroupns
    return config


def create_args(spec: ContainerSpec, version: str) -> dict[str, Any]:
    """docker-py's `create_container` arguments. The container joins its first network at
    create (engines before API 1.44 take one); the executor connects it to the others."""
    exposed = [(p, proto) for p, proto in spec.expose]
    exposed += [(p.container_port, p.protocol) for p in spec.ports]
    health = None
    if spec.healthcheck is not None:
        h = spec.healthcheck
        health = {
            "test": list(h.test),
            "interval": round(h.interval_s * NS),
            "timeout": round(h.timeout_s * NS),
            "retries": h.retries,
            "start_period": round(h.start_period_s * NS),
        }
    networking = None
    if spec.networks and spec.network_mode is None:
        first = spec.networks[0]
        networking = docker.types.NetworkingConfig(
            # types-docker wants one EndpointConfig; the API takes network name -> endpoint
            {first.network: docker.types.EndpointConfig(version, **endpoint_args(first))})  # type: ignore[arg-type]
    return {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "entrypoint": list(spec.entrypoint) if spec.entrypoint is not None else None,
        "name": spec.name,
        "environment": [f"{k}={v}" for k, v in spec.environment] or None,
        "labels": spec.labels_with_hash(),
        "ports": list(dict.fromkeys(exposed)) or None,
        "healthcheck": health,
        "user": spec.user,
        "working_dir": spec.working_dir,
        "hostname": spec.hostname,
        "domainname": spec.domainname,
        "mac_address": spec.mac_address,
        "stop_signal": spec.stop_signal,
        "stop_timeout": spec.stop_timeout,
        "stdin_open": spec.stdin_open,
        "tty": spec.tty,
        "platform": spec.platform,
        # Not detached: the attach flags (and StdinOnce with stdin_open) that `docker
        # container create` sets, so that both executors make the same container.
        "detach": False,
        "host_config": host_config(spec, version),
        "networking_config": networking,
    }
