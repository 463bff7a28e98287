"""Topology files to a validated Project, every problem located at FILE:LINE: key.path.

The steps, as Compose does them: read each file and interpolate it with the environment
overlaid on `.env`; bring in what it `include`s and resolve its services' `extends`; merge
the files; leave out the services whose profiles are not active; set aside the Compose keys
xcompose ignores; validate the result with the models, then check the names that refer to
each other. All errors of a step are collected before raising; a file that cannot be
parsed stops the load because everything after it would only add noise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xcompose.alloc import paused_gc
from xcompose.config.compat import set_aside_ignored
from xcompose.config.contents import check_grants, read_contents
from xcompose.config.discovery import find_sources
from xcompose.config.extends import resolve_extends
from xcompose.config.files import Context, display_path
from xcompose.config.include import apply_include
from xcompose.config.interpolate import interpolate_tree, warn_unset
from xcompose.config.location import KeyPath, format_key_path
from xcompose.config.merge import merge_documents
from xcompose.config.model import Topology
from xcompose.config.options import constraint_host
from xcompose.config.profiles import active_profiles, leave_out_disabled
from xcompose.config.project import Project
from xcompose.config.references import check_references
from xcompose.config.source import (
    LMap,
    decode,
    locate_in_tree,
    parse_text,
    read_document,
    to_plain,
)
from xcompose.config.validate import translate
from xcompose.errors import ConfigError, ConfigErrors

_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# A large file's trees are hundreds of thousands of objects that live until the load ends:
# without the cyclic collector rescanning them, a 10,000-service file loads in a quarter of
# the time.
@paused_gc()
def load_project(
    files: Sequence[str | Path],
    *,
    project_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    profiles: Sequence[str] | None = None,
    project_directory: str | Path | None = None,
    env_files: Sequence[str | Path] = (),
    stdin: bytes | None = None,
) -> Project:
    """Read, interpolate, merge and validate the project's files (found as Compose finds
    them when `files` is empty: config/discovery.py); raises ConfigErrors.

    `profiles` are the active profiles; without any, XCOMPOSE_PROFILES or COMPOSE_PROFILES.
    `stdin` is what a file named `-` holds."""
    env = dict(os.environ if environ is None else environ)
    if isinstance(files, (str, Path)):
        files = [files]
    sources = find_sources(files, env, project_directory=project_directory, env_files=env_files, stdin=stdin)
    first_dir = sources.folder
    # The process environment wins over `.env`, as in Compose.
    lookup = sources.variables

    reader = _Files()
    parsed = [reader.parse(source.path, source.display, source.content) for source in sources.files]
    if reader.unreadable:
        raise ConfigErrors(reader.errors)
    docs = [tree for tree in parsed if tree is not None]
    context = Context(first_dir, lookup)
    for tree, source in zip(docs, sources.files, strict=True):
        reader.interpolate(tree, source.display, lookup)
        reader.assemble(tree, source.display, context, (source.path,))
    errors, failed = reader.errors, reader.failed
    if reader.unreadable:
        raise ConfigErrors(errors)

    merged, merge_errors = merge_documents(docs)
    errors.extend(merge_errors)
    failed.extend(e.path for e in merge_errors)
    plain, locations = to_plain(merged)
    project = Project(name="", topology=Topology(), files=[s.path for s in sources.files], locations=locations,
                      folder=sources.folder)
    project.warnings = reader.warnings

    name = _project_name(project_name, lookup, plain.get("name"), sources.folder, project)
    if isinstance(name, ConfigError):
        errors.append(name)
    disabled = leave_out_disabled(plain, active_profiles(profiles, lookup))
    project.profiles = sorted({p for names in disabled.values() for p in names} | _profiles_of(plain))
    errors.extend(set_aside_ignored(plain, project))
    service_env, reference_errors = check_references(plain, first_dir, lookup, project, disabled)
    errors.extend(reference_errors)
    contents, content_errors, content_warnings = read_contents(plain, first_dir, lookup, project)
    errors.extend(content_errors + check_grants(plain, project))
    project.warnings.extend(content_warnings)
    try:
        topology = Topology.model_validate(plain)
    except ValidationError as exc:
        errors.extend(
            e for e in translate(exc, plain, project)
            if not _under(e, failed) and not _incomplete(e, reader.unresolved)
        )
        raise ConfigErrors(errors) from None
    if errors:
        raise ConfigErrors(errors)
    assert isinstance(name, str)
    project.name = name
    project.topology = _finish(topology, name, service_env, lookup, first_dir)
    project.contents = contents
    project.warnings += _placement_warnings(project)
    return project


class _Files:
    """Reads the files of a project, and those they include or extend, collecting every
    error (and whether a file could not be read at all) and warning on the way."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        self.warnings: list[str] = []
        self.failed: list[str] = []  # key paths whose value is already reported as wrong
        self.unreadable = False
        self.unresolved: set[str] = set()  # services whose `extends` failed
        self._extended: dict[tuple[Path, int], tuple[Mapping[str, str], tuple[LMap, str] | None]] = {}

    def parse(self, path: Path, display: str, content: bytes | None = None) -> LMap | None:
        try:
            if content is not None:  # standard input
                return parse_text(decode(content, display), display).data
            return read_document(path, display).data
        except ConfigErrors as exc:
            self.errors.extend(exc.errors)
            self.unreadable = True
            return None

    def interpolate(self, tree: LMap, file: str, lookup: Mapping[str, str], *, whole: bool = True) -> None:
        """Expand `${VAR}` in place; `version` is set aside, with a warning for a whole
        compose file (Compose does not warn about a file it reads only to extend from)."""
        result = interpolate_tree(tree, lookup)
        for key_path, message in result.errors:
            self.errors.append(_error_in(tree, key_path, message, file))
            self.failed.append(format_key_path(key_path))
        self.warnings.extend(warn_unset(result.unset, partial(_where, tree, file=file)))
        if "version" in tree:
            loc = tree.locs.pop("version")
            tree.pop("version")
            if whole:
                self.warnings.append(str(ConfigError(
                    loc[0], loc[1], "version", "the Compose key 'version' is obsolete and ignored; it can be removed"
                )))

    def read(self, path: Path, lookup: Mapping[str, str], *, whole: bool = True) -> tuple[LMap, str] | None:
        display = display_path(path)
        tree = self.parse(path, display)
        if tree is None:
            return None
        self.interpolate(tree, display, lookup, whole=whole)
        return tree, display

    def assemble(self, tree: LMap, file: str, context: Context, chain: tuple[Path, ...]) -> None:
        """What one file includes, then its services' `extends`, as Compose orders them."""
        apply_include(tree, file, context, chain, self.included, self.errors)
        resolve_extends(tree, file, context, self.extended, self.errors, self.unresolved)

    def included(self, path: Path, context: Context, chain: tuple[Path, ...]) -> tuple[LMap, str] | None:
        loaded = self.read(path, context.lookup)
        if loaded is not None:
            self.assemble(loaded[0], loaded[1], context, chain)
        return loaded

    def extended(self, path: Path, context: Context) -> tuple[LMap, str] | None:
        """A file a service extends, read once per set of variables; Compose reads only its
        services (its own `include` is not applied)."""
        key = (path, id(context.lookup))
        if key not in self._extended:
            self._extended[key] = (context.lookup, self.read(path, context.lookup, whole=False))
        return self._extended[key][1]


