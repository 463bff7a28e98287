"""The loaded project written back out: `config` (YAML that loads to the same model) and
`schema` (the file's JSON Schema, for editors)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.config.service_keys import Grant
from xcompose.config.source import CORE_RESOLVERS
from xcompose.config.syntax import format_duration


class _Dumper(yaml.SafeDumper):
    """Quotes every string the YAML 1.2 loader would read as something else (`0o17`, `1e3`)."""


for _tag, _pattern, _first in CORE_RESOLVERS:
    _Dumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def dump_config(project: Project) -> str:
    """The merged, interpolated, validated file as YAML, as Compose's `config` prints it:
    values as they are (no masking, which could only ever be partial), each `$` written
    `$$`, so that the output loads back to the same Topology."""
    return dump_yaml(config_data(project))


def dump_yaml(data: Any) -> str:
    """YAML that the loader reads back to the same values (strings it would take for
    numbers quoted), keys in the order given."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def config_data(project: Project) -> dict[str, Any]:
    """What `config` prints, as data: short syntaxes written short, each `$` as `$$`."""
    topology = project.topology.model_copy(update={"name": project.name})
    data: dict[str, Any] = topology.model_dump(mode="json", exclude_defaults=True)
    data["name"] = project.name
    for name, service in topology.services.items():
        out = data["services"][name]
        if service.image is not None:
            out["image"] = service.image
        if service.build is not None:
            out["build"] = {"context": service.build.context,
                            **service.build.model_dump(mode="json", exclude_defaults=True)}
        if service.expose:
            out["expose"] = [p.short() for entry in service.expose for p in entry]
        if service.ports:
            out["ports"] = [p.short() for entry in service.ports for p in entry]
        if service.links:
            out["links"] = [link.short() for link in service.links]
        if service.env_file:
            out["env_file"] = [e.path if e.required else e.model_dump(mode="json") for e in service.env_file]
        if service.volumes:
            out["volumes"] = [
                m.short() or m.model_dump(mode="json", exclude_defaults=True) for m in service.volumes
            ]
        if service.stop_grace_period is not None:
            out["stop_grace_period"] = format_duration(service.stop_grace_period)
        if service.healthcheck is not None and "healthcheck" in out:
            for key in ("interval", "timeout", "start_period"):
                if key in out["healthcheck"]:
                    out["healthcheck"][key] = format_duration(getattr(service.healthcheck, key))
        for kind in ("secrets", "configs"):
            if kind in out:  # `- NAME` where that is all there is to say; modes in octal
                out[kind] = [grant.source if grant == Grant(source=grant.source)
                             else {**entry, **({"mode": f"0{grant.mode:o}"} if grant.mode is not None else {})}
                             for grant, entry in zip(getattr(service, kind), out[kind], strict=True)]
    # Declarations only: the content a secret's or config's file holds is never printed.
    order = ["name", "hosts", "engine", "swarm", "ambassador", "services", "volumes", "networks", "secrets", "configs"]
    ordered: dict[str, Any] = escaped({key: data[key] for key in order if key in data})
    return ordered


def config_lines(project: Project, what: str) -> list[str]:
    """What `config --services` (`--images`, `--volumes`, `--networks`, `--hosts`,
    `--profiles`) prints."""
    from xcompose.plan.images import image_of

    topology = project.topology
    if what == "images":
        return [image_of(project.name, name, s) for name, s in topology.services.items()]
    names: dict[str, list[str]] = {"services": list(topology.services), "volumes": list(topology.volumes),
                                   "networks": list(topology.networks), "hosts": list(topology.hosts),
                                   "profiles": project.profiles}
    return names[what]


def escaped(value: Any) -> Any:
    """Every `$` of a string value as `$$`: interpolated already, it must not be again."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escaped(item) for item in value]
    return value


def topology_schema() -> dict[str, Any]:
    """JSON Schema of the file, with `x-*` extension keys allowed wherever keys are checked."""
    schema = Topology.model_json_schema(mode="validation")
    _allow_extensions(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "xcompose topology"
    return schema


def _allow_extensions(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            node.setdefault("patternProperties", {})["^x-"] = {}
        for value in node.values():
            _allow_extensions(value)
    elif isinstance(node, list):
        for value in node:
            _allow_extensions(value)
