"""The service steps of a plan: each service of the file as the ContainerSpec of its
container, and the volume steps its mounts need.

Beside what build.py's planner knows of the topology (networks, links, placement), a
container carries the service's own keys: runtime options, resources (the service's keys,
else `deploy.resources`), mounts with their options, and what it shares with other services
(network, IPC and PID namespaces, volumes), which only works within one host. Pure, like
the rest of the planner: problems are handed to `fail` with the key to change.
"""

from __future__ import annotations

import math
import os
import posixpath
import shlex
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from xcompose.config.hooks import ServiceHook
from xcompose.config.location import KeyPath
from xcompose.config.model import Service
from xcompose.config.mounts import VolumeMount
from xcompose.config.options import ResourceLimits, ResourceReservations, nano_cpus, parse_volumes_from
from xcompose.config.service_keys import SECRETS_DIR
from xcompose.config.syntax import PortPublish, PortSpec
from xcompose.plan.checks import ContainerNames, NameClaims, PortClaims
from xcompose.plan.images import build_spec
from xcompose.plan.naming import LABEL_FILES_DIGEST, container_labels, project_labels, volume_name
from xcompose.plan.specs import (
    ContainerSpec,
    Device,
    Endpoint,
    ExecOptions,
    HealthSpec,
    Hook,
    Mount,
    PortBinding,
    Ulimit,
    UploadFile,
    VolumeSpec,
    files_digest,
)
from xcompose.plan.steps import PlannedSpec, ServiceStep, StepId, VolumeStep
from xcompose.plan.wiring import link_environment

if TYPE_CHECKING:
    from xcompose.plan.build import Planner

Fail = Callable[[KeyPath, str], None]
T = TypeVar("T", int, float)


# What a service without `deploy:` has: made once, only read (a model validation per service
# was a tenth of planning 10,000 services).
_NO_LIMITS = ResourceLimits()
_NO_RESERVATIONS = ResourceReservations()


def check_resources(name: str, service: Service, fail: Fail) -> None:
    """What Compose refuses in the service's resources, said when the service is planned
    (its spec, and with it `runtime_options`, is made later)."""
    base: KeyPath = ("services", name)
    limits = service.deploy.resources.limits if service.deploy else _NO_LIMITS
    reserved = service.deploy.resources.reservations if service.deploy else _NO_RESERVATIONS
    deploy: KeyPath = (*base, "deploy", "resources")

    def agree(own: T | None, key: str, deployed: T | None, deploy_key: str) -> None:
        """Compose requires the service's key and its `deploy` twin to agree when both are set."""
        if own is not None and deployed is not None and own != deployed:
            fail((*deploy, *deploy_key.split(".")), f"deploy.resources.{deploy_key} is {deployed} but {key} is "
                                                    f"{own}; they must agree (or set only one)")

    agree(service.cpus, "cpus", limits.cpus, "limits.cpus")
    agree(service.mem_limit, "mem_limit", limits.memory, "limits.memory")
    memory = _either(service.mem_limit, limits.memory)
    if service.memswap_limit is not None and service.memswap_limit > 0:
        if memory is None:
            fail((*base, "memswap_limit"), "a swap limit needs a memory limit: set mem_limit too")
        elif service.memswap_limit < memory:
            fail((*base, "memswap_limit"), f"memswap_limit ({service.memswap_limit}) counts memory and swap "
                                           f"together, so it cannot be below mem_limit ({memory})")
    agree(service.mem_reservation, "mem_reservation", reserved.memory, "reservations.memory")
    agree(service.pids_limit, "pids_limit", limits.pids, "limits.pids")


def _either(own: T | None, deployed: T | None) -> T | None:
    return own if own is not None else deployed


