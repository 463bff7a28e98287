"""From a loaded Project and its credentials to the final Plan: which steps on which host,
in which order, each described completely (the ambassadors' relay, config, probe and files
included). What the plan says is what `up` carries out.

Pure: no Docker, no files, no network. The Project is valid as the loader checks it (every
name it refers to exists); what only placement and wiring reveal is checked here, and every
such problem is collected and raised at once as ConfigErrors, located at the key to change.
Everything is indexed up front (links by target and consumer host, port claims by host and
port) so that planning stays linear in the size of the topology.
"""

from __future__ import annotations

import os
import shlex
from collections import defaultdict

from xcompose.config.location import KeyPath
from xcompose.config.model import Service
from xcompose.config.project import IMPLICIT_HOST, Project
from xcompose.config.syntax import PortSpec
from xcompose.errors import ConfigError, ConfigErrors
from xcompose.pki import Credentials, Identity
from xcompose.plan.alloc import paused_gc
from xcompose.plan.checks import PortClaims, check_cycles, check_names
from xcompose.plan.naming import (
    container_labels,
    container_name,
    network_name,
    project_labels,
    volume_name,
)
from xcompose.plan.relay import ambassador, relay_kind
from xcompose.plan.specs import (
    ContainerSpec,
    HealthSpec,
    HostTarget,
    Mount,
    NetworkSpec,
    PortBinding,
    VolumeSpec,
)
from xcompose.plan.steps import (
    ClientAmbassadorStep,
    NetworkStep,
    Plan,
    ServerAmbassadorStep,
    ServiceStep,
    Step,
    StepId,
    VolumeStep,
)
from xcompose.plan.wiring import (
    Wire,
    client_relays,
    env_prefix,
    link_environment,
    server_ports,
    server_relays,
)


def build_plan(project: Project, credentials: Credentials) -> Plan:
    """The plan for `project`; raises ConfigErrors listing every problem found.
    `credentials` gives the ambassadors their certificates (`Credentials.none()` when
    they are not known, as for `config` and `plan --offline`)."""
    with paused_gc():
        return _Planner(project, credentials).build()


def _split(value: list[str] | str | None) -> tuple[str, ...] | None:
    """Compose splits a string command like a shell would, without running one."""
    if value is None:
        return None
    return tuple(shlex.split(value)) if isinstance(value, str) else tuple(value)


def _host_targets(project: Project) -> dict[str, HostTarget]:
    hosts = project.topology.hosts
    if not hosts:
        return {IMPLICIT_HOST: HostTarget(IMPLICIT_HOST, None, None)}
    return {
        name: HostTarget(
            name=name,
            address=h.address,
            docker=h.docker,
            executor=h.executor,
            sudo=h.sudo,
            max_parallel=h.max_parallel,
            tls_ca_cert=h.tls.ca_cert if h.tls else None,
            tls_client_cert=h.tls.client_cert if h.tls else None,
            tls_client_key=h.tls.client_key if h.tls else None,
            tls_verify=h.tls.verify if h.tls else True,
        )
        for name, h in hosts.items()
    }


