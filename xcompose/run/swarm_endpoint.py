"""`swarm: {endpoint_mode: auto}` made vip or dnsrr: vip needs IPVS in every node's kernel.

Once a project runs on a swarm, the mode its services were made with is kept (it is in
their labels): kernels do not lose IPVS under running services, and a second `up` should
neither probe again nor change anything. Before that, each host with services is asked
through its own engine (engines/swarm.py: carries_ipvs). Where that cannot tell (no
`docker:` URL for the host, no image there yet, an image without `cat`), dnsrr is chosen
and the note says why: dnsrr works on every kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from xcompose.config.project import Project
from xcompose.engines.dockerapi import ApiExecutor
from xcompose.engines.swarm import carries_ipvs
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


def probed_mode(project: Project, executors: Mapping[str, ApiExecutor], manager: str
                ) -> tuple[EndpointMode, list[str]]:
    """`auto` decided by asking each host with services whether its kernel has IPVS, and
    notes on how. `executors`: the hosts' engines that answered."""
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
            unknown.append(f"{host} (its engine is not reached)")
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(probes)))) as pool:
        answers = dict(zip(probes, pool.map(lambda h: carries_ipvs(executors[h], probes[h]), probes), strict=True))
    lacking = sorted(host for host, answer in answers.items() if answer is False)
    unknown += [f"{host} (no image with `cat` there yet: {probes[host]})" for host, a in answers.items() if a is None]
    if lacking:
        return "dnsrr", [f"endpoint mode auto: dnsrr, because {', '.join(lacking)} lack IPVS (Swarm's virtual IPs)"]
    if unknown:
        return "dnsrr", [f"endpoint mode auto: dnsrr, since IPVS could not be checked on {', '.join(sorted(unknown))}; "
                         "set `swarm: {endpoint_mode: vip}` if every node carries it"]
    return "vip", []
