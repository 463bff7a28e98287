"""From a loaded Project and its credentials to the final Plan: which steps on which host,
in which order, each described completely (the ambassadors' relay, config, probe and files
included). What the plan says is what `up` carries out.

Pure: no Docker, no files, no network. The Project is valid as the loader checks it (every
name it refers to exists); what only placement and wiring reveal is checked here, and every
such problem is collected and raised at once as ConfigErrors, located at the key to change.
Everything is indexed up front (members by network and host, links by consumer, port and
name claims by host) so that planning stays linear in the size of the topology.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from collections.abc import Iterable, Mapping

from xcompose.alloc import paused_gc
from xcompose.config.location import KeyPath
from xcompose.config.model import AmbassadorMode, Service
from xcompose.config.project import IMPLICIT_HOST, Project
from xcompose.config.service_keys import ServiceNetwork
from xcompose.config.syntax import PortSpec
from xcompose.errors import ConfigError, ConfigErrors
from xcompose.pki import Credentials, Identity
from xcompose.plan.ambassadors import add_ambassadors
from xcompose.plan.checks import ContainerNames, NameClaims, PortClaims, check_cycles
from xcompose.plan.container import add_services
from xcompose.plan.images import image_of
from xcompose.plan.naming import container_name, network_name, project_labels
from xcompose.plan.relay import relay_kind
from xcompose.plan.specs import HostTarget, NetworkSpec
from xcompose.plan.steps import (
    NetworkStep,
    Plan,
    Step,
    StepId,
)
from xcompose.plan.wiring import (
    Wire,
    declared_ports,
    env_prefix,
)

# image -> the ports its image config EXPOSEs, or None when it could not be read (the image
# is not on its host yet). The whole mapping is None when nobody asked the hosts.
ImagePorts = Mapping[str, tuple[PortSpec, ...] | None]


def build_plan(project: Project, credentials: Credentials, image_ports: ImagePorts | None = None) -> Plan:
    """The plan for `project`; raises ConfigErrors listing every problem found.
    `credentials` gives the ambassadors their certificates (`Credentials.none()` when they
    are not known, as for `config` and `plan --offline`); `image_ports` says which ports
    the images of services that declare none offer (None: not read)."""
    with paused_gc():
        return Planner(project, credentials, image_ports).build()


def host_targets(project: Project) -> dict[str, HostTarget]:
    """Where and how to reach each host of the project."""
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
            lost_after=h.timeout,
        )
        for name, h in hosts.items()
    }


# Where a value names a host: a URL's authority (`//db`, `@db`), `db:5432`, or the whole
# value of a variable whose name says it holds a host (`WORDPRESS_DB_HOST: db`).
_HOST_KEY = re.compile(r"HOST|ADDR|SERVER|URL|URI|DSN|ENDPOINT|BROKER|UPSTREAM|PEERS?$", re.IGNORECASE)
_HOST_FLAGS = {"-h", "--host", "--hostname", "-H", "--server"}


# A whole name after `//` or `@`, or before `:PORT`: names are runs of [\w.-].
_AFTER_SCHEME = re.compile(r"(?://|@)([\w.-]+)")
_BEFORE_PORT = re.compile(r"(?<![\w.-])([\w.-]+):\d")


def hosts_named(service: Service) -> frozenset[str]:
    """What the service's environment or command names as a host to connect to.
    Deliberately narrow: `MYSQL_DATABASE: wordpress` names a database, not the service
    `wordpress`. Read once per service: the planner asks it of every target."""
    found: set[str] = set()
    for key, text in service.environment.items():
        if text:
            found.update(_AFTER_SCHEME.findall(text), _BEFORE_PORT.findall(text))
            if _HOST_KEY.search(key):
                found.add(text.split(":")[0])
    for value in (service.command, service.entrypoint):
        words = shlex.split(value) if isinstance(value, str) else list(value or ())
        for before, word in zip(["", *words], words, strict=False):
            found.update(_AFTER_SCHEME.findall(word), _BEFORE_PORT.findall(word))
            if before in _HOST_FLAGS:
                found.add(word)
    return frozenset(found)


def names_host(names: set[str], service: Service) -> bool:
    """Whether the service's environment or command names one of `names` as a host."""
    return not names.isdisjoint(hosts_named(service))


