"""From a loaded Project to a Plan: which steps on which host, in which order.

Pure: no Docker, no files, no network. Every problem in the topology is collected and
raised at once as ConfigErrors, each located at the key that would have to change.
Everything is indexed up front (links by target and consumer host, port claims by host and
port) so that planning stays linear in the size of the topology.
"""

from __future__ import annotations

import gc
import os
import shlex
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import networkx as nx

from xcompose.ambassador import relay_container, relay_probe
from xcompose.errors import ConfigError, ConfigErrors
from xcompose.model import PortSpec, Service
from xcompose.plan import (
    LABEL_HOST,
    LABEL_PROJECT,
    LABEL_ROLE,
    LABEL_SERVICE,
    ContainerSpec,
    HealthSpec,
    HostTarget,
    Mount,
    NetworkSpec,
    Plan,
    PortBinding,
    Role,
    Step,
    VolumeSpec,
)
from xcompose.planchecks import PortClaims, check_cycles, check_names
from xcompose.project import IMPLICIT_HOST, KeyPath, Project
from xcompose.wiring import (
    Wire,
    client_relays,
    exposed_ports,
    link_environment,
    server_ports,
    server_relays,
)


def build_plan(project: Project) -> Plan:
    """The plan for `project`; raises ConfigErrors listing every problem found."""
    with paused_gc():
        return _Planner(project).build()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Planning allocates hundreds of thousands of small objects and frees none of them, so
    the cyclic collector would rescan a growing heap again and again (it tripled the time of
    a 10,000-service plan), and scan it once more right after `gc.enable()`. Instead, what
    was allocated meanwhile is handed to the oldest generation unscanned: freeze() moves it
    aside and resets the young count, unfreeze() puts it into the oldest generation. Only
    done when nobody else uses freeze(). Reference counting frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def container_name(project: str, service: str) -> str:
    return f"{project}-{service}"


def server_ambassador_name(project: str, service: str) -> str:
    return f"{project}-{service}-ambassador"


def client_ambassador_name(project: str, service: str, consumer_host: str) -> str:
    return f"{project}-{service}-ambassador-{consumer_host}"