def runtime_options(service: Service) -> dict[str, Any]:
    """The ContainerSpec fields of the service's runtime options and resources (checked by
    `check_resources`: where the service's key and its `deploy` twin differ, the key's)."""
    limits = service.deploy.resources.limits if service.deploy else _NO_LIMITS
    reserved = service.deploy.resources.reservations if service.deploy else _NO_RESERVATIONS
    cpus = _either(service.cpus, limits.cpus)
    logging = service.logging
    return {
        "stop_signal": service.stop_signal,
        # Docker keeps whole seconds: rounded up, so a stop never kills sooner than asked.
        "stop_timeout": None if service.stop_grace_period is None else math.ceil(service.stop_grace_period),
        "stdin_open": service.stdin_open,
        "tty": service.tty,
        "init": service.init,
        "read_only": service.read_only,
        "sysctls": tuple(sorted(service.sysctls.items())),
        "ulimits": tuple(Ulimit(n, limit.soft, limit.hard) for n, limit in sorted(service.ulimits.items())),
        "shm_size": service.shm_size,
        "tmpfs": tuple({path: options for path, _, options in (e.partition(":") for e in service.tmpfs)}.items()),
        "extra_hosts": tuple(service.extra_hosts),
        "dns": tuple(service.dns),
        "dns_search": tuple(service.dns_search),
        "dns_opt": tuple(service.dns_opt),
        "devices": tuple(Device(d.source, d.target, d.permissions) for d in service.devices),
        "security_opt": tuple(service.security_opt),
        "mem_limit": _either(service.mem_limit, limits.memory),
        "memswap_limit": service.memswap_limit,
        "mem_reservation": _either(service.mem_reservation, reserved.memory),
        "nano_cpus": None if cpus is None else nano_cpus(cpus),
        "cpu_shares": service.cpu_shares,
        "cpuset": service.cpuset,
        "pids_limit": _either(service.pids_limit, limits.pids),
        "oom_score_adj": service.oom_score_adj,
        "log_driver": logging.driver if logging else None,
        "log_options": tuple(sorted(logging.options.items())) if logging else (),
        "platform": service.platform,
        "runtime": service.runtime,
        "group_add": tuple(service.group_add),
        "domainname": service.domainname,
        "mac_address": service.mac_address,
        "userns_mode": service.userns_mode,
        "cgroup_parent": service.cgroup_parent,
        "cgroupns": service.cgroup,
    }


def spec_mount(vol: VolumeMount, source: str | None) -> Mount:
    """A `volumes:` entry as the planner's Mount; `source` is resolved already (absolute
    host path, or the volume's Docker name)."""
    bind, volume, tmpfs = vol.bind, vol.volume, vol.tmpfs
    return Mount(
        type=vol.type, source=source, target=vol.target, read_only=vol.read_only,
        propagation=bind.propagation if bind else None,
        selinux=bind.selinux if bind else None,
        create_host_path=bind.create_host_path if bind else True,
        no_copy=volume.nocopy if volume else False,
        tmpfs_size=tmpfs.size if tmpfs else None,
        tmpfs_mode=tmpfs.mode if tmpfs else None,
    )


@dataclass
class Shared:
    """What a service takes from other services, as Docker names it (`container:NAME`),
    and the services it therefore waits for."""

    network_mode: str | None = None
    ipc: str | None = None
    pid: str | None = None
    volumes_from: tuple[str, ...] = ()
    needs: list[str] = field(default_factory=list)


def shared(name: str, service: Service, host_of: Mapping[str, str], container_names: Mapping[str, str],
           fail: Fail) -> Shared:
    """Resolve `service:NAME` in network_mode, ipc and pid, and the services of
    volumes_from, to the other container's name. Both must run on one host: a namespace or
    a volume is never shared across hosts."""
    out = Shared()

    def other(target: str, path: KeyPath, verb: str) -> str | None:
        if target not in host_of:
            fail(path, f"unknown service '{target}'")
            return None
        if host_of[target] != host_of[name]:
            fail(path, f"'{name}' {verb} '{target}', so both must run on one host, but '{name}' is on host "
                       f"{host_of[name]} and '{target}' on host {host_of[target]}")
            return None
        out.needs.append(target)
        return container_names[target]

    def mode(value: str | None, key: str, verb: str) -> str | None:
        if value is None or not value.startswith("service:"):
            return value
        found = other(value.removeprefix("service:"), ("services", name, key), verb)
        return None if found is None else f"container:{found}"

    out.network_mode = mode(service.network_mode, "network_mode", "shares the network of")
    out.ipc = mode(service.ipc, "ipc", "shares the IPC namespace of")
    out.pid = mode(service.pid, "pid", "shares the PID namespace of")
    volumes_from = []
    for index, entry in enumerate(service.volumes_from):
        target, container, read_only = parse_volumes_from(entry)
        if target is not None:
            found = other(target, ("services", name, "volumes_from", index), "mounts the volumes of")
            if found is None:
                continue
            container = found
        volumes_from.append(f"{container}:ro" if read_only else container)
    out.volumes_from = tuple(volumes_from)
    return out


