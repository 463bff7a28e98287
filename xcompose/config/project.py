"""A loaded project: the validated topology plus where each of its keys came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xcompose.config.location import KeyPath, Loc, format_key_path
from xcompose.config.model import Topology
from xcompose.errors import ConfigError

# The host a file without `hosts:` runs on: DOCKER_HOST or the local socket.
IMPLICIT_HOST = "local"


@dataclass
class Project:
    name: str
    topology: Topology
    files: list[Path] = field(default_factory=list)
    # Key path -> (file, line) of the node that set it last (after merging).
    locations: dict[KeyPath, Loc] = field(default_factory=dict)
    # Non-fatal findings of the load (e.g. an unset variable), already located.
    warnings: list[str] = field(default_factory=list)
    # ("secrets" | "configs", name) -> the content the declaration holds, read at load time.
    # Never printed: not in the model (which `config` prints), not in this repr.
    contents: dict[tuple[str, str], bytes] = field(default_factory=dict, repr=False)
    # The project folder (--project-directory, else the first file's): relative paths start here.
    folder: Path | None = None
    # Every profile the services name, active or not (`config --profiles`).
    profiles: list[str] = field(default_factory=list)

    @property
    def working_dir(self) -> Path:
        if self.folder is not None:
            return self.folder
        return self.files[0].parent if self.files else Path.cwd()

    def locate(self, path: KeyPath) -> tuple[str, int | None]:
        """The file and line of `path`, or of its nearest located parent."""
        probe = tuple(path)
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            probe = probe[:-1]
        return (str(self.files[0]) if self.files else "<topology>", None)

    def error(self, path: KeyPath, message: str) -> ConfigError:
        file, line = self.locate(path)
        return ConfigError(file=file, line=line, path=format_key_path(path), message=message)

    def host_names(self) -> list[str]:
        return list(self.topology.hosts) or [IMPLICIT_HOST]

    def host_of(self, service: str) -> str:
        """The host a service is pinned to, by `host:` or else by a `node.hostname == HOST`
        placement constraint (the only host when there is one)."""
        found = self.topology.services[service]
        declared = found.host if found.host is not None else found.placement_host()
        if declared is not None:
            return declared
        return self.host_names()[0]