def network_name(project: str) -> str:
    return f"{project}_default"


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
    def __init__(self, project: Project) -> None:
        self.project = project
        self.topology = project.topology
        self.name = project.name
        self.errors: list[ConfigError] = []
        # Nodes and edges are collected and added to the graph in bulk at the end: one
        # networkx call per step costs more than everything else the planner does.
        self.nodes: dict[str, Step] = {}
        self.edges: list[tuple[str, str]] = []
        self.ports_of: dict[str, list[PortSpec]] = {}  # exposed ports, computed once per target
        self.hosts = _host_targets(project)
        self.network = network_name(self.name)
        self.host_of: dict[str, str] = {}  # valid placements only
        self.wires: dict[str, list[Wire]] = defaultdict(list)  # by consumer
        # target -> aliases its same-host consumers use (DNS aliases on the target itself)
        self.local_aliases: dict[str, set[str]] = defaultdict(set)
        # target -> consumer host -> aliases used there (carried by the client ambassador)
        self.remote: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        # (before, after, origin) service orderings from depends_on
        self.depends: list[tuple[str, str, KeyPath]] = []
        self.depends_on: dict[str, list[str]] = defaultdict(list)  # consumer -> before
        # (target, consumer host) -> the first link that made it, to explain errors
        self.first_wire: dict[tuple[str, str], Wire] = {}
        self.wait_healthy: set[str] = set()

    def fail(self, path: KeyPath, message: str) -> None:
        self.errors.append(self.project.error(path, message))

    def build(self) -> Plan:
        self._place()
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
        graph: nx.DiGraph = nx.DiGraph()
        graph.add_nodes_from((step_id, {"step": step}) for step_id, step in self.nodes.items())
        graph.add_edges_from(self.edges)
        return Plan(project=self.name, hosts=self.hosts, graph=graph)

    # -- where everything runs, and what refers to what ---------------------------------

    def _place(self) -> None:
        known = self.project.host_names()
        for service in self.topology.services:
            host = self.project.host_of(service)
            if host in self.hosts:
                self.host_of[service] = host
            else:
                self.fail(
                    ("services", service, "host"),
                    f"unknown host '{host}' (hosts: {', '.join(known)})",
                )

    def _resolve_links(self) -> None:
        services = self.topology.services
        for consumer, service in services.items():
            seen: dict[str, tuple[int, str]] = {}  # env prefix -> (index, alias)
            for index, link in enumerate(service.links):
                path = ("services", consumer, "links", index)
                if link.target not in services:
                    self.fail(path, f"unknown service '{link.target}'")
                    continue
                prefix = link.alias.upper().replace("-", "_").replace(".", "_")
                if prefix in seen:
                    other_index, other_alias = seen[prefix]
                    same = "" if other_alias == link.alias else f" ('{other_alias}': same variables {prefix}_*)"
                    self.fail(path, f"alias '{link.alias}' is already used by links[{other_index}]{same}")
                    continue
                seen[prefix] = (index, link.alias)
                if consumer not in self.host_of or link.target not in self.host_of:
                    continue  # misplaced: already reported
                wire = Wire(
                    consumer=consumer,
                    index=index,
                    target=link.target,
                    alias=link.alias,
                    consumer_host=self.host_of[consumer],
                    target_host=self.host_of[link.target],
                )
                if wire.cross_host and not services[link.target].expose:
                    self.fail(
                        path,
                        f"'{link.target}' runs on host {wire.target_host} and '{consumer}' on "
                        f"host {wire.consumer_host}: a link across hosts needs a port, but "
                        f"services.{link.target}.expose is empty; add `expose: [PORT]` to "
                        f"{link.target}",
                    )
                    continue
                self.wires[consumer].append(wire)
                if wire.cross_host:
                    self.remote[wire.target][wire.consumer_host].add(wire.alias)
                    self.first_wire.setdefault((wire.target, wire.consumer_host), wire)
                else:
                    self.local_aliases[wire.target].add(wire.alias)

    def _resolve_depends_on(self) -> None:
        services = self.topology.services
        for consumer, service in services.items():
            for target, dep in service.depends_on.items():
                path = ("services", consumer, "depends_on", target)
                if target not in services:
                    self.fail(path, f"unknown service '{target}'")
                    continue
                self.depends.append((target, consumer, path))
                self.depends_on[consumer].append(target)
                if dep.condition == "service_healthy":
                    self.wait_healthy.add(target)

    # -- steps -------------------------------------------------------------------------

    def _add(self, step: Step, after: list[str] | tuple[str, ...] = ()) -> None:
        step_id = step.id
        self.nodes[step_id] = step
        self.edges += [(before, step_id) for before in after]

    def _ports(self, target: str) -> list[PortSpec]:
        ports = self.ports_of.get(target)
        if ports is None:
            ports = self.ports_of[target] = exposed_ports(self.topology.services[target])
        return ports

    def _labels(self, service: str, role: Role, host: str, own: dict[str, str]) -> tuple[tuple[str, str], ...]:
        # Ours last: a service's own labels must not be able to disguise its role.
        labels = {
            **own,
            LABEL_PROJECT: self.name,
            LABEL_SERVICE: service,
            LABEL_ROLE: role,
            LABEL_HOST: host,
        }
        return tuple(sorted(labels.items()))

    def _networks(self) -> None:
        decl = self.topology.networks.get("default")
        labels = {**(decl.labels if decl else {}), LABEL_PROJECT: self.name}
        if decl is not None and decl.name:
            self.network = decl.name
        for host in sorted(set(self.host_of.values())):
            spec = NetworkSpec(
                name=self.network,
                driver=decl.driver if decl else None,
                driver_opts=tuple(sorted(decl.driver_opts.items())) if decl else (),
                labels=tuple(sorted(labels.items())),
                external=decl.external if decl else False,
            )
            self._add(Step(id=f"network:{host}", kind="network", host=host, network=spec))

    def _mounts(self, name: str, service: Service, host: str) -> tuple[tuple[Mount, ...], list[str]]:
        """The service's mounts, and the volume steps it needs (created on first use)."""
        mounts: list[Mount] = []
        needs: list[str] = []
        for index, vol in enumerate(service.volumes):
            source = vol.source
            if vol.type == "bind" and source is not None:
                # Relative to the topology file, as Compose resolves them.
                source = os.path.normpath(
                    os.path.join(os.path.abspath(self.project.working_dir), os.path.expanduser(source))
                )
            elif vol.type == "volume" and source is not None:
                if source not in self.topology.volumes:
                    self.fail(
                        ("services", name, "volumes", index),
                        f"volume '{source}' is not declared under the top-level `volumes:`",
                    )
                    continue
                decl = self.topology.volume(source)
                full = decl.name or (source if decl.external else f"{self.name}_{source}")
                if not decl.external:
                    step_id = f"volume:{source}@{host}"
                    if step_id not in self.nodes:
                        spec = VolumeSpec(
                            name=full,
                            driver=decl.driver,
                            driver_opts=tuple(sorted(decl.driver_opts.items())),
                            labels=tuple(sorted({**decl.labels, LABEL_PROJECT: self.name}.items())),
                        )
                        # No edge from the network: volumes and networks are made in parallel.
                        self._add(Step(id=step_id, kind="volume", host=host, volume=spec))
                    needs.append(step_id)
                source = full
            mounts.append(Mount(type=vol.type, source=source, target=vol.target, read_only=vol.read_only))
        return tuple(mounts), needs

    def _services(self, claims: PortClaims) -> None:
        services = self.topology.services
        for name, service in services.items():
            host = self.host_of.get(name)
            if host is None:
                continue
            env: dict[str, str] = {}
            after = [f"network:{host}"]
            for wire in self.wires.get(name, ()):
                env.update(
                    link_environment(
                        container_name(self.name, name), wire.alias, services[wire.target], self._ports(wire.target)
                    )
                )
                if wire.cross_host:
                    after.append(f"ambassador-client:{wire.target}@{host}")
                else:
                    after.append(f"service:{wire.target}")
            # The consumer's own environment wins over generated link variables.
            env.update({k: v for k, v in service.environment.items() if v is not None})
            mounts, volumes = self._mounts(name, service, host)
            after += volumes
            after += [f"service:{before}" for before in self.depends_on.get(name, ())]
            for index, port in enumerate(service.ports):
                claims.claim_service_port(host, name, index, port)
            aliases = (name, *sorted(self.local_aliases.get(name, set()) - {name}))
            health = service.healthcheck.command() if service.healthcheck else None
            hc = service.healthcheck
            spec = ContainerSpec(
                name=container_name(self.name, name),
                image=service.image,
                network=self.network,
                aliases=aliases,
                command=_split(service.command),
                entrypoint=_split(service.entrypoint),
                environment=tuple(sorted(env.items())),
                labels=self._labels(name, "service", host, service.labels),
                expose=tuple(sorted({(p.port, p.protocol) for p in service.expose})),
                ports=tuple(
                    PortBinding(p.target, p.protocol, p.published, p.host_ip) for p in service.ports
                ),
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
            step = Step(
                id=f"service:{name}",
                kind="service",
                host=host,
                service=name,
                container=spec,
                wait_healthy=name in self.wait_healthy,
            )
            self._add(step, after)

    def _ambassadors(self, claims: PortClaims) -> None:
        services = self.topology.services
        image = self.topology.ambassador.image
        unaddressed: set[str] = set()  # hosts already reported for a missing address
        for target, by_host in self.remote.items():
            service = services[target]
            host = self.host_of[target]
            address = self.hosts[host].address
            if address is None:
                if host in unaddressed:
                    continue
                unaddressed.add(host)
                wire = self.first_wire[(target, min(by_host))]
                self.fail(
                    ("hosts", host, "address"),
                    f"needed because '{wire.consumer}' on host {wire.consumer_host} links to "
                    f"'{target}' on host {host} (services.{wire.consumer}.links[{wire.index}]); "
                    "set the address other hosts reach this host at",
                )
                continue
            tls = service.ambassador.tls if service.ambassador.tls is not None else self.topology.ambassador.tls
            relays = server_relays(target, service)
            ports = server_ports(service, address)
            for port in self._ports(target):
                claims.claim_ambassador_port(host, address, target, service, port)
            server_id = f"ambassador-server:{target}"
            server = relay_container(
                name=server_ambassador_name(self.name, target),
                image=image,
                network=self.network,
                relays=relays,
                labels=self._labels(target, "ambassador-server", host, {}),
                ports=ports,
            )
            self._add(
                Step(
                    id=server_id,
                    kind="ambassador-server",
                    host=host,
                    service=target,
                    container=server,
                    relays=relays,
                    probe=relay_probe(relays),
                    tls=tls,
                ),
                [f"network:{host}", f"service:{target}"],
            )
            remote_relays = client_relays(service, address)
            # Shared by every client ambassador of this target: compute it once.
            client_probe = relay_probe(remote_relays, upstream=True)
            for consumer_host, aliases in sorted(by_host.items()):
                client = relay_container(
                    name=client_ambassador_name(self.name, target, consumer_host),
                    image=image,
                    network=self.network,
                    relays=remote_relays,
                    labels=self._labels(target, "ambassador-client", consumer_host, {}),
                    # The target's own name too, as it resolves on the target's host.
                    aliases=(target, *sorted(aliases - {target})),
                )
                self._add(
                    Step(
                        id=f"ambassador-client:{target}@{consumer_host}",
                        kind="ambassador-client",
                        host=consumer_host,
                        service=target,
                        container=client,
                        relays=remote_relays,
                        probe=client_probe,
                        tls=tls,
                    ),
                    [f"network:{consumer_host}", server_id],
                )
