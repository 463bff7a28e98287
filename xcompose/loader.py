"""Topology files to a validated Project, every problem located at FILE:LINE: key.path.

The steps, as Compose does them: read each file, interpolate it with the environment
overlaid on `.env`, merge the files, validate the result with the models, then check the
names that refer to each other. All errors of a step are collected before raising; a file
that cannot be parsed stops the load because everything after it would only add noise.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from xcompose.errors import ConfigError, ConfigErrors
from xcompose.interpolation import interpolate_tree, read_env_file, warn_unset
from xcompose.merge import merge_documents
from xcompose.model import NAME_PATTERN, Link, Topology, VolumeMount, field_names_at, format_duration
from xcompose.project import IMPLICIT_HOST, KeyPath, Project, format_key_path
from xcompose.yamlsource import (
    CORE_RESOLVERS,
    LMap,
    YamlDocument,
    kind_of,
    locate_in_tree,
    read_document,
    to_plain,
)

DEFAULT_FILES = ("xcompose.yaml", "xcompose.yml")
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

__all__ = ["load_project", "dump_config", "topology_schema", "DEFAULT_FILES"]


def load_project(
    files: Sequence[str | Path],
    *,
    project_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Project:
    """Read, interpolate, merge and validate the topology files; raises ConfigErrors."""
    env = dict(os.environ if environ is None else environ)
    if isinstance(files, (str, Path)):
        files = [files]
    paths = _resolve_files(files, env)
    first_dir = paths[0][0].parent
    dotenv: dict[str, str] = {}
    if (first_dir / ".env").is_file():
        dotenv, errors = read_env_file(first_dir / ".env", str(paths[0][1].parent / ".env"), env)
        if errors:
            raise ConfigErrors(errors)
    # The process environment wins over `.env`, as in Compose.
    lookup = {**dotenv, **env}

    docs: list[YamlDocument] = []
    errors: list[ConfigError] = []
    for path, display in paths:
        try:
            docs.append(read_document(path, str(display)))
        except ConfigErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise ConfigErrors(errors)

    failed: list[str] = []  # key paths whose value is already reported as wrong
    warnings: list[str] = []
    for doc in docs:
        result = interpolate_tree(doc.data, lookup)
        for path, message in result.errors:
            errors.append(_error_in(doc.data, path, message, doc.file))
            failed.append(format_key_path(path))
        warnings.extend(warn_unset(result.unset, lambda p, d=doc: _where(d.data, p, d.file)))

    merged, merge_errors = merge_documents([doc.data for doc in docs])
    errors.extend(merge_errors)
    failed.extend(e.path for e in merge_errors)
    plain, locations = to_plain(merged)
    project = Project(name="", topology=Topology(), files=[p for p, _ in paths], locations=locations)
    project.warnings = warnings

    name = _project_name(project_name, env, plain.get("name"), paths[0][0], project)
    if isinstance(name, ConfigError):
        errors.append(name)
    env_files, reference_errors = _check_references(plain, first_dir, lookup, project)
    errors.extend(reference_errors)
    try:
        topology = Topology.model_validate(plain)
    except ValidationError as exc:
        errors.extend(e for e in _translate(exc, plain, project) if not _under(e, failed))
        raise ConfigErrors(errors) from None
    if errors:
        raise ConfigErrors(errors)
    assert isinstance(name, str)
    project.name = name
    project.topology = _finish(topology, name, env_files, lookup, first_dir)
    return project


def _resolve_files(files: Sequence[str | Path], env: Mapping[str, str]) -> list[tuple[Path, Path]]:
    """(absolute path, path as the user wrote it) of each file, in merge order."""
    given = [Path(f) for f in files]
    if not given and env.get("XCOMPOSE_FILE"):
        separator = env.get("XCOMPOSE_PATH_SEPARATOR", os.pathsep)
        given = [Path(f) for f in env["XCOMPOSE_FILE"].split(separator) if f]
    if not given:
        cwd = Path.cwd()
        found = [cwd / name for name in DEFAULT_FILES if (cwd / name).is_file()]
        if not found:
            raise ConfigErrors(
                [ConfigError(str(cwd), None, "", "no xcompose.yaml or xcompose.yml here (use -f FILE)")]
            )
        given = [Path(found[0].name)]
    return [(p.resolve() if p.is_absolute() else (Path.cwd() / p).resolve(), p) for p in given]


def _where(tree: LMap, path: KeyPath, file: str) -> str:
    loc = locate_in_tree(tree, path)
    where = f"{loc[0]}:{loc[1]}" if loc else file
    return f"{where}: {format_key_path(path)}"


def _error_in(tree: LMap, path: KeyPath, message: str, file: str) -> ConfigError:
    loc = locate_in_tree(tree, path)
    return ConfigError(loc[0] if loc else file, loc[1] if loc else None, format_key_path(path), message)


def _under(error: ConfigError, failed: list[str]) -> bool:
    """A validation error about a value already reported (failed interpolation or merge)."""
    return any(error.path == text or error.path.startswith((text + ".", text + "[")) for text in failed)


def _suggest(name: str, choices: Sequence[str]) -> str:
    # difflib's ratio 2*M/(a+b) cannot reach 0.6 outside these lengths; skipping those
    # keeps a file with thousands of services fast without losing a suggestion.
    low, high = 3 * len(name) / 7, 7 * len(name) / 3
    near = [c for c in choices if low <= len(c) <= high]
    close = difflib.get_close_matches(name, near, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _project_name(
    argument: str | None, env: Mapping[str, str], from_file: Any, first: Path, project: Project
) -> str | ConfigError:
    """-p > XCOMPOSE_PROJECT_NAME > `name:` > the first file's folder, as Compose orders them."""
    rule = "must contain only a-z, 0-9, '_' and '-' and start with a letter or digit"
    explicit: list[tuple[Any, KeyPath | None, str]] = [
        (argument, None, "project name"),
        (env.get("XCOMPOSE_PROJECT_NAME"), None, "XCOMPOSE_PROJECT_NAME"),
        (from_file, ("name",), ""),
    ]
    for value, path, label in explicit:
        if value is None or value == "":
            continue
        text = str(value).lower()
        if _PROJECT_NAME.match(text):
            return text
        if path is not None:
            return project.error(path, f"project name '{value}' {rule}")
        return ConfigError(label, None, "", f"'{value}' {rule}")
    # A folder name is only a default, so it is cleaned up rather than refused.
    folder = re.sub(r"[^a-z0-9_-]", "", first.parent.name.lower()).lstrip("_-")
    if not folder:
        return ConfigError(str(first), None, "", f"no project name: set name: (the folder name {rule})")
    return folder


