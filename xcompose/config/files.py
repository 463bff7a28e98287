"""Where a file's relative paths start and which variables it sees.

The `-f` files share the project folder (the first file's) and the project's variables.
A file brought in by `include` has its own project folder and `.env`; a file a service
`extends` has its own folder. Services that come from such a file have their relative
paths (env files, bind mounts) made absolute when they join the project, so that they
keep pointing where their file meant.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xcompose.config.source import LMap, LSeq


@dataclass(frozen=True)
class Context:
    """The folder a file's relative paths start from, and the variables for its `${VAR}`."""

    base_dir: Path
    lookup: Mapping[str, str]


def display_path(path: Path) -> str:
    """How errors name a file that was not given on the command line: relative to the
    current folder when it is below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _absolute(base_dir: Path, path: str) -> str:
    if path.startswith(("/", "~")) or not path:
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def rebase_service(service: Any, base_dir: Path) -> None:
    """Make a service's relative env file and bind mount paths absolute, from `base_dir`."""
    if not isinstance(service, LMap):
        return
    env_file = service.get("env_file")
    if isinstance(env_file, str):
        service["env_file"] = _absolute(base_dir, env_file)
    elif isinstance(env_file, LSeq):
        for index, entry in enumerate(env_file):
            if isinstance(entry, str):
                env_file[index] = _absolute(base_dir, entry)
            elif isinstance(entry, dict) and isinstance(entry.get("path"), str):
                entry["path"] = _absolute(base_dir, entry["path"])
    volumes = service.get("volumes")
    if isinstance(volumes, LSeq):
        for index, entry in enumerate(volumes):
            if isinstance(entry, str):
                source, sep, rest = entry.partition(":")
                # Only a path that starts with `.` is a relative bind mount; a bare word
                # names a volume.
                if sep and source.startswith("."):
                    volumes[index] = f"{_absolute(base_dir, source)}:{rest}"
            elif isinstance(entry, dict) and entry.get("type") == "bind" and isinstance(entry.get("source"), str):
                entry["source"] = _absolute(base_dir, entry["source"])


def rebase_services(tree: LMap, base_dir: Path) -> None:
    services = tree.get("services")
    if isinstance(services, dict):
        for service in services.values():
            rebase_service(service, base_dir)
