"""`convert --to stack`: the project as a Docker stack file (Compose file format 3.8) that
`docker stack deploy -c FILE PROJECT` accepts and that runs the same topology on a swarm.

Pure: the loaded project in, text and located warnings out. Each service is pinned to its
host by the node label `io.xcompose.host == HOST`, reaches the others by name over one
attachable overlay network per project network (no ambassadors), and its `links:` become
network aliases on the target plus the legacy link variables the planner also sets.
Keys a Swarm service has no use for are left out and named: on stderr, located, and in
the file's header, as `docker stack deploy` names what it ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from xcompose.config.export import config_data, dump_yaml, escaped
from xcompose.config.location import KeyPath, format_key_path
from xcompose.config.model import Service
from xcompose.config.mounts import VolumeMount
from xcompose.config.options import constraint_host
from xcompose.config.project import Project
from xcompose.plan.images import image_of
from xcompose.plan.naming import LABEL_HOST
from xcompose.plan.wiring import link_environment

EndpointMode = Literal["dnsrr", "vip"]
NODE_LABEL = LABEL_HOST  # the node label a service is pinned by; `lab up --swarm` sets it
STACK_VERSION = "3.8"

# Service keys a Swarm service takes as they are written (and format 3.8 knows).
_KEPT = ("image", "command", "entrypoint", "environment", "healthcheck", "labels", "user", "working_dir",
         "hostname", "cap_add", "cap_drop", "stop_signal", "stop_grace_period", "stdin_open", "tty", "init",
         "read_only", "sysctls", "ulimits", "tmpfs", "extra_hosts", "dns", "dns_search", "logging")
# Keys turned into their Swarm equivalents below (depends_on: said in the header), or left
# out without a word: env_file (its values are in `environment` already), expose (an
# overlay reaches every port), profiles (applied when loading), ambassador and attach.
_CONVERTED = ("host", "links", "restart", "scale", "deploy", "ports", "networks", "mem_limit", "mem_reservation",
              "cpus", "pids_limit", "build", "volumes", "secrets", "configs", "depends_on", "env_file", "expose",
              "profiles", "ambassador", "attach")
# Docker's restart policy -> a Swarm task's: `unless-stopped` is `any` (a stopped task is not a thing).
_RESTART = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


@dataclass
class Converted:
    """The file's text, and what was left out as located one-line warnings."""

    text: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Notes:
    project: Project
    located: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def left_out(self, path: KeyPath, why: str) -> None:
        self.located.append(str(self.project.error(path, why)))
        self.header.append(f"{format_key_path(path)}: {why}")


def to_stack(project: Project, endpoint_mode: EndpointMode = "dnsrr") -> Converted:
    """The stack file of the project; `endpoint_mode` for every service (see the header it
    writes for why `dnsrr` is the default)."""
    notes = _Notes(project)
    data = config_data(project)
    topology = project.topology
    aliases = link_aliases(project)
    pinned = bool(topology.hosts)
    services: dict[str, Any] = {}
    for name, service in topology.services.items():
        services[name] = _service(project, name, service, data["services"][name], aliases.get(name, {}),
                                  endpoint_mode, pinned, notes)
    stack: dict[str, Any] = {"version": STACK_VERSION, "services": services}
    networks = _networks(project, notes)
    if networks:
        stack["networks"] = networks
    if "volumes" in data:
        stack["volumes"] = data["volumes"]
    for kind in ("secrets", "configs"):
        declared = _contents(project, kind, notes)
        if declared:
            stack[kind] = declared
    return Converted(_header(project, endpoint_mode, pinned, notes) + dump_yaml(stack), notes.located)


def link_aliases(project: Project) -> dict[str, dict[str, list[str]]]:
    """target -> network -> the aliases its consumers' `links:` give it there (on the first
    network the two share, where the planner puts a link's alias too)."""
    services = project.topology.services
    found: dict[str, dict[str, list[str]]] = {}
    for consumer in services.values():
        own = consumer.network_settings()
        for link in consumer.links:
            target = services[link.target].network_settings()
            shared = [net for net in own if net in target]
            if link.alias != link.target and shared:
                names = found.setdefault(link.target, {}).setdefault(shared[0], [])
                if link.alias not in names:
                    names.append(link.alias)
    return found


def link_variables(project: Project, name: str, consumer_name: str) -> dict[str, str | None]:
    """The legacy link variables of a service's `links:`, under its own environment (which
    wins, as on plain engines; a variable without a value is taken from the environment
    of whoever deploys the file)."""
    services = project.topology.services
    service = services[name]
    env: dict[str, str | None] = {}
    for link in service.links:
        target = services[link.target]
        env.update(link_environment(consumer_name, link.alias, target, target.exposed_ports()))
    env.update(service.environment)
    return env