# --- the steps ---------------------------------------------------------------------------------


def add_services(p: Planner, names: NameClaims, ports: PortClaims, containers: ContainerNames) -> None:
    """A step per service, after what it needs: its networks and volumes, the targets of
    its links and depends_on (or their client ambassadors), and the services it shares a
    namespace or volumes with. Everything that can be wrong is found here; the container's
    spec is made when first read (PlannedSpec), from the values fixed here."""
    services = p.topology.services
    for name, service in services.items():
        host = p.host_of[name]
        step_id = StepId.service(name)
        own_name = p.container_names[name]
        replicas = _replicas(name, service, p.fail)
        for number in range(1, replicas + 1):
            replica = own_name if number == 1 else f"{own_name}-{number}"
            containers.claim(host, replica, f"service '{name}'", ("services", name, "container_name")
                             if service.container_name else ("services", name))
        linked: list[Linked] = []
        after = [StepId.network(host, network) for network in sorted(p.nets[name])]
        for wire in p.wires.get(name, ()):
            linked.append((wire.alias, services[wire.target], p.exposed(wire.target)))
            after.append(p.reached_as(wire.target, host))  # no client ambassador while its ports are unknown
        mounts, volumes = _mounts(p, name, service, host)
        after += volumes
        after += [p.reached_as(before, host) for before in service.depends_on]
        taken = shared(name, service, p.host_of, p.container_names, p.fail)
        after += [StepId.service(other) for other in taken.needs]
        published = service.published_ports()
        for index, port in published:
            ports.claim_service_port(host, name, index, port)
            if 0 < len(port.host_ports()) < replicas:
                held = (f"host port {port.published} can be published by one container" if not port.published_last
                        else f"host ports {port.published}-{port.published_last} can be published by "
                             f"{len(port.host_ports())} containers")
                p.fail(("services", name, "ports", index),
                       f"{held}, and '{name}' runs {replicas}: leave the host port out (Docker picks one per "
                       "container) or give a range of as many ports")
        files = _files(p, name, service, mounts)
        endpoints = _endpoints(p, name, host, names)
        check_resources(name, service, p.fail)
        container = ServiceContainer(
            project=p.name, step_id=step_id, host=host, name=own_name, image=p.image(name), service=service,
            linked=tuple(linked), endpoints=endpoints, taken=taken, mounts=mounts,
            published=tuple(b for _, b in published), files=files, exposed=p.exposed(name))
        planned = PlannedSpec(container.spec)
        build = build_spec(p.name, name, service, p.project.working_dir, p.fail)
        p.add(ServiceStep(step_id, host, planned, files, build, replicas, _hooks(service.post_start),
                          _hooks(service.pre_stop)), list(dict.fromkeys(after)))


# A link of the service: its alias, the target, and the target's exposed ports.
Linked = tuple[str, Service, list[PortSpec]]


