"""A planned Swarm service as docker-py's create_service/update_service arguments. Pure: the
ids of the secrets and configs it names are given (the manager knows them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docker import types

from xcompose.config.service_keys import SECRETS_DIR
from xcompose.plan.naming import LABEL_CONFIG_HASH
from xcompose.plan.swarm_steps import SwarmServiceSpec

NANOS = 1_000_000_000


def restart_policy(restart: str | None) -> types.RestartPolicy:
    """Compose's `restart` as a Swarm restart policy; unset is Swarm's own default (restart
    whatever the exit), as `docker stack deploy` leaves it."""
    if restart == "no":
        return types.RestartPolicy(condition="none")
    if restart is not None and restart.startswith("on-failure"):
        _, _, attempts = restart.partition(":")
        return types.RestartPolicy(condition="on-failure", max_attempts=int(attempts or 0))
    return types.RestartPolicy(condition="any")


def healthcheck(spec: SwarmServiceSpec) -> types.Healthcheck | None:
    h = spec.healthcheck
    if h is None:
        return None
    return types.Healthcheck(test=list(h.test), interval=int(h.interval_s * NANOS), timeout=int(h.timeout_s * NANOS),
                             retries=h.retries, start_period=int(h.start_period_s * NANOS))


def mounts(spec: SwarmServiceSpec, project_labels: Mapping[str, str]) -> list[types.Mount]:
    """Named volumes are made by each node as its task needs them, with the project's labels."""
    out = []
    for m in spec.mounts:
        if m.type == "volume":
            out.append(types.Mount(m.target, m.source, type="volume", read_only=m.read_only, no_copy=m.no_copy,
                                   labels=dict(project_labels)))
        elif m.type == "bind":
            out.append(types.Mount(m.target, m.source, type="bind", read_only=m.read_only,
                                   propagation=m.propagation))
        else:
            out.append(types.Mount(m.target, None, type="tmpfs", read_only=m.read_only, tmpfs_size=m.tmpfs_size,
                                   tmpfs_mode=m.tmpfs_mode))
    return out


def secret_file(path: str) -> str:
    """Swarm names a secret's file relative to /run/secrets; other places as they are."""
    return path.removeprefix(f"{SECRETS_DIR}/")


def service_args(spec: SwarmServiceSpec, project: str, object_ids: Mapping[str, str]) -> dict[str, Any]:
    """The keyword arguments of APIClient.create_service (and update_service) for `spec`;
    `object_ids`: Docker name -> id of each secret and config it is given."""
    secrets = [types.SecretReference(object_ids[f.object_name], f.object_name, filename=secret_file(f.path),
                                     uid=str(f.uid),
                                     gid=str(f.gid), mode=f.mode) for f in spec.files if f.kind == "secret"]
    configs = [types.ConfigReference(object_ids[f.object_name], f.object_name, filename=f.path, uid=str(f.uid),
                                     gid=str(f.gid), mode=f.mode) for f in spec.files if f.kind == "config"]
    dns = types.DNSConfig(nameservers=list(spec.dns) or None, search=list(spec.dns_search) or None,
                          options=list(spec.dns_opt) or None) if spec.dns or spec.dns_search or spec.dns_opt else None
    container = types.ContainerSpec(
        spec.image,
        command=list(spec.command) if spec.command is not None else None,
        args=list(spec.args) if spec.args is not None else None,
        hostname=spec.hostname,
        env=[f"{k}={v}" for k, v in spec.environment],
        workdir=spec.working_dir,
        user=spec.user,
        # The digest on each task's container too: which spec a task runs is told by it.
        labels={**dict(spec.container_labels), LABEL_CONFIG_HASH: spec.digest()},
        mounts=mounts(spec, {"io.xcompose.project": project}),
        stop_grace_period=None if spec.stop_timeout is None else spec.stop_timeout * NANOS,
        secrets=secrets or None,
        configs=configs or None,
        tty=spec.tty or None,
        open_stdin=spec.stdin_open or None,
        read_only=spec.read_only or None,
        stop_signal=spec.stop_signal,
        healthcheck=healthcheck(spec),
        # The plan keeps Docker's HOST:IP; docker-py writes Swarm's "IP HOST" from a mapping.
        hosts={host: ip for host, _, ip in (e.partition(":") for e in spec.extra_hosts)} or None,
        dns_config=dns,
        init=spec.init,
        cap_add=list(spec.cap_add) or None,
        cap_drop=list(spec.cap_drop) or None,
        sysctls=dict(spec.sysctls) or None,
    )
    resources = None
    if spec.nano_cpus or spec.mem_limit or spec.mem_reservation:
        resources = types.Resources(cpu_limit=spec.nano_cpus, mem_limit=spec.mem_limit,
                                    mem_reservation=spec.mem_reservation)
    log_driver = types.DriverConfig(spec.log_driver, dict(spec.log_options)) if spec.log_driver else None
    template = types.TaskTemplate(
        container,
        resources=resources,
        restart_policy=restart_policy(spec.restart),
        placement=types.Placement(constraints=spec.placement),
        log_driver=log_driver,
        networks=[types.NetworkAttachmentConfig(network, aliases=list(aliases)) for network, aliases in spec.networks],
    )
    # dnsrr cannot publish through the routing mesh: ports are then published on the node
    # the task runs on, which is where plain engines publish them too.
    publish_mode = "host" if spec.endpoint_mode == "dnsrr" else "ingress"
    ports = [{"Protocol": p.protocol, "TargetPort": p.container_port, "PublishMode": publish_mode,
              **({"PublishedPort": p.host_port} if p.host_port else {})} for p in spec.ports]
    return {
        "task_template": template,
        "name": spec.name,
        "labels": spec.service_labels(project),
        "mode": types.ServiceMode("replicated", replicas=spec.replicas),
        "endpoint_spec": types.EndpointSpec(mode=spec.endpoint_mode or "vip", ports=ports or None),  # type: ignore[arg-type]  # a list of port objects, as the API takes them
    }
