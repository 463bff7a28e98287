"""Which files make the project, where its folder is, and which variables it reads, as
Compose finds them: `-f` files (`-` for standard input), else `XCOMPOSE_FILE` or
`COMPOSE_FILE` (from the environment or the folder's `.env`), else `compose.yaml` and its
kin in the working folder or the nearest folder above it, with the override file beside it;
xcompose's placement file (`xcompose.yaml`) beside them is merged last.

The variables are the environment over the `.env` of the project folder (or the
`--env-file` files, in order, instead); `XCOMPOSE_*` wins over `COMPOSE_*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xcompose.config.interpolate import read_env_file
from xcompose.errors import ConfigError, ConfigErrors

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = ("compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml",
                  "docker-compose.override.yml")
PLACEMENT_FILES = ("xcompose.yaml", "xcompose.yml")
STDIN = "-"


@dataclass(frozen=True)
class SourceFile:
    """One file of the project: where it is (for `-`, the project folder's `-`), how
    messages name it, and its bytes when they do not come from the path (standard input)."""

    path: Path
    display: str
    content: bytes | None = None


@dataclass(frozen=True)
class Sources:
    files: tuple[SourceFile, ...]
    folder: Path  # relative paths of the files (bind mounts, env_file, build contexts) start here
    variables: dict[str, str]  # what `${VAR}` reads: the environment over the env files
    env_file: Path | None  # the `.env` read when no --env-file is given (for its display)


def setting(variables: Mapping[str, str], name: str) -> str | None:
    """`XCOMPOSE_NAME`, else Compose's `COMPOSE_NAME`; empty counts as unset."""
    return variables.get(f"XCOMPOSE_{name}") or variables.get(f"COMPOSE_{name}") or None


def find_sources(
    files: Sequence[str | Path],
    environ: Mapping[str, str],
    *,
    project_directory: str | Path | None = None,
    env_files: Sequence[str | Path] = (),
    stdin: bytes | None = None,
    cwd: Path | None = None,
) -> Sources:
    """The files, folder and variables of the project, or ConfigErrors saying what is
    missing. `stdin` holds what `-f -` reads."""
    here = cwd or Path.cwd()
    given = [str(f) for f in files]
    # The folder whose `.env` can name the files: --project-directory, else the first -f
    # file's, else the working folder (Compose reads COMPOSE_FILE from there too).
    early = _absolute(project_directory, here) if project_directory else (
        _absolute(given[0], here).parent if given and given[0] != STDIN else here)
    variables, dotenv = _variables(environ, env_files, early, here)
    if not given:
        named = setting(variables, "FILE")
        if named:
            separator = setting(variables, "PATH_SEPARATOR") or os.pathsep
            given = [part for part in named.split(separator) if part]
    if given:
        sources = [_given(name, here, stdin) for name in given]
        folder = _absolute(project_directory, here) if project_directory else (
            sources[0].path.parent if given[0] != STDIN else here)
    else:
        found = _discovered(here)
        folder = _absolute(project_directory, here) if project_directory else found[0].path.parent
        sources = found
    if folder != early:  # the project folder is known only now: its `.env` is the one read
        variables, dotenv = _variables(environ, env_files, folder, here)
    return Sources(tuple(sources), folder, variables, dotenv)


def _absolute(path: str | Path, here: Path) -> Path:
    given = Path(os.path.expanduser(str(path)))
    return (given if given.is_absolute() else here / given).resolve()


def _variables(
    environ: Mapping[str, str], env_files: Sequence[str | Path], folder: Path, here: Path
) -> tuple[dict[str, str], Path | None]:
    """The environment over the env files: --env-file ones in order (each may use the
    ones before), else the folder's `.env` if there is one."""
    chosen = [(_absolute(f, here), str(f)) for f in env_files]
    default = folder / ".env"
    if not chosen and default.is_file():
        chosen = [(default, _shown(default, here))]
    values: dict[str, str] = {}
    errors: list[ConfigError] = []
    for path, display in chosen:
        read, problems = read_env_file(path, display, {**values, **environ})
        values.update(read)
        errors += problems
    if errors:
        raise ConfigErrors(errors)
    return {**values, **environ}, (chosen[0][0] if chosen else None)


def _shown(path: Path, here: Path) -> str:
    try:
        return str(path.relative_to(here))
    except ValueError:
        return str(path)


def _given(name: str, here: Path, stdin: bytes | None) -> SourceFile:
    if name == STDIN:
        return SourceFile(here / STDIN, "stdin", stdin if stdin is not None else b"")
    return SourceFile(_absolute(name, here), name)


def _discovered(here: Path) -> list[SourceFile]:
    """compose.yaml (or its kin) in the working folder or the nearest above, the override
    file beside it, then the placement file; or the placement file alone."""
    for folder in (here, *here.parents):
        compose = _first(folder, COMPOSE_FILES)
        placement = _first(folder, PLACEMENT_FILES)
        if compose is None and placement is None:
            continue
        chosen = [p for p in (compose, _first(folder, OVERRIDE_FILES) if compose else None, placement) if p]
        return [SourceFile(p, _shown(p, here)) for p in chosen]
    names = ", ".join((*COMPOSE_FILES, *PLACEMENT_FILES))
    raise ConfigErrors([ConfigError(str(here), None, "", f"no {names} here or in a folder above (use -f FILE)")])


def _first(folder: Path, names: Sequence[str]) -> Path | None:
    return next((folder / name for name in names if (folder / name).is_file()), None)