class _Planner:
    def __init__(self, project: Project, credentials: Credentials) -> None:
        self.project = project
        self.credentials = credentials
        self.topology = project.topology
        self.name = project.name
        self.errors: list[ConfigError] = []
        # Steps and edges are collected and handed to the Plan in bulk at the end: one
        # networkx call per step costs more than everything else the planner does.
        self.nodes: dict[StepId, Step] = {}
        self.edges: list[tuple[StepId, StepId]] = []
        self.ports_of: dict[str, list[PortSpec]] = {}  # exposed ports, computed once per target
        self.hosts = _host_targets(project)
        decl = self.topology.networks.get("default")
        self.network = network_name(self.name, declared=decl.name if decl else None)
        self.host_of = {service: project.host_of(service) for service in self.topology.services}
        self.wires: dict[str, list[Wire]] = defaultdict(list)  # by consumer
        # target -> aliases its same-host consumers use (DNS aliases on the target itself)
        self.local_aliases: dict[str, set[str]] = defaultdict(set)
        # target -> consumer host -> aliases used there (carried by the client ambassador)
        self.remote: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        # (before, after, origin) service orderings from depends_on
        self.depends: list[tuple[str, str, KeyPath]] = []
        # (target, consumer host) -> the first link that made it, to explain errors
        self.first_wire: dict[tuple[str, str], Wire] = {}
        self.tls_without_ca = False

    def fail(self, path: KeyPath, message: str) -> None:
        self.errors.append(self.project.error(path, message))

    def build(self) -> Plan:
        self._resolve_links()
        self._resolve_depends_on()
        self.errors += check_cycles(self.project, self.wires, self.depends)
        self.errors += check_names(self.project, self.host_of, self.wires)
        claims = PortClaims(self.project)
        self._networks()
        self._services(claims)
        self._ambassadors(claims)
        self.errors += claims.errors
        if self.errors:
            raise ConfigErrors(self.errors)
        return Plan(self.name, self.hosts, self.nodes.values(), self.edges, new_ca=self.tls_without_ca)

    # -- what refers to what -------------------------------------------------------------

    def _resolve_links(self) -> None:
        services = self.topology.services
        refused: set[str] = set()  # targets whose ports cannot cross hosts: said once
        for consumer, service in services.items():
            seen: dict[str, tuple[int, str]] = {}  # env prefix -> (index, alias)
            for index, link in enumerate(service.links):
                path = ("services", consumer, "links", index)
                prefix = env_prefix(link.alias)
                if prefix in seen:
                    other_index, other_alias = seen[prefix]
                    same = "" if other_alias == link.alias else f" ('{other_alias}': same variables {prefix}_*)"
                    self.fail(path, f"alias '{link.alias}' is already used by links[{other_index}]{same}")
                    continue
                seen[prefix] = (index, link.alias)
                wire = Wire(
                    consumer=consumer,
                    position=index,
                    target=link.target,
                    alias=link.alias,
                    consumer_host=self.host_of[consumer],
                    target_host=self.host_of[link.target],
                )
                if wire.cross_host and not self._can_cross(wire, refused):
                    continue
                self.wires[consumer].append(wire)
                if wire.cross_host:
                    self.remote[wire.target][wire.consumer_host].add(wire.alias)
                    self.first_wire.setdefault((wire.target, wire.consumer_host), wire)
                else:
                    self.local_aliases[wire.target].add(wire.alias)

    def _can_cross(self, wire: Wire, refused: set[str]) -> bool:
        """Whether the target's ports can be relayed between hosts; says why not once."""
        target = self.topology.services[wire.target]
        where = (f"'{wire.target}' runs on host {wire.target_host} and '{wire.consumer}' on "
                 f"host {wire.consumer_host}")
        if not target.expose:
            self.fail(wire.path, f"{where}: a link across hosts needs a port, but "
                                 f"services.{wire.target}.expose is empty; add `expose: [PORT]` to {wire.target}")
            return False
        udp = next((p for p in self._ports(wire.target) if p.protocol == "udp"), None)
        if udp is None:
            return True
        if wire.target not in refused:
            refused.add(wire.target)
            path = ("services", wire.target, "expose", target.expose_index(udp))
            if self._tls(target):
                self.fail(path, f"{udp.short()} would cross hosts ({where}), but ambassadors encrypt TCP "
                                "only; to carry UDP unencrypted, set `ambassador: {tls: false, image: "
                                f"alpine/socat:latest}}` on {wire.target}")
            elif relay_kind(self._relay_image(target)) == "haproxy":
                self.fail(path, f"{udp.short()} would cross hosts ({where}), but the haproxy relay "
                                f"carries TCP only; set `ambassador: {{image: alpine/socat:latest}}` on "
                                f"{wire.target} (socat relays UDP)")
            else:
                return True
        return False

    def _resolve_depends_on(self) -> None:
        for consumer, service in self.topology.services.items():
            for target in service.depends_on:
                self.depends.append((target, consumer, ("services", consumer, "depends_on", target)))

    # -- steps -------------------------------------------------------------------------

    def _add(self, step: Step, after: list[StepId] | tuple[StepId, ...] = ()) -> None:
        step_id = step.id
        self.nodes[step_id] = step
        self.edges += [(before, step_id) for before in after]

    def _ports(self, target: str) -> list[PortSpec]:
        ports = self.ports_of.get(target)
        if ports is None:
            ports = self.ports_of[target] = self.topology.services[target].exposed_ports()
        return ports

    def _tls(self, service: Service) -> bool:
        own = service.ambassador.tls
        return self.topology.ambassador.tls if own is None else own

    def _relay_image(self, service: Service) -> str:
        return service.ambassador.image or self.topology.ambassador.image

    def _networks(self) -> None:
        decl = self.topology.networks.get("default")
        spec = NetworkSpec(
            name=self.network,
            driver=decl.driver if decl else None,
            driver_opts=tuple(sorted(decl.driver_opts.items())) if decl else (),
            labels=project_labels(self.name, decl.labels if decl else None),
            external=decl.external if decl else False,
        )
        for host in sorted(set(self.host_of.values())):
            self._add(NetworkStep(StepId.network(host), spec))

    def _mounts(self, service: Service, host: str) -> tuple[tuple[Mount, ...], list[StepId]]:
        """The service's mounts, and the volume steps it needs (created on first use)."""
        mounts: list[Mount] = []
        needs: list[StepId] = []
        for vol in service.volumes:
            source = vol.source
            if vol.type == "bind" and source is not None:
                # Relative to the topology file, as Compose resolves them.
                source = os.path.normpath(
                    os.path.join(os.path.abspath(self.project.working_dir), os.path.expanduser(source))
                )
            elif vol.type == "volume" and source is not None:
                decl = self.topology.volume(source)
                full = volume_name(self.name, source, decl.name, decl.external)
                if not decl.external:
                    step_id = StepId.volume(source, host)
                    if step_id not in self.nodes:
                        spec = VolumeSpec(
                            name=full,
                            driver=decl.driver,
                            driver_opts=tuple(sorted(decl.driver_opts.items())),
                            labels=project_labels(self.name, decl.labels),
                        )
                        # No edge from the network: volumes and networks are made in parallel.
                        self._add(VolumeStep(step_id, spec))
                    needs.append(step_id)
                source = full
            mounts.append(Mount(type=vol.type, source=source, target=vol.target, read_only=vol.read_only))
        return tuple(mounts), needs

    def _services(self, claims: PortClaims) -> None:
        services = self.topology.services
        for name, service in services.items():
            host = self.host_of[name]
            step_id = StepId.service(name)
            env: dict[str, str] = {}
            after = [StepId.network(host)]
            for wire in self.wires.get(name, ()):
                env.update(
                    link_environment(
                        container_name(self.name, step_id), wire.alias, services[wire.target], self._ports(wire.target)
                    )
                )
                after.append(StepId.client(wire.target, host) if wire.cross_host else StepId.service(wire.target))
            # The consumer's own environment wins over generated link variables.
            env.update({k: v for k, v in service.environment.items() if v is not None})
            mounts, volumes = self._mounts(service, host)
            after += volumes
            after += [StepId.service(before) for before in service.depends_on]
            published = service.published_ports()
            for index, port in published:
                claims.claim_service_port(host, name, index, port)
            hc = service.healthcheck
            health = hc.command() if hc is not None else None
            spec = ContainerSpec(
                name=container_name(self.name, step_id),
                image=service.image,
                network=self.network,
                aliases=(name, *sorted(self.local_aliases.get(name, set()) - {name})),
                command=_split(service.command),
                entrypoint=_split(service.entrypoint),
                environment=tuple(sorted(env.items())),
                labels=container_labels(self.name, step_id, host, service.labels),
                expose=tuple(sorted({(p.port, p.protocol) for p in service.exposed_ports()})),
                ports=tuple(PortBinding(p.target, p.protocol, p.published, p.host_ip) for _, p in published),
                mounts=mounts,
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
            )
            self._add(ServiceStep(step_id, host, spec), after)

    def _ambassadors(self, claims: PortClaims) -> None:
        services = self.topology.services
        unaddressed: set[str] = set()  # hosts already reported for a missing address
        for target, by_host in self.remote.items():
            service = services[target]
            host = self.host_of[target]
            address = self.hosts[host].address
            if address is None:
                if host not in unaddressed:
                    unaddressed.add(host)
                    wire = self.first_wire[(target, min(by_host))]
                    self.fail(
                        ("hosts", host, "address"),
                        f"needed because '{wire.consumer}' on host {wire.consumer_host} links to "
                        f"'{target}' on host {host} (services.{wire.consumer}.links[{wire.position}]); "
                        "set the address other hosts reach this host at",
                    )
                continue
            tls = self._tls(service)
            image = self._relay_image(service)
            for port in self._ports(target):
                claims.claim_ambassador_port(host, address, target, service, port)
            server_id = StepId.server(target)
            server_name = container_name(self.name, server_id)
            container, relay = ambassador(
                role="ambassador-server",
                name=server_name,
                image=image,
                network=self.network,
                ports=server_relays(target, service),
                labels=container_labels(self.name, server_id, host),
                published=server_ports(service, address),
                tls=tls,
                identity=self._identity(server_name, tls),
            )
            self._add(ServerAmbassadorStep(server_id, host, container, relay),
                      [StepId.network(host), StepId.service(target)])
            remote_relays = client_relays(service, address)
            for consumer_host, aliases in sorted(by_host.items()):
                client_id = StepId.client(target, consumer_host)
                client_name = container_name(self.name, client_id)
                container, relay = ambassador(
                    role="ambassador-client",
                    name=client_name,
                    image=image,
                    network=self.network,
                    ports=remote_relays,
                    labels=container_labels(self.name, client_id, consumer_host),
                    # The target's own name too, as it resolves on the target's host.
                    aliases=(target, *sorted(aliases - {target})),
                    tls=tls,
                    identity=self._identity(client_name, tls),
                    server_name=server_name,
                )
                self._add(ClientAmbassadorStep(client_id, container, relay),
                          [StepId.network(consumer_host), server_id])

    def _identity(self, name: str, tls: bool) -> Identity | None:
        if not tls:
            return None
        identity = self.credentials.identity(name)
        self.tls_without_ca |= identity is None and self.credentials.read
        return identity
