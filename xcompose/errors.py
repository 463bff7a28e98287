"""Errors as values: every problem carries where it was found, and all of them are
collected before anything is printed (as Compose does for its config)."""

from __future__ import annotations

from dataclasses import dataclass, field


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


class ConfigErrors(Exception):
    """Raised once, carrying every error found in the input (exit code 2)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = sorted(set(errors), key=lambda e: (e.file, e.line or 0, e.path, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class HostError(Exception):
    """A host could not be reached or refused an operation (exit code 1)."""

    host: str
    url: str
    message: str
    hint: str = field(default="")

    def __str__(self) -> str:
        text = f"host {self.host} ({self.url}): {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class UsageError(Exception):
    """Bad command-line use that is not a topology error (exit code 2)."""