@dataclass(frozen=True, slots=True)
class ServiceContainer:
    """What add_services fixed for a service's container; `spec` makes it from that alone."""

    project: str
    step_id: StepId
    host: str
    name: str  # the container's
    image: str
    service: Service
    linked: tuple[Linked, ...]
    endpoints: tuple[Endpoint, ...]
    taken: Shared  # what it shares with other services
    mounts: tuple[Mount, ...]
    published: tuple[PortPublish, ...]
    files: tuple[UploadFile, ...]
    exposed: list[PortSpec]

    def spec(self) -> ContainerSpec:
        """The service's container, from these fields alone."""
        service, taken = self.service, self.taken
        env: dict[str, str] = {}
        for alias, target, target_ports in self.linked:
            env.update(link_environment(self.name, alias, target, target_ports))
        # The consumer's own environment wins over generated link variables.
        env.update({k: v for k, v in service.environment.items() if v is not None})
        labels = container_labels(self.project, self.step_id, self.host, service.labels)
        if self.files:  # the files' digest, never their content: a changed secret re-creates
            labels = tuple(sorted({**dict(labels), LABEL_FILES_DIGEST: files_digest(self.files)}.items()))
        hc = service.healthcheck
        health = hc.command() if hc is not None else None
        return ContainerSpec(
            name=self.name,
            image=self.image,
            networks=self.endpoints,
            network_mode=taken.network_mode,
            command=_split(service.command),
            entrypoint=_split(service.entrypoint),
            environment=tuple(sorted(env.items())),
            labels=labels,
            expose=tuple(sorted({(port.port, port.protocol) for port in self.exposed})),
            ports=tuple(PortBinding(b.target, b.protocol, b.published, b.host_ip, b.published_last)
                        for b in self.published),
            mounts=self.mounts,
            restart=service.restart,
            healthcheck=(
                HealthSpec(health, hc.interval, hc.timeout, hc.retries, hc.start_period)
                if health is not None and hc is not None
                else None
            ),
            user=service.user,
            working_dir=service.working_dir,
            hostname=service.hostname,
            cap_add=tuple(service.cap_add),
            cap_drop=tuple(service.cap_drop),
            privileged=service.privileged,
            pull_policy=service.pull_policy,
            ipc=taken.ipc,
            pid=taken.pid,
            volumes_from=taken.volumes_from,
            **runtime_options(service),
        )


def _replicas(name: str, service: Service, fail: Fail) -> int:
    """`scale` or `deploy.replicas` (they must agree, as in Compose). Several containers of
    one service cannot share one container_name."""
    deployed = service.deploy.replicas if service.deploy else None
    if service.scale is not None and deployed is not None and service.scale != deployed:
        fail(("services", name, "scale"), f"scale is {service.scale} but deploy.replicas is {deployed}; "
                                          "they must agree (or set only one)")
    replicas = service.replicas()
    if replicas > 1 and service.container_name:
        fail(("services", name, "container_name"), f"'{name}' runs {replicas} containers, and a container_name "
                                                   "names one: remove container_name or the replicas")
    return replicas


def _hooks(hooks: list[ServiceHook]) -> tuple[Hook, ...]:
    return tuple(
        Hook(_split(hook.command) or (), ExecOptions(
            user=hook.user, privileged=hook.privileged, working_dir=hook.working_dir,
            environment=tuple(sorted((k, v) for k, v in hook.environment.items() if v is not None)),
        ))
        for hook in hooks
    )


def _split(value: list[str] | str | None) -> tuple[str, ...] | None:
    """Compose splits a string command like a shell would, without running one."""
    if value is None:
        return None
    return tuple(shlex.split(value)) if isinstance(value, str) else tuple(value)


def _mounts(p: Planner, name: str, service: Service, host: str) -> tuple[tuple[Mount, ...], list[StepId]]:
    """The service's mounts, and the volume steps it needs (created on first use)."""
    mounts: list[Mount] = []
    needs: list[StepId] = []
    for index, vol in enumerate(service.volumes):
        source = vol.source
        if vol.type == "bind" and source is not None:
            # Relative to the topology file, as Compose resolves them.
            written = source
            source = os.path.normpath(
                os.path.join(os.path.abspath(p.project.working_dir), os.path.expanduser(source))
            )
            if written != source and _remote(p, host):
                where = p.project.error(("services", name, "volumes", index), "")
                p.bind_notes.append(
                    f"{str(where).rstrip(': ')}: {written} is this machine's {source}, but '{name}' runs "
                    f"on host {host}: the folder must exist there at that path")
        elif vol.type == "volume" and source is not None:
            decl = p.topology.volume(source)
            full = volume_name(p.name, source, decl.name, decl.external)
            if not decl.external:
                step_id = StepId.volume(source, host)
                _one_host_per_volume(p, source, host, ("services", name, "volumes", index))
                if step_id not in p.nodes:
                    spec = VolumeSpec(
                        name=full,
                        driver=decl.driver,
                        driver_opts=tuple(sorted(decl.driver_opts.items())),
                        labels=project_labels(p.name, decl.labels),
                    )
                    # No edge from the network: volumes and networks are made in parallel.
                    p.add(VolumeStep(step_id, spec))
                needs.append(step_id)
            source = full
        mounts.append(spec_mount(vol, source))
    return tuple(mounts), needs


