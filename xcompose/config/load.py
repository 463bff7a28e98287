"""Topology files to a validated Project, every problem located at FILE:LINE: key.path.

The steps, as Compose does them: read each file, interpolate it with the environment
overlaid on `.env`, merge the files, validate the result with the models, then check the
names that refer to each other. All errors of a step are collected before raising; a file
that cannot be parsed stops the load because everything after it would only add noise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xcompose.config.interpolate import interpolate_tree, read_env_file, warn_unset
from xcompose.config.location import KeyPath, format_key_path
from xcompose.config.merge import merge_documents
from xcompose.config.model import Topology
from xcompose.config.options import constraint_host
from xcompose.config.project import Project
from xcompose.config.references import check_references
from xcompose.config.source import (
    LMap,
    YamlDocument,
    locate_in_tree,
    read_document,
    to_plain,
)
from xcompose.config.validate import translate
from xcompose.errors import ConfigError, ConfigErrors

DEFAULT_FILES = ("xcompose.yaml", "xcompose.yml")
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")



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
        dotenv, problems = read_env_file(first_dir / ".env", str(paths[0][1].parent / ".env"), env)
        if problems:
            raise ConfigErrors(problems)
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
        for key_path, message in result.errors:
            errors.append(_error_in(doc.data, key_path, message, doc.file))
            failed.append(format_key_path(key_path))
        warnings.extend(warn_unset(result.unset, partial(_where, doc.data, file=doc.file)))

    merged, merge_errors = merge_documents([doc.data for doc in docs])
    errors.extend(merge_errors)
    failed.extend(e.path for e in merge_errors)
    plain, locations = to_plain(merged)
    project = Project(name="", topology=Topology(), files=[p for p, _ in paths], locations=locations)
    project.warnings = warnings

    name = _project_name(project_name, env, plain.get("name"), paths[0][0], project)
    if isinstance(name, ConfigError):
        errors.append(name)
    env_files, reference_errors = check_references(plain, first_dir, lookup, project)
    errors.extend(reference_errors)
    try:
        topology = Topology.model_validate(plain)
    except ValidationError as exc:
        errors.extend(e for e in translate(exc, plain, project) if not _under(e, failed))
        raise ConfigErrors(errors) from None
    if errors:
        raise ConfigErrors(errors)
    assert isinstance(name, str)
    project.name = name
    project.topology = _finish(topology, name, env_files, lookup, first_dir)
    project.warnings += _placement_warnings(project)
    return project


def _placement_warnings(project: Project) -> list[str]:
    """Placement constraints xcompose does not act on: Swarm's own (`node.role == manager`),
    and a `node.hostname` that `host:` overrides. Said, not silently dropped."""
    warnings = []
    for name, service in project.topology.services.items():
        for index, constraint in enumerate(service.deploy.placement.constraints if service.deploy else []):
            path = ("services", name, "deploy", "placement", "constraints", index)
            host = constraint_host(constraint)
            if host is None:
                why = "a Swarm constraint; xcompose places services by host and ignores it"
            elif service.host is not None and host != service.host:
                why = f"ignored: `host: {service.host}` places the service"
            else:
                continue
            warnings.append(str(project.error(path, f"'{constraint}' is {why}" if host is None else why)))
    return warnings


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


def _where(tree: LMap, path: KeyPath, *, file: str) -> str:
    loc = locate_in_tree(tree, path)
    where = f"{loc[0]}:{loc[1]}" if loc else file
    return f"{where}: {format_key_path(path)}"


def _error_in(tree: LMap, path: KeyPath, message: str, file: str) -> ConfigError:
    loc = locate_in_tree(tree, path)
    return ConfigError(loc[0] if loc else file, loc[1] if loc else None, format_key_path(path), message)


def _under(error: ConfigError, failed: list[str]) -> bool:
    """A validation error about a value already reported (failed interpolation or merge)."""
    return any(error.path == text or error.path.startswith((text + ".", text + "[")) for text in failed)


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