def _check_references(
    data: dict[str, Any], base_dir: Path, lookup: Mapping[str, str], project: Project
) -> tuple[dict[str, dict[str, str]], list[ConfigError]]:
    """Names that must refer to something declared; returns env_file values per service."""
    errors: list[ConfigError] = []
    hosts = data.get("hosts") if isinstance(data.get("hosts"), dict) else {}
    services = data.get("services") if isinstance(data.get("services"), dict) else {}
    volumes = data.get("volumes") if isinstance(data.get("volumes"), dict) else {}
    env_files: dict[str, dict[str, str]] = {}

    def error(path: KeyPath, message: str) -> None:
        errors.append(project.error(path, message))

    for kind, table in (("host", hosts), ("service", services)):
        plural = "hosts" if kind == "host" else "services"
        for name in table:
            if not re.match(NAME_PATTERN, name):
                error((plural, name), f"'{name}' is not a valid {kind} name (use letters, digits, '_', '.', '-')")
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        base: KeyPath = ("services", name)
        host = service.get("host")
        if isinstance(host, str):
            if hosts and host not in hosts:
                error((*base, "host"), f"unknown host '{host}'{_suggest(host, list(hosts))}")
            elif not hosts and host != IMPLICIT_HOST:
                error((*base, "host"), f"unknown host '{host}': no hosts are declared (add it under hosts:)")
        elif host is None and len(hosts) > 1:
            error(base, f"no host: the file declares several hosts ({', '.join(hosts)}); add host: to pin it")
        for index, entry in enumerate(_list(service.get("links"))):
            try:
                target = Link.parse(entry).target
            except ValueError:
                continue  # reported by validation
            _refer(error, (*base, "links", index), name, target, services, "link to")
        depends = service.get("depends_on")
        if isinstance(depends, list):
            for index, entry in enumerate(depends):
                _refer(error, (*base, "depends_on", index), name, str(entry), services, "depend on")
        elif isinstance(depends, dict):
            for target in depends:
                _refer(error, (*base, "depends_on", target), name, target, services, "depend on")
        for index, entry in enumerate(_list(service.get("volumes"))):
            try:
                mount = VolumeMount.parse(entry)
            except ValueError:
                continue
            if mount.type == "volume" and mount.source and mount.source not in volumes:
                error(
                    (*base, "volumes", index),
                    f"named volume '{mount.source}' is not declared under top-level volumes:"
                    f"{_suggest(mount.source, list(volumes))}",
                )
        env_file = service.get("env_file")
        listed = [env_file] if isinstance(env_file, str) else _list(env_file)
        values: dict[str, str] = {}
        for index, entry in enumerate(listed):
            if not isinstance(entry, str):
                continue
            path = base_dir / entry
            if not path.is_file():
                error((*base, "env_file", index) if not isinstance(env_file, str) else (*base, "env_file"),
                      f"env file '{entry}' not found (looked for {path})")
                continue
            read, problems = read_env_file(path, entry, lookup)
            values.update(read)
            errors.extend(problems)
        if values:
            env_files[name] = values
    return env_files, errors