def _remote(p: Planner, host: str) -> bool:
    """Whether the host's engine is reached over the network (not this machine's socket)."""
    docker = p.hosts[host].docker
    return docker is not None and not docker.startswith(("unix://", "npipe://"))


def _files(p: Planner, name: str, service: Service, mounts: tuple[Mount, ...]) -> tuple[UploadFile, ...]:
    """The service's secrets (in /run/secrets) and configs (in /) as the files uploaded
    into its container, with their mode and owner. Two at one path, or one below a
    mount, are errors: an upload there would be written into the volume or the host's
    folder, or hidden under the tmpfs."""
    files: dict[str, tuple[UploadFile, str]] = {}
    for kind, folder in (("secrets", SECRETS_DIR), ("configs", "/")):
        for index, grant in enumerate(service.secrets if kind == "secrets" else service.configs):
            where = ("services", name, kind, index)
            singular = kind[:-1]
            path = grant.path(folder)
            data = p.project.contents.get((kind, grant.source))
            if data is None:
                p.fail(where, f"the content of {singular} '{grant.source}' was not read")
                continue
            if path in files:
                p.fail(where, f"{path} is already where {files[path][1]} goes; give one of them another `target:`")
                continue
            mount = next((m for m in mounts if _below(path, m.target)), None)
            if mount is not None:
                into = {"tmpfs": "would be hidden under the tmpfs", "bind": "would be written into the host "
                        "folder", "volume": "would be written into the volume"}[mount.type]
                p.fail(where, f"{path} is below the {mount.type} mount at {mount.target}: the {singular} "
                              f"{into}; give it a `target:` outside {mount.target}")
                continue
            upload = UploadFile(path, data, grant.file_mode(), grant.uid or 0, grant.gid or 0)
            files[path] = (upload, f"{singular} '{grant.source}'")
    return tuple(upload for upload, _ in files.values())


def _below(path: str, folder: str) -> bool:
    folder = posixpath.normpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _one_host_per_volume(p: Planner, volume: str, host: str, path: KeyPath) -> None:
    first = p.volume_hosts.setdefault(volume, (host, path))
    if first[0] != host:
        user = path[1]
        p.fail(path, f"named volume '{volume}' lives on one host: '{first[1][1]}' uses it on host "
                     f"{first[0]} and '{user}' on host {host}; pin both to one host, or give each "
                     "its own volume")


def _endpoints(p: Planner, name: str, host: str, names: NameClaims) -> tuple[Endpoint, ...]:
    """The service's place on each of its networks: its name and aliases there for all,
    its `links:` aliases for itself on the network it shares with each target."""
    links: dict[str, list[str]] = defaultdict(list)
    for wire in p.wires.get(name, ()):
        links[wire.network].append(f"{wire.target}:{wire.alias}")
    endpoints = []
    for network, settings in sorted(p.nets[name].items()):
        aliases = (name, *sorted(set(settings.aliases) - {name}))
        docker_name = p.docker_network(network)
        for alias in aliases:
            why = f"service '{name}' runs there" if alias == name else f"an alias of '{name}'"
            names.claim(host, docker_name, alias, name, why, ("services", name, "networks", network))
        endpoints.append(Endpoint(docker_name, aliases, tuple(sorted(links[network])),
                                  settings.ipv4_address, settings.ipv6_address))
    return tuple(endpoints)