def _service(project: Project, name: str, service: Service, written: dict[str, Any],
             aliases: Mapping[str, list[str]], endpoint_mode: EndpointMode, pinned: bool,
             notes: _Notes) -> dict[str, Any]:
    here: KeyPath = ("services", name)
    out: dict[str, Any] = {"image": image_of(project.name, name, service)}
    out.update({key: written[key] for key in _KEPT if key in written and key != "image"})
    if service.build is not None:
        notes.left_out((*here, "build"), f"Swarm does not build: push {out['image']} to a registry every node "
                       "pulls from")
    for key in written:
        if key not in _KEPT and key not in _CONVERTED:
            notes.left_out((*here, key), f"a Swarm service has no '{key}'")
    environment = link_variables(project, name, f"{project.name}_{name}")
    if environment:
        out["environment"] = escaped(environment)
    if service.ports:
        out["ports"] = _ports(service, endpoint_mode, here, notes)
    networks = _service_networks(service, aliases, here, notes)
    if networks is not None:
        out["networks"] = networks
    if service.volumes:
        out["volumes"] = [_volume(project, m) for m in service.volumes]
    for kind in ("secrets", "configs"):
        if kind in written:
            out[kind] = [grant_entry(entry) for entry in written[kind]]
    out["deploy"] = _deploy(project, name, service, endpoint_mode, pinned, notes)
    return out


def _deploy(project: Project, name: str, service: Service, endpoint_mode: EndpointMode, pinned: bool,
            notes: _Notes) -> dict[str, Any]:
    deploy: dict[str, Any] = {"replicas": service.replicas(), "endpoint_mode": endpoint_mode}
    if service.restart is not None:
        word, _, count = service.restart.partition(":")
        policy: dict[str, Any] = {"condition": _RESTART[word]}
        if count:
            policy["max_attempts"] = int(count)
        deploy["restart_policy"] = policy
    given = service.deploy
    limits = {"cpus": service.cpus if service.cpus is not None else (given.resources.limits.cpus if given else None),
              "memory": service.mem_limit or (given.resources.limits.memory if given else None)}
    reservations = {"memory": service.mem_reservation or (given.resources.reservations.memory if given else None)}
    resources = {kind: {key: str(value) for key, value in values.items() if value is not None}
                 for kind, values in (("limits", limits), ("reservations", reservations))}
    if any(resources.values()):
        deploy["resources"] = {kind: values for kind, values in resources.items() if values}
    if service.pids_limit is not None or (given is not None and given.resources.limits.pids is not None):
        notes.left_out(("services", name, "pids_limit" if service.pids_limit is not None else "deploy"),
                       "a pids limit is not in stack file format 3.8")
    constraints = [c for c in (given.placement.constraints if given else []) if constraint_host(c) is None]
    if pinned:
        constraints.append(f"node.labels.{NODE_LABEL} == {project.host_of(name)}")
    if constraints:
        deploy["placement"] = {"constraints": constraints}
    return deploy


def _ports(service: Service, endpoint_mode: EndpointMode, here: KeyPath, notes: _Notes) -> list[dict[str, Any]]:
    """Long syntax. With dnsrr a port is published in host mode, on the node that runs the
    task: the routing mesh (ingress) needs virtual IPs."""
    found: list[dict[str, Any]] = []
    for index, port in service.published_ports():
        entry: dict[str, Any] = {"target": port.target}
        if port.published is not None:
            entry["published"] = port.published
        entry["protocol"] = port.protocol
        if endpoint_mode == "dnsrr":
            entry["mode"] = "host"
        if port.host_ip:
            notes.left_out((*here, "ports", index), f"Swarm publishes on every address of a node, not only "
                           f"{port.host_ip}")
        if port.published_last:
            notes.left_out((*here, "ports", index), f"Swarm publishes one port, not a range: {port.published}")
        if entry not in found:
            found.append(entry)
    return found


def _service_networks(service: Service, aliases: Mapping[str, list[str]], here: KeyPath,
                      notes: _Notes) -> dict[str, Any] | None:
    if service.network_mode is not None:
        notes.left_out((*here, "network_mode"), "a Swarm service joins overlay networks: it has no network_mode")
        return None
    out: dict[str, Any] = {}
    for net, settings in service.network_settings().items():
        names = [*settings.aliases, *(a for a in aliases.get(net, []) if a not in settings.aliases)]
        out[net] = {"aliases": names} if names else None
        for key in ("ipv4_address", "ipv6_address"):
            if getattr(settings, key) is not None:
                notes.left_out((*here, "networks", net, key), "Swarm gives each task its address")
    if list(out) == ["default"] and out["default"] is None:
        return None  # the default network, which a stack makes and joins without being told
    return out


def absolute_mount(project: Project, mount: VolumeMount) -> VolumeMount:
    """A bind mount's source as an absolute path (relative ones start at the project folder):
    the file that holds it may be read from anywhere."""
    source = mount.source
    if mount.type != "bind" or source is None or source.startswith("/"):
        return mount
    return mount.model_copy(update={"source": str((project.working_dir / source).resolve())})


