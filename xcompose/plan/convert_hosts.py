"""`convert --to compose`: one single-host compose file per host of the project, for
`docker compose -p PROJECT -f FILE up -d` (or docker-compose v1) on that host.

Pure: the loaded project in, one text per host out. A host's file holds the services
placed on it, and the volumes, networks, secrets and configs they use. What crossed hosts
through ambassadors crosses them directly, without TLS: a service reached from another host
publishes the ports it declares on its host's address, and its consumers find it by name
(and by link alias) through `extra_hosts`. `links:` become the legacy link variables, as
xcompose sets them; a file without `hosts:` gives one file, for the local engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from xcompose.config.export import config_data, dump_yaml, escaped
from xcompose.config.location import KeyPath, format_key_path
from xcompose.config.project import Project
from xcompose.errors import ConfigErrors
from xcompose.plan.convert import Converted, absolute_mount, grant_entry, link_aliases, link_variables
from xcompose.plan.wiring import declared_ports

# Keys only xcompose reads: no other Compose implementation would accept them.
_XCOMPOSE_ONLY = ("host", "ambassador")


@dataclass
class _Crossing:
    """Who is reached from another host, and by which names there."""

    published: dict[str, list[str]] = field(default_factory=dict)  # target -> its port entries, ADDR:P:P
    names: dict[str, list[str]] = field(default_factory=dict)  # consumer -> extra_hosts entries
    notes: list[tuple[KeyPath, str]] = field(default_factory=list)  # what could not cross


@dataclass
class _HostNotes:
    """What one host's file changed (said in its header) and left out (also warned, located)."""

    changed: list[tuple[KeyPath, str]] = field(default_factory=list)
    left_out: list[tuple[KeyPath, str]] = field(default_factory=list)


def to_host_files(project: Project) -> dict[str, Converted]:
    """Host name -> its compose file (and what was left out, located), in the file's host
    order; a host that runs no service has none."""
    external = [project.error((kind, name, "external"), f"external {kind} live in a swarm, which single-host "
                              f"compose files have none of: give the {kind[:-1]} a file: source to convert it")
                for kind, decls in (("secrets", project.topology.secrets), ("configs", project.topology.configs))
                for name, decl in decls.items() if decl.external]
    if external:
        raise ConfigErrors(external)
    data = config_data(project)
    crossing = _crossing(project)
    by_host: dict[str, list[str]] = {host: [] for host in project.host_names()}
    for name in project.topology.services:
        by_host[project.host_of(name)].append(name)
    files: dict[str, Converted] = {}
    for host, names in by_host.items():
        if not names:
            continue
        notes = _HostNotes(left_out=[(path, why) for path, why in crossing.notes if path[1] in names])
        services = {name: _service(project, name, data["services"][name], crossing, names, notes) for name in names}
        doc: dict[str, Any] = {"services": services}
        for kind in ("volumes", "networks", "secrets", "configs"):
            used = _used(project, kind, names)
            declared = {key: value for key, value in data.get(kind, {}).items() if key in used}
            if declared:
                doc[kind] = declared
        located = [str(project.error(path, why)) for path, why in notes.left_out]
        files[host] = Converted(_header(project, host, notes) + dump_yaml(doc), located)
    return files


def _service(project: Project, name: str, written: dict[str, Any], crossing: _Crossing, here: list[str],
             notes: _HostNotes) -> dict[str, Any]:
    service = project.topology.services[name]
    out = {key: value for key, value in written.items() if key not in _XCOMPOSE_ONLY}
    environment = link_variables(project, name, name)
    if environment:
        out["environment"] = escaped(environment)
    local_links = [link.short() for link in service.links if link.target in here]
    if local_links:
        out["links"] = local_links
    else:
        out.pop("links", None)
    for link in service.links:
        if link.target not in here:
            notes.changed.append((("services", name, "links"), f"'{link.target}' runs on "
                                  f"{project.host_of(link.target)}: reached by its host's address (extra_hosts)"))
    if "depends_on" in out:
        kept = {target: cond for target, cond in out["depends_on"].items() if target in here}
        for target in out["depends_on"]:
            if target not in here:
                notes.left_out.append((("services", name, "depends_on", target), f"'{target}' runs on "
                                       f"{project.host_of(target)}: start it there first"))
        if kept:
            # The short form where it says it all; a long one names its condition, which
            # docker-compose v1 requires.
            out["depends_on"] = list(kept) if not any(kept.values()) else {
                target: {"condition": "service_started", **cond} for target, cond in kept.items()}
        else:
            del out["depends_on"]
    for kind in ("secrets", "configs"):
        if kind in out:
            out[kind] = [grant_entry(entry) for entry in out[kind]]
    if service.volumes:
        out["volumes"] = [escaped(m.short() or m.model_dump(mode="json", exclude_defaults=True))
                          for m in map(partial(absolute_mount, project), service.volumes)]
    if name in crossing.published:
        out["ports"] = [*out.get("ports", []), *crossing.published[name]]
    if name in crossing.names:
        out["extra_hosts"] = [*out.get("extra_hosts", []), *crossing.names[name]]
    return out


