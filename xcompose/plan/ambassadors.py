"""The ambassador steps of a plan: for each service reached from another host, a server
ambassador on its own host publishing its ports on the host's address, and on each host it
is reached from a client ambassador that answers to its names there and relays to the
server. In kernel mode the service publishes its ports itself and the client ambassadors
forward to them with DNAT (plan/kernel.py). Pure, like the rest of the planner: problems go
to `fail` with the key to change.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from xcompose.alloc import paused_gc
from xcompose.config.location import KeyPath
from xcompose.config.syntax import PortSpec
from xcompose.plan import kernel
from xcompose.plan.checks import ContainerNames, NameClaims, PortClaims
from xcompose.plan.naming import container_labels, container_name
from xcompose.plan.relay import AmbassadorContainer, ambassador
from xcompose.plan.specs import Endpoint
from xcompose.plan.steps import ClientAmbassadorStep, Plan, ServerAmbassadorStep, ServiceStep, Step, StepId
from xcompose.plan.wiring import client_relays, server_ports, server_relays

if TYPE_CHECKING:
    from xcompose.pki import Credentials
    from xcompose.plan.build import Planner


def _published(planner: Planner, ports: PortClaims) -> dict[str, dict[PortSpec, int]]:
    """The host port of every relayed port: the user's `ambassador.publish` first, then
    each target's own numbers, in name order, so the outcome does not depend on the file's
    order."""
    services, chosen = planner.topology.services, {}
    for target in sorted(planner.remote):
        host, address = planner.host_of[target], planner.hosts[planner.host_of[target]].address
        if address is None:
            continue
        publish, owner = services[target].ambassador.publish, _publisher(planner, target)
        chosen[target] = {p: ports.claim_chosen_ambassador_port(host, address, target, p, publish[p.port], owner)
                          for p in planner.ports_of_target(target) if p.port in publish}
    for target in sorted(chosen):
        host, address = planner.host_of[target], planner.hosts[planner.host_of[target]].address
        assert address is not None
        owner = _publisher(planner, target)
        for port in planner.ports_of_target(target):
            if port not in chosen[target]:
                chosen[target][port] = ports.claim_ambassador_port(host, address, target, port, owner)
    return chosen


def _publisher(planner: Planner, target: str) -> str | None:
    """What publishes the target's ports for other hosts, when not its server ambassador."""
    if planner.mode_of(planner.topology.services[target]) == "kernel":
        return f"'{target}' itself (ambassador mode kernel)"
    return None


def add_ambassadors(planner: Planner, names: NameClaims, claims: PortClaims, containers: ContainerNames) -> None:
    """A server ambassador on the host of each target reached from elsewhere, and a client
    ambassador on each host it is reached from, carrying its names there."""
    services = planner.topology.services
    check_kernel_modes(planner)
    _need_addresses(planner)
    published = _published(planner, claims)
    for target, by_host in sorted(planner.remote.items()):
        if target not in published:
            continue  # the target's host has no address: reported
        service = services[target]
        host = planner.host_of[target]
        address = planner.hosts[host].address
        assert address is not None
        if planner.mode_of(service) == "kernel":
            _add_kernel_link(planner, names, containers, target, published[target])
            continue
        tls, image, ports = planner.tls_of(service), planner.relay_image(service), planner.ports_of_target(target)
        server_id = StepId.server(target)
        server_name = container_name(planner.name, server_id)
        containers.claim(host, server_name, f"the server ambassador of '{target}'")
        network = min(planner.nets[target])  # any network of the target's: its name resolves there
        server = ambassador(
            role="ambassador-server",
            name=server_name,
            image=image,
            networks=[Endpoint(planner.docker_network(network))],
            ports=server_relays(target, ports, service.replicas()),
            labels=container_labels(planner.name, server_id, host),
            published=server_ports(ports, published[target], address),
            tls=tls,
            identity=planner.identity(server_name, tls),
        )
        planner.add(ServerAmbassadorStep(server_id, host, server),
                  [StepId.network(host, network), StepId.service(target)])
        remote_relays = client_relays(ports, published[target], address)
        for consumer_host, networks in sorted(by_host.items()):
            client_id = StepId.client(target, consumer_host)
            client_name = container_name(planner.name, client_id)
            endpoints = _client_endpoints(planner, names, containers, target, consumer_host, networks)
            client = ambassador(
                role="ambassador-client",
                name=client_name,
                image=image,
                networks=endpoints,
                ports=remote_relays,
                labels=container_labels(planner.name, client_id, consumer_host),
                tls=tls,
                identity=planner.identity(client_name, tls, consumer_host),
                server_name=server_name,
            )
            planner.add(ClientAmbassadorStep(client_id, client),
                      [*(StepId.network(consumer_host, net) for net in sorted(networks)), server_id])


def _client_endpoints(planner: Planner, names: NameClaims, containers: ContainerNames, target: str,
                      consumer_host: str, networks: set[str]) -> list[Endpoint]:
    """Claims the client ambassador's container name and the target's names on each
    network it joins on the consumer's host; its endpoints there."""
    client_name = container_name(planner.name, StepId.client(target, consumer_host))
    containers.claim(consumer_host, client_name, f"the client ambassador of '{target}'")
    endpoints = []
    for net in sorted(networks):
        docker_name = planner.docker_network(net)
        aliases = (target, *sorted(set(planner.nets[target][net].aliases) - {target}))
        for alias in aliases:
            names.claim(consumer_host, docker_name, alias, target,
                        f"'{target}' runs on host {planner.host_of[target]} and is reached there by that name",
                        ("services", target, "networks", net))
        endpoints.append(Endpoint(docker_name, aliases))
    return endpoints