def _volume(project: Project, mount: VolumeMount) -> Any:
    """Short form where it says it all (a bind source being a path on the node that runs the
    task); long-form options of format 3.8 only."""
    changed = absolute_mount(project, mount)
    source = changed.source
    short = changed.short()
    if short is not None:
        return escaped(short)
    entry: dict[str, Any] = {"type": changed.type, "target": changed.target}
    if source is not None:
        entry["source"] = source
    if changed.read_only:
        entry["read_only"] = True
    if changed.bind is not None and changed.bind.propagation:
        entry["bind"] = {"propagation": changed.bind.propagation}
    if changed.volume is not None and changed.volume.nocopy:
        entry["volume"] = {"nocopy": True}
    if changed.tmpfs is not None and changed.tmpfs.size is not None:
        entry["tmpfs"] = {"size": changed.tmpfs.size}
    return escaped(entry)


def grant_entry(entry: Any) -> Any:
    """A service's secret or config as format 3.8 (and docker-compose v1) want it: uid and
    gid as strings, the mode as a number."""
    if isinstance(entry, str):
        return entry
    out = dict(entry)
    for key in ("uid", "gid"):
        if key in out:
            out[key] = str(out[key])
    if "mode" in out:
        out["mode"] = int(str(out["mode"]), 8)
    return out


def _networks(project: Project, notes: _Notes) -> dict[str, Any]:
    """Every network a service joins, as an attachable overlay (so `docker run --network`
    and `xcompose` can join it too)."""
    topology = project.topology
    used = list(dict.fromkeys(net for s in topology.services.values() for net in s.network_settings()))
    out: dict[str, Any] = {}
    for net in used:
        decl = topology.network(net)
        here: KeyPath = ("networks", net)
        if decl.external:
            out[net] = {"external": True, **({"name": decl.name} if decl.name else {})}
            continue
        entry: dict[str, Any] = {"driver": "overlay", "attachable": True}
        if decl.driver not in (None, "overlay", "bridge"):
            notes.left_out((*here, "driver"), f"a network across Swarm nodes is an overlay, not {decl.driver}")
        for key in ("name", "internal", "labels", "driver_opts"):
            value = getattr(decl, key)
            if value:
                entry[key] = value
        if decl.ipam is not None and decl.ipam.config:
            entry["ipam"] = {"config": [{"subnet": pool.subnet} for pool in decl.ipam.config if pool.subnet]}
        if decl.enable_ipv6:
            notes.left_out((*here, "enable_ipv6"), "not in stack file format 3.8")
        out[net] = entry
    return out


def _contents(project: Project, kind: str, notes: _Notes) -> dict[str, Any]:
    """Secrets or configs: a file source stays a file (read by `docker stack deploy`); one
    from the environment or inline is made beforehand, as an external one named as the
    stack would name it."""
    declared: Mapping[str, Any] = getattr(project.topology, kind)
    single = kind[:-1]
    out: dict[str, Any] = {}
    for name, decl in declared.items():
        if decl.file is not None:
            entry: dict[str, Any] = {"file": str((project.working_dir / decl.file).resolve())}
            if decl.name:
                entry["name"] = decl.name
        else:
            swarm_name = decl.name or f"{project.name}_{name}"
            entry = {"external": True, "name": swarm_name}
            if not decl.external:
                source = "environment" if decl.environment is not None else "content"
                notes.left_out((kind, name, source), f"a stack file reads {kind} from files only: create it "
                               f"first with `docker {single} create {swarm_name} FILE`")
        for key in ("labels", "template_driver"):
            if getattr(decl, key):
                entry[key] = getattr(decl, key)
        out[name] = entry
    return out


def _header(project: Project, endpoint_mode: EndpointMode, pinned: bool, notes: _Notes) -> str:
    lines = [
        f"Docker stack file of the project {project.name}, made by `xcompose convert --to stack`.",
        f"Deploy it: docker stack deploy -c FILE {project.name}   (FILE may be -, for standard input)",
    ]
    if pinned:
        hosts = sorted({project.host_of(name) for name in project.topology.services})
        lines += [
            f"Each service runs on its host: the swarm node labelled {NODE_LABEL}=HOST. Label the nodes first",
            f"  ({', '.join(hosts)}): docker node update --label-add {NODE_LABEL}=HOST NODE",
            "  (`xcompose lab up --swarm` labels the lab's nodes with the lab host names).",
        ]
    if endpoint_mode == "dnsrr":
        lines += [
            "endpoint_mode: dnsrr: a service's name resolves to its tasks' own addresses (DNS round robin).",
            "  Swarm's virtual IPs need IPVS in every node's kernel, which not every kernel has (the lab's",
            "  does not); ports are published in host mode, on the node that runs the task, as the",
            "  routing mesh needs virtual IPs too. Where the nodes have IPVS: `convert --to stack",
            "  --endpoint-mode vip`.",
        ]
    lines.append("Networks are attachable overlays; links became network aliases and the legacy link variables.")
    if any(s.depends_on for s in project.topology.services.values()):
        lines.append("depends_on is not kept: Swarm starts services in no order; each must wait for what it needs.")
    if notes.header:
        lines.append("Not carried over:")
        lines += [f"  {note}" for note in notes.header]
    return "".join(f"# {line}\n" for line in lines)