def _crossing(project: Project) -> _Crossing:
    """Every (consumer, target) on different hosts that share a network or a link: the
    target publishes its declared ports on its host's address, the consumer resolves its
    names to that address."""
    topology = project.topology
    services = topology.services
    aliases = link_aliases(project)
    host_of = {name: project.host_of(name) for name in services}
    # Who is on each network, and who links to whom: found once, not per pair of services.
    members: dict[str, list[str]] = {}
    linked_by: dict[str, list[str]] = {}
    for name, service in services.items():
        for net in service.network_settings():
            members.setdefault(net, []).append(name)
        for link in service.links:
            linked_by.setdefault(link.target, []).append(name)
    found = _Crossing()
    names_of: dict[str, dict[str, None]] = {}  # consumer -> extra_hosts entries, in order, once each
    taken: dict[str, dict[tuple[int, str], str]] = {}  # host -> (port, protocol) -> service
    for target, service in services.items():
        host = host_of[target]
        near = [c for net in service.network_settings() for c in members[net]]
        consumers = [c for c in dict.fromkeys([*near, *linked_by.get(target, [])]) if host_of[c] != host]
        if not consumers:
            continue
        ports = declared_ports(service)
        if not ports:
            # Said only where a consumer names it: every service shares the default network
            # with every other, and most are reached by none.
            if any(host_of[c] != host for c in linked_by.get(target, [])):
                found.notes.append((("services", target), "linked from other hosts but declares no port: add "
                                    "`expose:` to publish it on its host's address"))
            continue
        if service.replicas() > 1:
            found.notes.append((("services", target), f"{service.replicas()} containers cannot share one port "
                                "of the host's address: not reached from other hosts"))
            continue
        address = topology.hosts[host].address
        entries: list[str] = []
        for port in ports:
            holder = taken.setdefault(host, {}).setdefault((port.port, port.protocol), target)
            if holder != target:
                found.notes.append((("services", target), f"port {port.short()} of {host}'s address is "
                                    f"published for '{holder}' already: not reached from other hosts on it"))
                continue
            published = f"{address}:{port.port}:{port.port}"
            entries.append(published if port.protocol == "tcp" else f"{published}/{port.protocol}")
        found.published[target] = entries
        names = [target, *(a for net in aliases.get(target, {}).values() for a in net),
                 *(a for settings in service.network_settings().values() for a in settings.aliases)]
        for consumer in consumers:
            own = [link.alias for link in services[consumer].links if link.target == target]
            wanted = names_of.setdefault(consumer, {})
            wanted.update(dict.fromkeys(f"{n}:{address}" for n in [*names, *own]))
    found.names = {consumer: list(entries) for consumer, entries in names_of.items()}
    return found


def _used(project: Project, kind: str, names: list[str]) -> set[str]:
    services = [project.topology.services[n] for n in names]
    if kind == "volumes":
        return {m.source for s in services for m in s.volumes if m.type == "volume" and m.source}
    if kind == "networks":
        return {net for s in services for net in s.network_settings()}
    return {grant.source for s in services for grant in getattr(s, kind)}


def _header(project: Project, host: str, notes: _HostNotes) -> str:
    declared: Mapping[str, Any] = project.topology.hosts
    where = f" ({declared[host].address})" if host in declared else ""
    lines = [
        f"host {host}{where}: the services of the project {project.name} placed there, made by "
        "`xcompose convert --to compose`.",
        f"Run it on that host: docker compose -p {project.name} -f FILE up -d   (or docker-compose)",
    ]
    for title, found in (("Changed:", notes.changed), ("Left out:", notes.left_out)):
        if found:
            lines.append(title)
            lines += [f"  {format_key_path(path)}: {why}" for path, why in found]
    return "".join(f"# {line}\n" for line in lines)
