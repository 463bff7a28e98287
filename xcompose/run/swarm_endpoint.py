"""`swarm: {endpoint_mode: auto}` made vip or dnsrr: vip needs IPVS in every node's kernel.

Once a project runs on a swarm, the mode its services were made with is kept (it is in
their labels): kernels do not lose IPVS under running services, and a second `up` should
neither probe again nor change anything. Before that, each host with services is asked
through its own engine (engines/swarm.py: carries_ipvs). Where that cannot tell (no
`docker:` URL for the host, no image there yet, an image without `cat`), dnsrr is chosen
and the note says why: dnsrr works on every kernel.

Encrypted overlays need ESP (IPsec) in every node's kernel. Before a project's first overlay
is made, the hosts are asked the same way (carries_esp), and `up` stops when one lacks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from xcompose.config.project import Project
from xcompose.engines.dockerapi import ApiExecutor
from xcompose.engines.swarm import carries_esp, carries_ipvs
from xcompose.plan.images import image_of
from xcompose.plan.swarm import resolved_endpoint_mode
from xcompose.plan.swarm_converge import LiveSwarm
from xcompose.plan.swarm_steps import LABEL_ENDPOINT_MODE, EndpointMode


def known_mode(project: Project, live: LiveSwarm) -> EndpointMode | None:
    """The mode without asking any node: as the file says it, or as the project's running
    services were made; None when only a probe can tell."""
    fixed = resolved_endpoint_mode(project, None)
    if fixed is not None:
        return fixed
    made = {labels.labels.get(LABEL_ENDPOINT_MODE) for labels in live.services.values()}
    if made == {"vip"}:
        return "vip"
    if made == {"dnsrr"}:
        return "dnsrr"
    return None


def _probe_targets(project: Project, executors: Mapping[str, ApiExecutor], manager: str
                   ) -> tuple[dict[str, str], list[str]]:
    """host -> an image of its services to probe with; and the hosts whose engine is not reached."""
    images: dict[str, str] = {}
    for name in project.topology.services:
        images.setdefault(project.host_of(name), image_of(project.name, name, project.topology.services[name]))
    unknown: list[str] = []
    probes: dict[str, str] = {}
    for host, image in sorted(images.items()):
        has_url = host == manager or project.topology.hosts.get(host) is None or project.topology.hosts[host].docker
        if host in executors and has_url:
            probes[host] = image
        else:
            unknown.append(host)
    return probes, unknown


def _ask(probe: Callable[[ApiExecutor, str], bool | None], probes: Mapping[str, str],
         executors: Mapping[str, ApiExecutor]) -> dict[str, bool | None]:
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(probes)))) as pool:
        return dict(zip(probes, pool.map(lambda h: probe(executors[h], probes[h]), probes), strict=True))


def probed_mode(project: Project, executors: Mapping[str, ApiExecutor], manager: str
                ) -> tuple[EndpointMode, list[str]]:
    """`auto` decided by asking each host with services whether its kernel has IPVS, and
    notes on how. `executors`: the hosts' engines that answered."""
    probes, unreached = _probe_targets(project, executors, manager)
    answers = _ask(carries_ipvs, probes, executors)
    unknown = [f"{host} (its engine is not reached)" for host in unreached]
    lacking = sorted(host for host, answer in answers.items() if answer is False)
    unknown += [f"{host} (no image with `cat` there yet: {probes[host]})" for host, a in answers.items() if a is None]
    if lacking:
        return "dnsrr", [f"endpoint mode auto: dnsrr, because {', '.join(lacking)} lack IPVS (Swarm's virtual IPs)"]
    if unknown:
        return "dnsrr", [f"endpoint mode auto: dnsrr, since IPVS could not be checked on {', '.join(sorted(unknown))}; "
                         "set `swarm: {endpoint_mode: vip}` if every node carries it"]
    return "vip", []


def hosts_without_esp(project: Project, executors: Mapping[str, ApiExecutor], manager: str) -> list[str]:
    """The hosts with services whose kernel is known to lack ESP, which an encrypted overlay
    needs between nodes (Docker makes the overlay anyway, and its traffic is dropped).
    Hosts that cannot tell are left out: the plan's note on encryption stands for them."""
    probes, _ = _probe_targets(project, executors, manager)
    return sorted(host for host, answer in _ask(carries_esp, probes, executors).items() if answer is False)
