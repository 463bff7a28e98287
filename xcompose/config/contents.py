"""Secrets and configs: the content each top-level declaration holds, read when the file is
loaded, and the names services are given, checked against the declarations.

Reading happens here, as for env files, so that the planner stays pure and every problem is
located with the others: a missing file, an unset variable, an external secret on plain
engines (only Docker Swarm holds them), a service given a name that is not declared. The bytes go on the
Project, never into the model: `config` prints declarations, and no message quotes a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from xcompose.config.location import KeyPath
from xcompose.config.model import NAME_PATTERN
from xcompose.config.project import Project
from xcompose.config.references import suggest
from xcompose.errors import ConfigError

Kind = Literal["secrets", "configs"]
KINDS: tuple[Kind, ...] = ("secrets", "configs")
_SINGULAR: dict[Kind, str] = {"secrets": "secret", "configs": "config"}
# Keys only Docker Swarm reads: accepted, and said to be ignored.
_SWARM_ONLY = ("driver", "driver_opts", "template_driver", "labels")


def read_contents(
    data: Mapping[str, Any], base_dir: Path, lookup: Mapping[str, str], project: Project
) -> tuple[dict[tuple[str, str], bytes], list[ConfigError], list[str]]:
    """(content of every declared secret and config, errors, warnings), read from the
    merged plain data; a declaration that validation will refuse is skipped here."""
    contents: dict[tuple[str, str], bytes] = {}
    errors: list[ConfigError] = []
    warnings: list[str] = []
    for kind in KINDS:
        table = data.get(kind)
        if not isinstance(table, dict):
            continue
        singular = _SINGULAR[kind]
        for name, decl in table.items():
            where: KeyPath = (kind, name)
            if not re.match(NAME_PATTERN, name):
                errors.append(project.error(where, f"'{name}' is not a valid {singular} name "
                                                   "(use letters, digits, '_', '.', '-')"))
                continue
            if not isinstance(decl, dict):
                continue
            for key in _SWARM_ONLY:
                if key in decl:
                    warnings.append(str(project.error((*where, key), "only Docker Swarm reads this key: "
                                                      "ignored on plain Docker engines")))
            if decl.get("external") is True and data.get("engine") == "swarm":
                continue  # the swarm holds it; looked up by name when services are made
            read = _read(kind, name, decl, base_dir, lookup, project)
            if isinstance(read, ConfigError):
                errors.append(read)
            elif read is not None:
                contents[(kind, name)] = read
    return contents, errors, warnings


def _read(
    kind: Kind, name: str, decl: Mapping[str, Any], base_dir: Path, lookup: Mapping[str, str], project: Project
) -> bytes | ConfigError | None:
    """The declaration's content; None when it has no single source (validation says so)."""
    singular = _SINGULAR[kind]
    sources = [key for key in ("file", "environment", "content") if decl.get(key) is not None]
    if decl.get("external") is True:
        others = "file:, environment: or content:" if kind == "configs" else "file: or environment:"
        return project.error((kind, name, "external"),
                             f"external {kind} exist only in Docker Swarm; on plain Docker engines there is "
                             f"no {singular} store to find '{decl.get('name') or name}' in: give the {singular} "
                             f"a source xcompose reads ({others})")
    if len(sources) != 1:
        return None
    source = sources[0]
    value = decl[source]
    if not isinstance(value, str):
        return None
    if source == "content":
        return value.encode()
    if source == "environment":
        found = lookup.get(value)
        if found is None:
            return project.error((kind, name, "environment"),
                                 f"variable '{value}' is not set, and the {singular} '{name}' is read from it "
                                 "(set it in the environment or in .env)")
        return found.encode()
    path = base_dir / os.path.expanduser(value)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        return project.error((kind, name, "file"), f"{singular} file '{value}' {what} (looked for {path})")
    try:
        return path.read_bytes()
    except OSError as error:
        return project.error((kind, name, "file"),
                             f"{singular} file '{value}' cannot be read: {error.strerror or error}")


def check_grants(data: Mapping[str, Any], project: Project) -> list[ConfigError]:
    """Every secret and config a service is given is declared at the top level."""
    errors: list[ConfigError] = []
    services = data.get("services")
    if not isinstance(services, dict):
        return errors
    for kind in KINDS:
        table = data.get(kind)
        declared = list(table) if isinstance(table, dict) else []
        singular = _SINGULAR[kind]
        for service_name, service in services.items():
            grants = service.get(kind) if isinstance(service, dict) else None
            if not isinstance(grants, list):
                continue
            for index, entry in enumerate(grants):
                path: KeyPath = ("services", service_name, kind, index)
                source = entry.get("source") if isinstance(entry, dict) else entry
                if isinstance(entry, dict):
                    path = (*path, "source")
                if not isinstance(source, str) or source in declared:
                    continue
                if declared:
                    message = f"unknown {singular} '{source}'{suggest(source, declared)}"
                else:
                    message = f"unknown {singular} '{source}': no {kind} are declared (add it under top-level {kind}:)"
                errors.append(project.error(path, message))
    return errors
