"""The models of a service's structured keys: `healthcheck`, the entries of `depends_on`,
`env_file` and `networks`, and the secrets and configs it is given."""

from __future__ import annotations

import posixpath
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from xcompose.config.strict import Strict
from xcompose.config.syntax import grant_entry, parse_duration, parse_mode, parse_owner

# Where a secret lands when its target is a bare name (configs land in `/`), as in Compose.
SECRETS_DIR = "/run/secrets"
DEFAULT_FILE_MODE = 0o444


class Healthcheck(Strict):
    test: list[str] | str | None = None
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = Field(default=3, ge=0)
    start_period: float = 0.0
    disable: bool = False

    @field_validator("interval", "timeout", "start_period", mode="before", json_schema_input_type=str | float)
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    def command(self) -> tuple[str, ...] | None:
        """The Docker form of `test` (`["CMD", …]`, `["CMD-SHELL", "…"]`), or None."""
        if self.disable or self.test is None:
            return None
        if isinstance(self.test, str):
            return ("CMD-SHELL", self.test)
        return tuple(self.test)


class DependsOn(Strict):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = (
        "service_started"
    )
    required: bool = Field(
        default=True,
        description="false: the dependency may be left out (e.g. by a profile) and need not start.",
    )
    restart: bool = Field(default=False, description="Restart this service when the dependency is updated.")


class EnvFileEntry(Strict):
    """One `env_file:` entry; the short form is the path alone."""

    path: str
    required: bool = Field(default=True, description="false: a missing file is skipped.")


def env_file_entry(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


class ServiceNetwork(Strict):
    """A service's settings on one of its networks (`networks: {NAME: {...}}`)."""

    aliases: list[str] = Field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None


FileMode = Annotated[int, BeforeValidator(parse_mode, json_schema_input_type=int | str)]
OwnerId = Annotated[int, BeforeValidator(parse_owner, json_schema_input_type=int | str)]


class Grant(Strict):
    """A secret or config a service is given (`secrets:`/`configs:` of a service): the file
    `source` holds, at `target`, owned by uid:gid, with `mode`."""

    source: str = Field(description="The name of a top-level secret (or config).")
    target: str | None = Field(
        default=None,
        description="File name in /run/secrets (secrets) or in / (configs), or an absolute path. "
        "Default: the source's name.",
    )
    uid: OwnerId | None = Field(default=None, description="Numeric owner of the file (default 0).")
    gid: OwnerId | None = Field(default=None, description="Numeric group of the file (default 0).")
    mode: FileMode | None = Field(default=None, description="Permissions, octal (default 0444; write bits ignored).")

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = value.split("/")
        if not value.strip("/") or "\0" in value or value.endswith("/"):
            raise ValueError(f"'{value}' is not a file path (give a file name or an absolute path to a file)")
        if ".." in parts:
            raise ValueError(f"'{value}': '..' is not allowed in a target path")
        return value

    def path(self, folder: str) -> str:
        """Where the file lands in the container: `target` when absolute, else
        FOLDER/target (FOLDER/source without a target)."""
        name = self.target or self.source
        return posixpath.normpath(name if name.startswith("/") else posixpath.join(folder, name))

    def file_mode(self) -> int:
        """The mode the file gets: as declared (0444 by default), without write bits, which
        Compose ignores: the file is read-only, as a mounted secret is."""
        return (DEFAULT_FILE_MODE if self.mode is None else self.mode) & ~0o222


GrantEntry = Annotated[Grant, BeforeValidator(grant_entry, json_schema_input_type=str | Grant)]
