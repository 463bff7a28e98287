"""Errors as values: every problem says where it was found and how the command ends.

Every failure xcompose expects is an `XcomposeError` carrying its exit code (2: the input or
the command line is wrong; 1: a host, an engine, a step or the lock failed). The command
line prints `lines()` once and exits with `exit_code`; anything else is a bug of ours.
Topology problems are collected before anything is printed, as Compose does for its config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, order=True)
class ConfigError:
    """One problem in a topology file: `FILE:LINE: key.path: message`."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


class XcomposeError(Exception):
    """A failure the user can act on; never shown with a traceback."""

    exit_code: ClassVar[int] = 1

    def lines(self) -> list[str]:
        return [f"error: {self}"]


class ConfigErrors(XcomposeError):
    """Every error found in the input, raised once."""

    exit_code = 2

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = sorted(set(errors), key=lambda e: (e.file, e.line or 0, e.path, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))

    def lines(self) -> list[str]:
        return [str(e) for e in self.errors]


class UsageError(XcomposeError):
    """Bad command-line use that is not a topology error."""

    exit_code = 2


class HostError(XcomposeError):
    """A host could not be reached, or stopped answering."""

    def __init__(self, host: str, url: str, message: str, hint: str = "") -> None:
        self.host, self.url, self.message, self.hint = host, url, message, hint
        super().__init__(host, url, message, hint)

    def __str__(self) -> str:
        text = f"host {self.host} ({self.url}): {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class DockerError(XcomposeError):
    """An operation the engine refused; `message` is Docker's own words. `where` names the
    host and what was being done once the caller knows them (`at`)."""

    def __init__(self, message: str, where: str = "") -> None:
        self.message, self.where = message, where
        super().__init__(message, where)

    def at(self, where: str) -> DockerError:
        return self if self.where else DockerError(self.message, where)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class StepFailed(XcomposeError):
    """A step could not be carried out; the message names the step and the host."""


class LockTimeout(XcomposeError):
    """Another run held the project's lock for longer than we were willing to wait."""