def _refer(error: Any, path: KeyPath, source: str, target: str, services: Mapping[str, Any], verb: str) -> None:
    if target == source:
        error(path, f"a service cannot {verb} itself")
    elif target not in services:
        error(path, f"unknown service '{target}'{_suggest(target, list(services))}")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _finish(
    topology: Topology, name: str, env_files: dict[str, dict[str, str]], lookup: Mapping[str, str], base_dir: Path
) -> Topology:
    """Resolve what Compose resolves at load time: env files, pass-through variables, name."""
    services = dict(topology.services)
    for key, service in topology.services.items():
        passed = any(v is None for v in service.environment.values())
        if not (passed or service.env_file or key in env_files):
            continue
        environment = {**env_files.get(key, {}), **service.environment}
        # `environment: [FOO]` takes FOO from the environment xcompose runs in.
        environment = {k: (lookup.get(k) if v is None else v) for k, v in environment.items()}
        env_file = [str((base_dir / entry).resolve()) for entry in service.env_file]
        services[key] = service.model_copy(update={"environment": environment, "env_file": env_file})
    return topology.model_copy(update={"name": name, "services": services})


_TYPE_WORDS = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a mapping",
    "list_type": "a list", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
           "greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}


def _translate(exc: ValidationError, data: Any, project: Project) -> list[ConfigError]:
    """pydantic errors to located messages; a union's alternatives become one message."""
    grouped: dict[KeyPath, list[str]] = {}
    expected: dict[KeyPath, tuple[list[str], Any]] = {}
    for err in exc.errors():
        loc, kind = tuple(err["loc"]), err["type"]
        path, missing = _real_path(loc, data, kind)
        if kind in _TYPE_WORDS:
            words, _ = expected.setdefault(path, ([], err.get("input")))
            if _TYPE_WORDS[kind] not in words:
                words.append(_TYPE_WORDS[kind])
            continue
        grouped.setdefault(path, []).append(_message(err, loc, missing))
    for path, (words, value) in expected.items():
        grouped.setdefault(path, []).append(f"must be {' or '.join(words)}, not {kind_of(value)}")
    return [project.error(path, message) for path, messages in grouped.items() for message in messages]


def _real_path(loc: KeyPath, data: Any, kind: str) -> tuple[KeyPath, str | None]:
    """The key path in the file, skipping pydantic's union tags and `[key]` markers."""
    node, path = data, []
    for index, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif kind == "missing" and index == len(loc) - 1:
            return tuple(path), str(part)
    return tuple(path), None


def _message(err: Any, loc: KeyPath, missing: str | None) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return f"missing required key '{missing}'"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return f"unknown key '{key}'{_suggest(key, field_names_at(loc[:-1]))}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_short(err.get('input'))})"
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"must be {word} {ctx.get(key)} (got {_short(err.get('input'))})"
    return str(err["msg"])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


REDACTED = "*****"


class _Dumper(yaml.SafeDumper):
    """Quotes every string the YAML 1.2 loader would read as something else (`0o17`, `1e3`)."""


for _tag, _pattern, _first in CORE_RESOLVERS:
    _Dumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def dump_config(project: Project, *, redact: bool = True) -> str:
    """The merged, interpolated, validated file as YAML; loads back to the same Topology."""
    topology = project.topology.model_copy(update={"name": project.name})
    data: dict[str, Any] = topology.model_dump(mode="json", exclude_defaults=True)
    data["name"] = project.name
    for name, service in topology.services.items():
        out = data["services"][name]
        out["image"] = service.image  # required, so never left out
        if service.expose:
            out["expose"] = [p.short() for p in service.expose]
        if service.ports:
            out["ports"] = [p.short() for p in service.ports]
        if service.links:
            out["links"] = [link.short() for link in service.links]
        if service.volumes:
            out["volumes"] = [
                m.short() or m.model_dump(mode="json", exclude_defaults=True) for m in service.volumes
            ]
        if service.healthcheck is not None and "healthcheck" in out:
            for key in ("interval", "timeout", "start_period"):
                if key in out["healthcheck"]:
                    out["healthcheck"][key] = format_duration(getattr(service.healthcheck, key))
        if redact and service.environment:
            out["environment"] = {k: (None if v is None else REDACTED) for k, v in service.environment.items()}
    order = ["name", "hosts", "ambassador", "services", "volumes", "networks"]
    ordered = {key: data[key] for key in order if key in data}
    return yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


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