class Planner:
    """One planning of a project: its indexes, the steps and edges found so far, and the
    errors; the service steps are planned by plan/container.py."""

    def __init__(self, project: Project, credentials: Credentials, image_ports: ImagePorts | None) -> None:
        self.project = project
        self.credentials = credentials
        self.image_ports = image_ports
        self.topology = project.topology
        self.name = project.name
        self.errors: list[ConfigError] = []
        # Steps and edges are collected and handed to the Plan in bulk at the end: one
        # networkx call per step costs more than everything else the planner does.
        self.nodes: dict[StepId, Step] = {}
        self.edges: list[tuple[StepId, StepId]] = []
        self.hosts = host_targets(project)
        self.host_of = {service: project.host_of(service) for service in self.topology.services}
        # service -> its networks and settings there; network -> host -> the services on it
        self.nets: dict[str, dict[str, ServiceNetwork]] = {
            s: service.network_settings() for s, service in self.topology.services.items()}
        self.members: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for service, networks in self.nets.items():
            for network in networks:
                self.members[network][self.host_of[service]].append(service)
        # Who uses whom, read once: target -> services that wait for it or link to it; name
        # -> services that name it as a host. Asking each consumer about each target instead
        # made planning quadratic (minutes at 10,000 services).
        self.waited_for: dict[str, set[str]] = defaultdict(set)
        self.named_by: dict[str, set[str]] = defaultdict(set)
        for consumer, declared in self.topology.services.items():
            for target in [*declared.depends_on, *(link.target for link in declared.links)]:
                self.waited_for[target].add(consumer)
            for name in hosts_named(declared):
                self.named_by[name].add(consumer)
        self.wires: dict[str, list[Wire]] = defaultdict(list)  # by consumer
        self.ports_of: dict[str, list[PortSpec]] = {}  # ports a target can be reached on
        # target -> consumer host -> network -> link aliases used there (the client ambassador
        # carries the target's names on each network; a link's alias is the consumer's own)
        self.remote: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.needs_image_ports: dict[str, str] = {}  # target -> image whose EXPOSE would tell
        self.unreached: dict[str, set[str]] = defaultdict(set)  # target -> hosts it cannot be reached from
        self.depends: list[tuple[str, str, KeyPath]] = []  # (before, after, origin) from depends_on
        self.volume_hosts: dict[str, tuple[str, KeyPath]] = {}  # named volume -> its host, first use
        self.bind_notes: list[str] = []  # relative bind paths on remote hosts
        self.link_notes: list[str] = []  # links that carry no encryption (kernel mode)
        self.container_names = {s: container_name(self.name, StepId.service(s), service.container_name)
                                for s, service in self.topology.services.items()}
        self.tls_without_ca = False
        self.docker_networks: dict[str, str] = {}  # network -> Docker's name of it
        self.exposed_of: dict[str, list[PortSpec]] = {}  # service -> its `expose:` ports

    def fail(self, path: KeyPath, message: str) -> None:
        self.errors.append(self.project.error(path, message))

    def build(self) -> Plan:
        self._resolve_links()
        self._resolve_depends_on()
        self._reach()
        self.errors += check_cycles(self.project, self.wires, self.depends)
        names, ports, containers = NameClaims(self.project), PortClaims(self.project), ContainerNames(self.project)
        self._networks()
        add_services(self, names, ports, containers)
        add_ambassadors(self, names, ports, containers)
        self.errors += names.errors + ports.errors + containers.errors
        if self.errors:
            raise ConfigErrors(self.errors)
        return Plan(self.name, self.hosts, self.nodes.values(), self.edges, new_ca=self.tls_without_ca,
                    notes=self._notes(), needs_image_ports=self.needs_image_ports)

    def _notes(self) -> tuple[str, ...]:
        """What the plan could not know or cannot do, said to the reader: services that
        declare no port, reached from other hosts only through the ports of their image."""
        unread: list[str] = []
        absent: list[str] = []
        unbuilt: list[str] = []
        portless: list[str] = []
        for target in sorted(self.unreached):
            image = self.image(target)
            if self.image_ports is None:
                unread.append(f"'{target}'")
            elif self.image_ports.get(image) is None:
                missing = unbuilt if self.topology.services[target].build else absent
                missing.append(f"'{target}' ({image} is not on host {self.host_of[target]} yet)")
            else:
                portless.append(f"'{target}'")
        notes = []
        if unread:
            notes.append(f"{', '.join(unread)} declare no port: other hosts reach them on the ports their "
                         "images expose, read when planning against the hosts")
        if absent:
            notes.append(f"not reached from other hosts until their images are pulled: {', '.join(absent)}")
        if unbuilt:
            notes.append(f"not reached from other hosts until their images are built: {', '.join(unbuilt)}")
        if portless:
            notes.append(f"{', '.join(portless)} offer no port, in the file or in the image: other hosts do not "
                         "reach them (add `expose:` if they listen)")
        return (*notes, *self.bind_notes, *self.link_notes)

    # -- who reaches whom ------------------------------------------------------------------

    def _resolve_links(self) -> None:
        services = self.topology.services
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
                shared = sorted(self.nets[consumer].keys() & self.nets[link.target].keys())
                if not shared:
                    self.fail(path, f"'{consumer}' and '{link.target}' share no network, and a link works "
                                    "on a network both join; add one to the `networks:` of both")
                    continue
                wire = Wire(consumer, index, link.target, link.alias, self.host_of[consumer],
                            self.host_of[link.target], shared[0])
                if wire.cross_host and not self.ports_of_target(link.target) and self._image_read(link.target):
                    self.fail(path, f"'{wire.target}' runs on host {wire.target_host} and '{consumer}' on host "
                                    f"{wire.consumer_host}: a link across hosts needs a port, but neither "
                                    f"{wire.target} nor its image offers one; add `expose: [PORT]` to {wire.target}")
                    continue
                self.wires[consumer].append(wire)

    def _resolve_depends_on(self) -> None:
        for consumer, service in self.topology.services.items():
            for target in service.depends_on:
                self.depends.append((target, consumer, ("services", consumer, "depends_on", target)))

    def _reach(self) -> None:
        """As in Compose, a service reaches every service it shares a network with, by name,
        on the ports the target offers. A target on another host gets a client ambassador on
        each host where a service of one of its networks runs, carrying the target's names on
        each such network.

        A target that offers ports to other services with `expose` (what Compose says it is
        for) is reached so from every such host (with `ambassador.reach: used`, only as
        below). One that does not is reached on the container ports of its `ports:` or else
        those its image exposes, and only from hosts where a service waits for it, links to
        it or names it in its environment or command: a web front end published to the
        outside, a one-off job or a client sharing a server's image would otherwise bring
        relays that nothing uses."""
        reach_all = self.topology.ambassador.reach != "used"
        for target, networks in self.nets.items():
            target_host = self.host_of[target]
            if reach_all and self.topology.services[target].expose:
                hosts: Iterable[str] = {host for network in networks for host in self.members[network]}
            else:  # only hosts of services that use it can be among them: not every host of its networks
                hosts = {self.host_of[consumer] for consumer in self._users(target)}
            by_host: dict[str, set[str]] = {}
            for host in hosts:
                joined = {network for network in networks if host in self.members[network]}
                if host != target_host and joined:
                    by_host[host] = joined
            if not reach_all or not self.topology.services[target].expose:
                used = self._hosts_using(target, by_host)
                by_host = {h: n for h, n in by_host.items() if h in used}
            if not by_host:
                continue
            ports = self.ports_of_target(target)
            if not ports:
                self.unreached[target] |= by_host.keys()
                self.needs_image_ports[target] = self.image(target)
                self._needed_without_ports(target, by_host)
            elif self._can_cross(target, ports, min(by_host)):
                for host, joined in by_host.items():
                    self.remote[target][host] |= joined

    def _users(self, target: str) -> set[str]:
        """The services that wait for the target, link to it, or name it or one of its
        aliases as a host (on any network: `_hosts_using` narrows it down)."""
        names = {target} | {alias for settings in self.nets[target].values() for alias in settings.aliases}
        return self.waited_for.get(target, set()).union(*(self.named_by.get(name, ()) for name in names))

    def _hosts_using(self, target: str, by_host: Mapping[str, set[str]]) -> set[str]:
        """The hosts of `by_host` where a service on one of the networks it shares with the
        target there waits for the target, links to it, or names it (or its alias on one of
        those networks) as a host (see `hosts_named`)."""
        used: set[str] = set()

        def consider(consumer: str, name: str | None) -> None:
            host = self.host_of[consumer]
            shared = by_host.get(host)
            if shared is None or host in used or shared.isdisjoint(self.nets[consumer]):
                return
            if name is None or name == target or any(name in self.nets[target][n].aliases for n in shared):
                used.add(host)

        for consumer in self.waited_for.get(target, ()):
            consider(consumer, None)
        aliases = {alias for settings in self.nets[target].values() for alias in settings.aliases}
        for name in sorted({target} | aliases):
            for consumer in sorted(self.named_by.get(name, ())):
                consider(consumer, name)
        return used

    def _can_cross(self, target: str, ports: list[PortSpec], consumer_host: str) -> bool:
        """Whether the relays can carry the target's ports: TCP always; UDP only through
        socat and only without TLS (the relays encrypt TCP only)."""
        udp = next((p for p in ports if p.protocol == "udp"), None)
        if udp is None:
            return True
        service = self.topology.services[target]
        if self.mode_of(service) == "kernel":
            return True  # DNAT forwards UDP as it does TCP; kernel mode's TLS is checked on its own
        declared = udp in service.exposed_ports()
        path = ("services", target, "expose", service.expose_index(udp)) if declared else ("services", target)
        where = f"'{target}' runs on host {self.host_of[target]} and is reached from host {consumer_host}"
        if self.tls_of(service):
            self.fail(path, f"{udp.short()} would cross hosts ({where}), but ambassadors encrypt TCP only; "
                            "to carry UDP unencrypted, set `ambassador: {tls: false, image: "
                            f"alpine/socat:latest}}` on {target}")
        elif relay_kind(self.relay_image(service)) == "haproxy":
            self.fail(path, f"{udp.short()} would cross hosts ({where}), but the haproxy relay carries TCP "
                            f"only; set `ambassador: {{image: alpine/socat:latest}}` on {target} (socat relays UDP)")
        else:
            return True
        return False

    def _image_read(self, target: str) -> bool:
        """Whether the ports the target's image exposes are known (read from its host)."""
        return self.image_ports is not None and self.image_ports.get(self.image(target)) is not None

    def _needed_without_ports(self, target: str, by_host: Mapping[str, set[str]]) -> None:
        """A consumer that waits for a target (depends_on) on another host must be able to
        reach it: without a port that is an error, once the image has been read."""
        if not self._image_read(target):
            return  # not known yet: the plan says so, `up` reads the image first
        for consumer, service in self.topology.services.items():
            if target in service.depends_on and self.host_of[consumer] in by_host:
                self.fail(("services", consumer, "depends_on", target),
                          f"'{consumer}' on host {self.host_of[consumer]} waits for '{target}' on host "
                          f"{self.host_of[target]}, which offers no port to reach it by: its image exposes "
                          f"none and it declares none; add `expose: [PORT]` to {target}")

    def ports_of_target(self, target: str) -> list[PortSpec]:
        """What a target can be reached on: its declared ports, else its image's."""
        ports = self.ports_of.get(target)
        if ports is None:
            service = self.topology.services[target]
            ports = declared_ports(service)
            if not ports and self.image_ports is not None:
                ports = sorted(self.image_ports.get(self.image(target)) or (), key=lambda p: (p.port, p.protocol))
            self.ports_of[target] = ports
        return ports

    def exposed(self, service: str) -> list[PortSpec]:
        """The service's `expose:` ports (read for each service that links to it: made once)."""
        found = self.exposed_of.get(service)
        if found is None:
            found = self.exposed_of[service] = self.topology.services[service].exposed_ports()
        return found

    # -- steps -------------------------------------------------------------------------

    def add(self, step: Step, after: list[StepId] | tuple[StepId, ...] = ()) -> None:
        step_id = step.id
        self.nodes[step_id] = step
        self.edges += [(before, step_id) for before in after]

    def image(self, service: str) -> str:
        """The image the service runs: `image:`, or the name its build gets."""
        return image_of(self.name, service, self.topology.services[service])

    def tls_of(self, service: Service) -> bool:
        own = service.ambassador.tls
        return self.topology.ambassador.tls if own is None else own

    def mode_of(self, service: Service) -> AmbassadorMode:
        own = service.ambassador.mode
        return self.topology.ambassador.mode if own is None else own

    def relay_image(self, service: Service) -> str:
        return service.ambassador.image or self.topology.ambassador.image

    def docker_network(self, network: str) -> str:
        """Docker's name of a network of the project (asked for every step: made once)."""
        found = self.docker_networks.get(network)
        if found is None:
            decl = self.topology.network(network)
            found = network_name(self.name, network, decl.name or (network if decl.external else None))
            self.docker_networks[network] = found
        return found

    def _networks(self) -> None:
        for network, by_host in sorted(self.members.items()):
            decl = self.topology.network(network)
            pools = decl.ipam.config if decl.ipam else []
            spec = NetworkSpec(
                name=self.docker_network(network),
                driver=decl.driver,
                driver_opts=tuple(sorted(decl.driver_opts.items())),
                labels=project_labels(self.name, decl.labels),
                external=decl.external,
                internal=decl.internal,
                attachable=decl.attachable,
                enable_ipv6=decl.enable_ipv6,
                ipam_driver=decl.ipam.driver if decl.ipam else None,
                ipam_pools=tuple(tuple(sorted((k, v) for k, v in pool.model_dump(exclude_defaults=True).items()
                                              if k != "aux_addresses") + sorted(pool.aux_addresses.items()))
                                 for pool in pools),
            )
            for host in sorted(by_host):
                self.add(NetworkStep(StepId.network(host, network), spec))

    def reached_as(self, target: str, host: str) -> StepId:
        """What a service on `host` waits for when it waits for `target`: the target itself,
        or, across hosts, the ambassador that brings it there."""
        if self.host_of[target] != host and host in self.remote.get(target, {}):
            return StepId.client(target, host)
        return StepId.service(target)

    def identity(self, name: str, tls: bool, client_host: str | None = None) -> Identity | None:
        """An ambassador's certificate; a client ambassador's (on `client_host`) may be its host's."""
        if not tls:
            return None
        identity = (self.credentials.identity(name) if client_host is None
                    else self.credentials.client_identity(name, client_host))
        self.tls_without_ca |= identity is None and self.credentials.read
        return identity