def _add_kernel_link(planner: Planner, names: NameClaims, containers: ContainerNames, target: str,
                     published: dict[PortSpec, int]) -> None:
    """Kernel mode: the target publishes its own ports on its host's address (no server
    ambassador), and each consumer host gets a client ambassador that DNATs to them.

    Publishing changes the target's container, so the first host that reaches it re-creates
    it, and so does the last one leaving: Docker cannot add or drop a published port of a
    running container. Publishing only while reached keeps a service nobody reaches from
    elsewhere off the network, which is worth a restart when the placement changes."""
    service = planner.topology.services[target]
    if service.replicas() > 1:
        planner.fail(_mode_path(planner, target),
                     f"ambassador mode kernel publishes '{target}' on its host's address, which one container "
                     f"can hold, and '{target}' runs {service.replicas()}; set `mode: proxy` on {target} "
                     "(its relay balances over the replicas)")
        return
    host = planner.host_of[target]
    address = planner.hosts[host].address
    assert address is not None
    ports = planner.ports_of_target(target)
    step = planner.nodes[StepId.service(target)]
    assert isinstance(step, ServiceStep)
    bindings = server_ports(ports, published, address)
    planner.nodes[step.id] = step.with_container(
        dataclasses.replace(step.container, ports=(*step.container.ports, *bindings)))
    relays = client_relays(ports, published, address)
    for consumer_host, networks in sorted(planner.remote[target].items()):
        client_id = StepId.client(target, consumer_host)
        client = kernel.client_ambassador(
            name=container_name(planner.name, client_id),
            image=planner.relay_image(service),
            networks=_client_endpoints(planner, names, containers, target, consumer_host, networks),
            ports=relays,
            labels=container_labels(planner.name, client_id, consumer_host),
        )
        planner.add(ClientAmbassadorStep(client_id, client),
                    [*(StepId.network(consumer_host, net) for net in sorted(networks)), step.id])
    where = ", ".join(f"{address}:{published[p]}{'/udp' if p.protocol == 'udp' else ''}" for p in ports)
    planner.link_notes.append(f"'{target}' is reached from other hosts unencrypted (ambassador mode kernel) on {where}")


def _mode_path(planner: Planner, target: str) -> KeyPath:
    """Where the target's kernel mode is set: its own `ambassador.mode`, else the project's."""
    if planner.topology.services[target].ambassador.mode is not None:
        return ("services", target, "ambassador", "mode")
    return ("ambassador", "mode")


def check_kernel_modes(planner: Planner) -> None:
    """Kernel mode carries no TLS: a service in it must have TLS off, said in the file, so
    that turning kernel mode on never drops encryption silently."""
    topology = planner.topology
    if topology.ambassador.mode == "kernel" and topology.ambassador.tls and any(
            s.ambassador.mode is None and s.ambassador.tls is None for s in topology.services.values()):
        planner.fail(("ambassador", "mode"), "kernel mode carries no TLS; set `ambassador.tls: false` to "
                                             "accept unencrypted links, or `mode: proxy`")
    for name, service in sorted(topology.services.items()):
        if planner.mode_of(service) != "kernel" or not planner.tls_of(service):
            continue
        if service.ambassador.mode is None and service.ambassador.tls is None:
            continue  # the project's own settings: reported once, above
        own_tls = service.ambassador.tls is not None
        path = ("services", name, "ambassador", "tls" if own_tls and service.ambassador.mode is None else "mode")
        planner.fail(path, f"kernel mode carries no TLS; set `services.{name}.ambassador.tls: false` to accept "
                           "unencrypted links to it, or `mode: proxy`")


def _need_addresses(planner: Planner) -> None:
    """A host other hosts reach must say at which address: once per host, naming the
    first reason found."""
    for host in sorted({planner.host_of[t] for t in planner.remote}):
        if planner.hosts[host].address is not None:
            continue
        target = min(t for t in planner.remote if planner.host_of[t] == host)
        consumer_host = min(planner.remote[target])
        planner.fail(("hosts", host, "address"),
                  f"needed because '{target}' on host {host} is reached from host {consumer_host}; "
                  "set the address other hosts reach this host at")
        for t in [t for t in planner.remote if planner.host_of[t] == host]:
            del planner.remote[t]


def with_certificates(plan: Plan, credentials: Credentials) -> Plan:
    """A plan made without credentials (`Credentials.none`), its TLS ambassadors given their
    certificates: the plan `build_plan` makes with `credentials`, without planning all the
    rest again (1.5 s of CPU for 10,000 services). Without a CA to vouch for them, the
    plan says a new one will be made, as `build_plan` does."""
    with paused_gc():  # as build_plan: many new objects, none to collect
        signed_steps, without_ca = _signed(plan, credentials)
        return plan.replacing(signed_steps, new_ca=without_ca)


def _signed(plan: Plan, credentials: Credentials) -> tuple[list[Step], bool]:
    """The TLS ambassadors given their certificates, and whether one lacked a CA for it."""
    signed_steps: list[Step] = []
    without_ca = False
    for step in plan.unordered():
        # Read from what was planned: asking the relay or the container would make them.
        if not isinstance(step, ServerAmbassadorStep | ClientAmbassadorStep) or not step.ambassador.tls:
            continue
        planned = step.ambassador
        assert isinstance(planned, AmbassadorContainer)  # only kernel mode makes one at once, and it has no TLS
        identity = (credentials.identity(planned.name) if isinstance(step, ServerAmbassadorStep)
                    else credentials.client_identity(planned.name, step.host))
        if identity is None:
            without_ca |= credentials.read
            continue
        given = dataclasses.replace(planned, identity=identity)
        signed_steps.append(ServerAmbassadorStep(step.id, step.host, given)
                            if isinstance(step, ServerAmbassadorStep) else ClientAmbassadorStep(step.id, given))
    return signed_steps, without_ca
