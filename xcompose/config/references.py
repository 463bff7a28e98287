"""The names in a topology that must refer to something declared: hosts, services, named
volumes and env files. Checked on the merged plain data, before validation, so that every
reference error is located and reported together with the others."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xcompose.config.interpolate import read_env_file
from xcompose.config.location import KeyPath
from xcompose.config.model import NAME_PATTERN
from xcompose.config.mounts import parse_volume
from xcompose.config.options import constraint_host, parse_volumes_from
from xcompose.config.project import IMPLICIT_HOST, Project
from xcompose.config.syntax import parse_link
from xcompose.errors import ConfigError


def suggest(name: str, choices: Sequence[str]) -> str:
    # difflib's ratio 2*M/(a+b) cannot reach 0.6 outside these lengths; skipping those
    # keeps a file with thousands of services fast without losing a suggestion.
    low, high = 3 * len(name) / 7, 7 * len(name) / 3
    near = [c for c in choices if low <= len(c) <= high]
    close = difflib.get_close_matches(name, near, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_references(
    data: dict[str, Any], base_dir: Path, lookup: Mapping[str, str], project: Project,
    disabled: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, dict[str, str]], list[ConfigError]]:
    """Names that must refer to something declared; returns env_file values per service.

    `disabled` are the services left out by their profiles: a reference to one is an error
    that says so, except a `depends_on` entry with `required: false`, which is dropped from
    `data` with a warning (Compose only warns about it)."""
    errors: list[ConfigError] = []
    hosts, services, volumes, networks = (_table(data, key) for key in ("hosts", "services", "volumes", "networks"))
    env_files: dict[str, dict[str, str]] = {}
    left_out = disabled or {}

    def error(path: KeyPath, message: str) -> None:
        errors.append(project.error(path, message))

    def problem(source: str, target: str, verb: str) -> str | None:
        """What is wrong with a reference, or None when `target` is a service of the project."""
        if target == source:
            return f"a service cannot {verb} itself"
        if target in services:
            return None
        if target in left_out:
            return f"service '{target}' is left out: none of its profiles ({', '.join(left_out[target])}) is active"
        return f"unknown service '{target}'{suggest(target, [*services, *left_out])}"

    for kind, table in (("host", hosts), ("service", services)):
        plural = "hosts" if kind == "host" else "services"
        for name in table:
            if not re.match(NAME_PATTERN, name):
                error((plural, name), f"'{name}' is not a valid {kind} name (use letters, digits, '_', '.', '-')")
    swarm = data.get("swarm")
    manager = swarm.get("manager") if isinstance(swarm, dict) else None
    if isinstance(manager, str) and manager not in (hosts or {IMPLICIT_HOST: None}):
        known = f"{suggest(manager, list(hosts))}" if hosts else ": no hosts are declared (add it under hosts:)"
        error(("swarm", "manager"), f"unknown host '{manager}'{known}")
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        base: KeyPath = ("services", name)
        host, where = service.get("host"), (*base, "host")
        if host is None:  # `deploy.placement.constraints: [node.hostname == HOST]` stands for `host: HOST`
            host, where = _constrained_host(service, base)
        if isinstance(host, str):
            if hosts and host not in hosts:
                error(where, f"unknown host '{host}'{suggest(host, list(hosts))}")
            elif not hosts and host != IMPLICIT_HOST:
                error(where, f"unknown host '{host}': no hosts are declared (add it under hosts:)")
        elif host is None and len(hosts) > 1:
            error(base, f"no host: the file declares several hosts ({', '.join(hosts)}); add host: to pin it")
        for index, entry in enumerate(_list(service.get("links"))):
            try:
                target = parse_link(entry).target
            except ValueError:
                continue  # reported by validation
            wrong = problem(name, target, "link to")
            if wrong:
                error((*base, "links", index), wrong)
        depends = service.get("depends_on")
        if isinstance(depends, list):
            for index, entry in enumerate(depends):
                wrong = problem(name, str(entry), "depend on")
                if wrong:
                    error((*base, "depends_on", index), wrong)
        elif isinstance(depends, dict):
            for target in list(depends):
                path = (*base, "depends_on", target)
                wrong = problem(name, target, "depend on")
                if wrong is None:
                    continue
                entry = depends[target]
                if target != name and isinstance(entry, dict) and entry.get("required") is False:
                    project.warnings.append(str(project.error(path, f"{wrong}; not required, so left out")))
                    del depends[target]
                else:
                    error(path, wrong)
        for index, entry in enumerate(_list(service.get("volumes"))):
            try:
                mount = parse_volume(entry)
            except ValueError:
                continue
            if mount.type == "volume" and mount.source and mount.source not in volumes:
                error(
                    (*base, "volumes", index),
                    f"named volume '{mount.source}' is not declared under top-level volumes:"
                    f"{suggest(mount.source, list(volumes))}",
                )
        _check_networks(error, problem, base, service, networks)
        values = _env_files(service.get("env_file"), base, base_dir, lookup, errors, error)
        if values:
            env_files[name] = values
    return env_files, errors


def _env_files(
    env_file: Any, base: KeyPath, base_dir: Path, lookup: Mapping[str, str], errors: list[ConfigError],
    error: Callable[[KeyPath, str], None],
) -> dict[str, str]:
    """The variables of a service's env files, read in order; a missing file is an error
    unless its entry says `required: false`."""
    listed = [env_file] if isinstance(env_file, str) else _list(env_file)
    values: dict[str, str] = {}
    for index, entry in enumerate(listed):
        required = True
        if isinstance(entry, dict):
            required = entry.get("required", True) is not False
            entry = entry.get("path")
        if not isinstance(entry, str):
            continue  # reported by validation
        path = base_dir / entry
        if not path.is_file():
            if required:
                error((*base, "env_file", index) if not isinstance(env_file, str) else (*base, "env_file"),
                      f"env file '{entry}' not found (looked for {path})")
            continue
        read, problems = read_env_file(path, entry, lookup)
        values.update(read)
        errors.extend(problems)
    return values


def _check_networks(error: Callable[[KeyPath, str], None], problem: Callable[[str, str, str], str | None],
                    base: KeyPath, service: dict[str, Any], networks: Mapping[str, Any]) -> None:
    """A service joins declared networks (or `default`), or shares another's network; the
    services it shares namespaces or volumes with exist."""

    def refer(path: KeyPath, target: str, verb: str) -> None:
        found = problem(str(base[1]), target, verb)
        if found:
            error(path, found)

    joined = service.get("networks")
    names = list(joined) if isinstance(joined, (list, dict)) else []
    for index, network in enumerate(names):
        where = (*base, "networks", index if isinstance(joined, list) else network)
        if isinstance(network, str) and network != "default" and network not in networks:
            error(where, f"network '{network}' is not declared under top-level networks:"
                         f"{suggest(network, list(networks))}")
    for key, verb in (("network_mode", "share the network of"), ("ipc", "share the IPC namespace of"),
                      ("pid", "share the PID namespace of")):
        mode = service.get(key)
        if isinstance(mode, str) and mode.startswith("service:"):
            refer((*base, key), mode.removeprefix("service:"), verb)
    for index, entry in enumerate(_list(service.get("volumes_from"))):
        try:
            target = parse_volumes_from(entry)[0] if isinstance(entry, str) else None
        except ValueError:
            continue  # reported by validation
        if target is not None:
            refer((*base, "volumes_from", index), target, "mount the volumes of")
    mode = service.get("network_mode")
    if mode is not None and joined is not None:
        error((*base, "network_mode"), "a service with network_mode joins no networks: remove `networks:` or it")


def _constrained_host(service: dict[str, Any], base: KeyPath) -> tuple[str | None, KeyPath]:
    """The host a `node.hostname == HOST` placement constraint names, and where."""
    deploy = service.get("deploy")
    placement = deploy.get("placement") if isinstance(deploy, dict) else None
    constraints = placement.get("constraints") if isinstance(placement, dict) else None
    for index, constraint in enumerate(_list(constraints)):
        host = constraint_host(constraint) if isinstance(constraint, str) else None
        if host is not None:
            return host, (*base, "deploy", "placement", "constraints", index)
    return None, base


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A top-level mapping, or an empty one when it is something else (validation says so)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