def _placement_warnings(project: Project) -> list[str]:
    """Placement constraints xcompose does not act on: Swarm's own (`node.role == manager`),
    and a `node.hostname` that `host:` overrides. Said, not silently dropped."""
    warnings = []
    for name, service in project.topology.services.items():
        for index, constraint in enumerate(service.deploy.placement.constraints if service.deploy else []):
            path = ("services", name, "deploy", "placement", "constraints", index)
            host = constraint_host(constraint)
            if host is None and project.topology.engine == "swarm":
                continue  # a swarm applies it beside the host's
            if host is None:
                why = "a Swarm constraint; xcompose places services by host and ignores it"
            elif service.host is not None and host != service.host:
                why = f"ignored: `host: {service.host}` places the service"
            else:
                continue
            warnings.append(str(project.error(path, f"'{constraint}' is {why}" if host is None else why)))
    return warnings


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


def _incomplete(error: ConfigError, unresolved: set[str]) -> bool:
    """A key missing from a service whose `extends` failed (that error is reported)."""
    return error.message.startswith("missing required key") and error.path in {f"services.{n}" for n in unresolved}


def _project_name(
    argument: str | None, env: Mapping[str, str], from_file: Any, folder: Path, project: Project
) -> str | ConfigError:
    """-p > XCOMPOSE_PROJECT_NAME or COMPOSE_PROJECT_NAME (environment, then `.env`) >
    `name:` > the project folder's name, as Compose orders them."""
    rule = "must contain only a-z, 0-9, '_' and '-' and start with a letter or digit"
    explicit: list[tuple[Any, KeyPath | None, str]] = [
        (argument, None, "project name"),
        (env.get("XCOMPOSE_PROJECT_NAME"), None, "XCOMPOSE_PROJECT_NAME"),
        (env.get("COMPOSE_PROJECT_NAME"), None, "COMPOSE_PROJECT_NAME"),
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
    cleaned = re.sub(r"[^a-z0-9_-]", "", folder.name.lower()).lstrip("_-")
    if not cleaned:
        return ConfigError(str(folder), None, "", f"no project name: set name: (the folder name {rule})")
    return cleaned


def _finish(
    topology: Topology, name: str, env_files: dict[str, dict[str, str]], lookup: Mapping[str, str], base_dir: Path
) -> Topology:
    """Resolve what Compose resolves at load time: env files, pass-through variables, name."""
    services = dict(topology.services)
    for key, service in topology.services.items():
        build = service.build
        if build is not None and None in build.args.values():
            # `args: [VERSION]` takes VERSION from the environment; unset, it is not passed.
            args = {k: lookup.get(k) if v is None else v for k, v in build.args.items()}
            build = build.model_copy(update={"args": {k: v for k, v in args.items() if v is not None}})
            service = services[key] = service.model_copy(update={"build": build})
        passed = any(v is None for v in service.environment.values())
        if not (passed or service.env_file or key in env_files):
            continue
        environment = {**env_files.get(key, {}), **service.environment}
        # `environment: [FOO]` takes FOO from the environment xcompose runs in.
        environment = {k: (lookup.get(k) if v is None else v) for k, v in environment.items()}
        env_file = []
        for entry in service.env_file:
            path = (base_dir / entry.path).resolve()
            if entry.required or path.is_file():  # a missing optional file is skipped
                env_file.append(entry.model_copy(update={"path": str(path)}))
        services[key] = service.model_copy(update={"environment": environment, "env_file": env_file})
    # Secret and config files as absolute paths, as Compose's `config` prints them.
    secrets = {key: decl.model_copy(update={"file": _absolute(base_dir, decl.file)})
               for key, decl in topology.secrets.items()}
    configs = {key: decl.model_copy(update={"file": _absolute(base_dir, decl.file)})
               for key, decl in topology.configs.items()}
    return topology.model_copy(update={"name": name, "services": services, "secrets": secrets, "configs": configs})


def _profiles_of(data: dict[str, Any]) -> set[str]:
    services = data.get("services")
    found: set[str] = set()
    for service in services.values() if isinstance(services, dict) else ():
        profiles = service.get("profiles") if isinstance(service, dict) else None
        if isinstance(profiles, list):
            found |= {p for p in profiles if isinstance(p, str)}
    return found


def _absolute(base_dir: Path, path: str | None) -> str | None:
    return None if path is None else str((base_dir / os.path.expanduser(path)).resolve())


