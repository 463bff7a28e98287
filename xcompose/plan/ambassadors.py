"""The ambassador steps of a plan: for each service reached from another host, a server
ambassador on its own host publishing its ports on the host's address, and on each host it
is reached from a client ambassador that answers to its names there and relays to the
server. Pure, like the rest of the planner: problems go to `fail` with the key to change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xcompose.config.syntax import PortSpec
from xcompose.plan.checks import ContainerNames, NameClaims, PortClaims
from xcompose.plan.naming import container_labels, container_name
from xcompose.plan.relay import ambassador
from xcompose.plan.specs import Endpoint
from xcompose.plan.steps import ClientAmbassadorStep, ServerAmbassadorStep, StepId
from xcompose.plan.wiring import client_relays, server_ports, server_relays

if TYPE_CHECKING:
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
        publish = services[target].ambassador.publish
        chosen[target] = {p: ports.claim_chosen_ambassador_port(host, address, target, p, publish[p.port])
                          for p in planner.ports_of_target(target) if p.port in publish}
    for target in sorted(chosen):
        host, address = planner.host_of[target], planner.hosts[planner.host_of[target]].address
        assert address is not None
        for port in planner.ports_of_target(target):
            if port not in chosen[target]:
                chosen[target][port] = ports.claim_ambassador_port(host, address, target, port)
    return chosen


def add_ambassadors(planner: Planner, names: NameClaims, claims: PortClaims, containers: ContainerNames) -> None:
    """A server ambassador on the host of each target reached from elsewhere, and a client
    ambassador on each host it is reached from, carrying its names there."""
    services = planner.topology.services
    _need_addresses(planner)
    published = _published(planner, claims)
    for target, by_host in sorted(planner.remote.items()):
        if target not in published:
            continue  # the target's host has no address: reported
        service = services[target]
        host = planner.host_of[target]
        address = planner.hosts[host].address
        assert address is not None
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
            containers.claim(consumer_host, client_name, f"the client ambassador of '{target}'")
            endpoints = []
            for net in sorted(networks):
                docker_name = planner.docker_network(net)
                aliases = (target, *sorted(set(planner.nets[target][net].aliases) - {target}))
                for alias in aliases:
                    names.claim(consumer_host, docker_name, alias, target,
                                f"'{target}' runs on host {host} and is reached there by that name",
                                ("services", target, "networks", net))
                endpoints.append(Endpoint(docker_name, aliases))
            client = ambassador(
                role="ambassador-client",
                name=client_name,
                image=image,
                networks=endpoints,
                ports=remote_relays,
                labels=container_labels(planner.name, client_id, consumer_host),
                tls=tls,
                identity=planner.identity(client_name, tls),
                server_name=server_name,
            )
            planner.add(ClientAmbassadorStep(client_id, client),
                      [*(StepId.network(consumer_host, net) for net in sorted(networks)), server_id])

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
