"""The plan of a project on a Docker Swarm (`engine: swarm`): an attachable overlay network
per project network, a Swarm secret or config per one the services use, and a Swarm service
per service, pinned to the node of its host, in the same dependency order as on plain
engines. Pure: no Docker, no network.

On a swarm every service is one overlay away from every other, so a service is planned as
the plain planner plans services that share one host (names and ports claimed once for
the whole network, link variables and aliases resolved, no ambassadors), and then placed
on its own host's node. What Swarm services cannot do is refused here, located at the key
to change.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from xcompose.config.location import KeyPath
from xcompose.config.model import Service
from xcompose.config.options import constraint_host
from xcompose.config.project import Project
from xcompose.config.service_keys import SECRETS_DIR, Grant
from xcompose.errors import ConfigError, ConfigErrors
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan, host_targets
from xcompose.plan.naming import LABEL_HOST, LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE, network_name
from xcompose.plan.steps import ServiceStep, StepId
from xcompose.plan.swarm_steps import (
    MAX_NAME,
    EndpointMode,
    FileGrant,
    ObjectKind,
    OverlaySpec,
    SwarmObjectSpec,
    SwarmPlan,
    SwarmServiceSpec,
    SwarmStep,
)


def manager_of(project: Project) -> str:
    """The host whose engine manages the swarm: `swarm.manager`, else the first host."""
    return project.topology.swarm.manager or project.host_names()[0]


def resolved_endpoint_mode(project: Project, supports_vip: bool | None) -> EndpointMode | None:
    """`swarm.endpoint_mode` as it applies: vip or dnsrr as written; `auto` is vip where
    the nodes are known to carry virtual IPs (`supports_vip`), dnsrr where they are not,
    and undecided (None) when nobody asked them."""
    mode = project.topology.swarm.endpoint_mode
    if mode != "auto":
        return mode
    if supports_vip is None:
        return None
    return "vip" if supports_vip else "dnsrr"


def build_swarm_plan(project: Project, endpoint_mode: EndpointMode | None = None,
                     notes: tuple[str, ...] = ()) -> SwarmPlan:
    """The swarm plan of `project`; raises ConfigErrors listing every problem found.
    `endpoint_mode`: as resolved against the nodes (None: `auto`, undecided); `notes`: how
    it was."""
    return SwarmPlanner(project, endpoint_mode, notes).build()


@dataclass(frozen=True)
class SwarmObject:
    """A secret or config as services are given it on the swarm."""

    name: str  # its Docker name
    made_here: bool  # by a step of this plan; else external: the swarm's own, found by name


class SwarmPlanner:
    def __init__(self, project: Project, endpoint_mode: EndpointMode | None, notes: tuple[str, ...]) -> None:
        self.project = project
        self.mode_notes = notes
        self.name = project.name
        self.endpoint_mode = endpoint_mode
        self.errors: list[ConfigError] = []
        self.steps: list[SwarmStep] = []
        self.edges: list[tuple[str, str]] = []
        self.manager = manager_of(project)

    def fail(self, path: KeyPath, message: str) -> None:
        self.errors.append(self.project.error(path, message))

    def build(self) -> SwarmPlan:
        topology = self.project.topology
        for name in topology.services:
            self._refuse_what_swarm_cannot_do(name)
        one_host = _as_on_one_host(self.project, self.manager)
        try:
            plain = build_plan(one_host, Credentials.none(self.name))
        except ConfigErrors as errors:
            self.errors += errors.errors
            raise ConfigErrors(self.errors) from None
        overlays = self._overlays()
        objects = self._objects()
        self._check_volumes()
        aliases = self._link_aliases()
        for step in plain.steps():
            if isinstance(step, ServiceStep):
                self._service(step, aliases, overlays, objects, plain.after(step.id))
        if self.errors:
            raise ConfigErrors(self.errors)
        swarm = topology.swarm
        shown_mode = self.endpoint_mode or "auto"
        return SwarmPlan(self.name, self.manager, host_targets(self.project), self.steps, self.edges,
                         encrypted=swarm.encrypted, endpoint_mode=shown_mode, notes=self._notes())

    def _notes(self) -> tuple[str, ...]:
        notes = list(self.mode_notes)
        if self.endpoint_mode is None:
            notes.append("endpoint mode auto: vip where every node carries IPVS, else dnsrr (decided when the "
                         "nodes are asked)")
        if self.project.topology.swarm.encrypted and self.project.topology.services:
            notes.append("the overlay networks are encrypted (IPsec ESP): where a node's kernel cannot carry "
                         "ESP, traffic between nodes does not flow; set `swarm: {encrypted: false}` there")
        return tuple(notes)

    # -- what Swarm services cannot do --------------------------------------------------

    def _refuse_what_swarm_cannot_do(self, name: str) -> None:
        service = self.project.topology.services[name]
        base: KeyPath = ("services", name)
        namespaces = {"network_mode": service.network_mode, "ipc": service.ipc, "pid": service.pid}
        for key, value in namespaces.items():
            if value is not None:
                self.fail((*base, key), f"a Swarm service's tasks have namespaces of their own (and join the "
                                        f"project's overlays): remove {key} (or use engine: docker)")
        if service.volumes_from:
            self.fail((*base, "volumes_from"), "a Swarm service cannot mount another's volumes; name the volumes "
                                               "in both services' `volumes:` (both on one host)")
        if service.privileged:
            self.fail((*base, "privileged"), "Swarm services cannot run privileged; give the capabilities it "
                                             "needs with cap_add (or use engine: docker)")
        if service.devices:
            self.fail((*base, "devices"), "Swarm services cannot be given devices (use engine: docker)")
        if service.build is not None:
            self.fail((*base, "build"), "a swarm does not build: build and push the image, name it in `image:` "
                                        "and remove `build:`")
        for index, port in service.published_ports():
            where = (*base, "ports", index)
            if port.host_ip:
                self.fail(where, f"a swarm publishes on every address of the node, not on {port.host_ip}: "
                                 "remove the address")
            elif port.published_last is not None:
                self.fail(where, "a swarm publishes one host port per container port, not a range of them")

    # -- swarm-wide objects --------------------------------------------------------------

    def _overlays(self) -> dict[str, str]:
        """An overlay per project network a service joins; returns Docker name -> step id."""
        topology = self.project.topology
        joined = sorted({n for s in topology.services.values() for n in s.network_settings()})
        by_docker_name: dict[str, str] = {}
        for network in joined:
            decl = topology.network(network)
            docker_name = self._docker_network(network)
            if decl.external:
                continue  # made outside the file: joined as it is
            spec = OverlaySpec(
                name=docker_name,
                labels=tuple(sorted({**decl.labels, LABEL_PROJECT: self.name, LABEL_ROLE: "overlay"}.items())),
                encrypted=topology.swarm.encrypted,
                internal=decl.internal,
                driver_opts=tuple(sorted(decl.driver_opts.items())),
            )
            step = SwarmStep("overlay", network, spec)
            self.steps.append(step)
            by_docker_name[docker_name] = step.id
        return by_docker_name

    def _objects(self) -> dict[tuple[str, str], SwarmObject]:
        """The Swarm secret or config behind each one a service uses: (kind, name in the
        file) -> it. One the file holds becomes a step that makes it; an external one is the
        swarm's own, found by name when the services are made."""
        found: dict[tuple[str, str], SwarmObject] = {}
        topology = self.project.topology
        for name, service in topology.services.items():
            for kind, index, grant in _grants(service):
                key = (kind, grant.source)
                if key in found:
                    continue
                decl = (topology.secrets if kind == "secret" else topology.configs).get(grant.source)
                if decl is not None and decl.external:
                    found[key] = SwarmObject(decl.name or grant.source, made_here=False)
                    continue
                data = self.project.contents.get((f"{kind}s", grant.source))
                if data is None:
                    self.fail(("services", name, f"{kind}s", index), f"the content of {kind} '{grant.source}' "
                                                                     "was not read")
                    continue
                digest = hashlib.sha256(data).hexdigest()[:12]
                prefix = f"{self.name}_{grant.source}"[: MAX_NAME - 13]
                spec = SwarmObjectSpec(kind, grant.source, f"{prefix}_{digest}",
                                       ((LABEL_PROJECT, self.name), (LABEL_ROLE, kind)), data)
                found[key] = SwarmObject(spec.name, made_here=True)
                self.steps.append(SwarmStep(kind, grant.source, spec))
        return found

    def _check_volumes(self) -> None:
        """A named volume lives on the node where it is used: two hosts using one would be
        two volumes with one name, so it is refused, as on plain engines."""
        first: dict[str, tuple[str, str]] = {}
        for name, service in self.project.topology.services.items():
            host = self.project.host_of(name)
            for index, mount in enumerate(service.volumes):
                if mount.type != "volume" or mount.source is None:
                    continue
                if self.project.topology.volume(mount.source).external:
                    continue
                user, where = first.setdefault(mount.source, (name, host))
                if where != host:
                    self.fail(("services", name, "volumes", index),
                              f"named volume '{mount.source}' lives on one node: '{user}' uses it on host {where} "
                              f"and '{name}' on host {host}; pin both to one host, or give each its own volume")

    def _link_aliases(self) -> dict[tuple[str, str], set[str]]:
        """(service, network) -> the link aliases it answers to there. A swarm has no
        per-container links: a link's alias becomes a name of the target on the network
        both share, which every service there sees, so one alias names one target."""
        aliases: dict[tuple[str, str], set[str]] = defaultdict(set)
        owner: dict[tuple[str, str], str] = {}
        services = self.project.topology.services
        names: dict[tuple[str, str], str] = {}
        for name, service in services.items():
            for network, settings in service.network_settings().items():
                for alias in (name, *settings.aliases):
                    names.setdefault((network, alias), name)
        for consumer, service in services.items():
            mine = service.network_settings()
            for index, link in enumerate(service.links):
                shared = sorted(mine.keys() & services[link.target].network_settings().keys())
                if not shared or link.alias == link.target:
                    continue  # no network: the plain planner says so
                key = (shared[0], link.alias)
                other = owner.get(key) or names.get(key)
                if other is not None and other != link.target:
                    self.fail(("services", consumer, "links", index),
                              f"on a swarm a link's alias is a name on the network for every service, and "
                              f"'{link.alias}' already names '{other}' on network {shared[0]}; choose another alias")
                    continue
                owner[key] = link.target
                aliases[(link.target, shared[0])].add(link.alias)
        return aliases

    # -- services ------------------------------------------------------------------------

    def _service(self, step: ServiceStep, link_aliases: Mapping[tuple[str, str], set[str]],
                 overlays: Mapping[str, str], objects: Mapping[tuple[str, str], SwarmObject],
                 after: list[StepId]) -> None:
        name = step.service
        service = self.project.topology.services[name]
        container = step.container
        host = self.project.host_of(name)
        network_names = {self._docker_network(n): n for n in service.network_settings()}
        networks = tuple(
            (e.network, tuple(sorted(set(e.aliases) | link_aliases.get((name, network_names[e.network]), set()))))
            for e in container.networks)
        files = tuple(
            FileGrant(kind, objects[(kind, grant.source)].name,
                      grant.path(SECRETS_DIR if kind == "secret" else "/"), grant.uid or 0, grant.gid or 0,
                      grant.file_mode())
            for kind, _, grant in _grants(service) if (kind, grant.source) in objects)
        spec = SwarmServiceSpec(
            name=f"{self.name}_{name}"[:MAX_NAME], service=name, host=host, image=container.image,
            replicas=self._replicas(name), endpoint_mode=self.endpoint_mode, networks=networks,
            constraints=tuple(c for c in (service.deploy.placement.constraints if service.deploy else [])
                              if constraint_host(c) is None),
            command=container.entrypoint, args=container.command, environment=container.environment,
            # As a plain engine's container is labelled: the per-host commands (exec, logs,
            # ps, top) find a task's container on its node by these.
            container_labels=tuple(sorted({**service.labels, LABEL_PROJECT: self.name, LABEL_SERVICE: name,
                                           LABEL_ROLE: "service", LABEL_HOST: host}.items())),
            ports=container.ports, mounts=container.mounts, files=files, healthcheck=container.healthcheck,
            user=container.user, working_dir=container.working_dir, hostname=container.hostname,
            cap_add=container.cap_add, cap_drop=container.cap_drop, restart=container.restart,
            stop_signal=container.stop_signal, stop_timeout=container.stop_timeout, init=container.init,
            read_only=container.read_only, tty=container.tty, stdin_open=container.stdin_open,
            sysctls=container.sysctls, extra_hosts=container.extra_hosts, dns=container.dns,
            dns_search=container.dns_search, dns_opt=container.dns_opt, nano_cpus=container.nano_cpus,
            mem_limit=container.mem_limit, mem_reservation=container.mem_reservation,
            log_driver=container.log_driver, log_options=container.log_options,
        )
        step_id = f"service:{name}"
        self.steps.append(SwarmStep("service", name, spec))
        needs = [f"service:{before.name}" for before in after if before.kind == "service"]
        needs += [overlays[network] for network, _ in networks if network in overlays]
        needs += [f"{kind}:{grant.source}" for kind, _, grant in _grants(service)
                  if (kind, grant.source) in objects and objects[(kind, grant.source)].made_here]
        self.edges += [(before, step_id) for before in dict.fromkeys(needs)]

    def _replicas(self, name: str) -> int:
        """`scale` or `deploy.replicas` (which must agree, as in Compose). Under dnsrr a
        published port is the node's own, so one fixed host port serves one task only."""
        service = self.project.topology.services[name]
        deployed = service.deploy.replicas if service.deploy else None
        if service.scale is not None and deployed is not None and service.scale != deployed:
            self.fail(("services", name, "scale"), f"scale is {service.scale} but deploy.replicas is {deployed}; "
                                                   "they must agree (or set only one)")
        replicas = service.replicas()
        if replicas > 1 and self.endpoint_mode == "dnsrr":
            for index, port in service.published_ports():
                if port.published is not None:
                    self.fail(("services", name, "ports", index),
                              f"with endpoint mode dnsrr a port is published on the node itself, so host port "
                              f"{port.published} serves one task, and '{name}' runs {replicas}: leave the host "
                              "port out, or use endpoint_mode: vip")
        return replicas

    def _docker_network(self, network: str) -> str:
        decl = self.project.topology.network(network)
        return network_name(self.name, network, decl.name or (network if decl.external else None))


def _grants(service: Service) -> list[tuple[ObjectKind, int, Grant]]:
    """The secrets and configs a service is given: (kind, index in its list, grant)."""
    secrets: list[tuple[ObjectKind, int, Grant]] = [("secret", i, grant) for i, grant in enumerate(service.secrets)]
    configs: list[tuple[ObjectKind, int, Grant]] = [("config", i, grant) for i, grant in enumerate(service.configs)]
    return secrets + configs


def _as_on_one_host(project: Project, host: str) -> Project:
    """The project with every service on `host`: what the plain planner makes of services
    that all reach each other directly, as on a swarm's overlay. Each runs one container
    there: a swarm's replicas share a published port through the routing mesh, which
    containers on one plain host cannot (the replicas are checked in `_replicas`)."""
    topology = project.topology
    one_each = {"host": host, "scale": None, "container_name": None}
    services = {name: service.model_copy(update={**one_each, "deploy": service.deploy.model_copy(
        update={"replicas": None}) if service.deploy else None}) for name, service in topology.services.items()}
    hosts = {host: topology.hosts[host]} if host in topology.hosts else {}
    one = topology.model_copy(update={"services": services, "hosts": hosts})
    # The swarm holds an external secret's content; the plain planner only checks where its
    # file goes, so it gets an empty one.
    external = {(kind, name): b"" for kind, decls in (("secrets", topology.secrets), ("configs", topology.configs))
                for name, decl in decls.items() if decl.external}
    return Project(name=project.name, topology=one, files=project.files, locations=project.locations,
                   contents={**external, **project.contents}, folder=project.folder)
