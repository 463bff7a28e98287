"""Top-level `include`: other compose applications brought into this one, as Compose does it.

Each entry is a path, or a mapping with `path` (one file, or several merged as `-f` files
are), `project_directory` and `env_file`. Relative paths start from the including file's
folder. Each included application is loaded on its own: its relative paths start from its
project directory (by default its first file's folder), and its `${VAR}` see its `.env`
(or `env_file`) overlaid by the including project's variables. Its services, volumes,
networks (and hosts) are then copied into the including file; a name the including file
already defines, differently, is an error, as Compose does not merge the two.

Runs on one file's tree before its `extends` and before the `-f` files are merged, as in
Compose, so that an override file (placement, say) still changes an included service.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xcompose.config import compose_keys
from xcompose.config.files import Context, display_path, rebase_services
from xcompose.config.interpolate import read_env_file
from xcompose.config.location import KeyPath, Loc, format_key_path
from xcompose.config.merge import merge_documents
from xcompose.config.references import suggest
from xcompose.config.source import LMap, LSeq, kind_of, to_plain
from xcompose.errors import ConfigError

# Reads, interpolates and assembles (include, extends) one file of an included
# application: its tree and its name for errors, or None when it cannot be read.
Assemble = Callable[[Path, Context, tuple[Path, ...]], "tuple[LMap, str] | None"]

IMPORTED = ("services", "volumes", "networks", "secrets", "configs", "models", "hosts")
# Top-level keys of an included file that are read for it alone, or already handled.
_OWN = frozenset({"name", "version", "include"})


def apply_include(
    tree: LMap, file: str, context: Context, chain: tuple[Path, ...], assemble: Assemble,
    errors: list[ConfigError],
) -> None:
    """Copy into `tree` what its `include:` entries define, and drop the key."""
    if "include" not in tree:
        return
    entries, loc = tree.pop("include"), tree.locs.pop("include")
    if entries is None:
        return
    if not isinstance(entries, list):
        errors.append(ConfigError(loc[0], loc[1], "include", f"must be a list, not {kind_of(entries)}"))
        return
    locs: list[Loc] = getattr(entries, "locs", [])
    for index, entry in enumerate(entries):
        where = locs[index] if index < len(locs) else loc
        _Entry(tree, context, chain, assemble, errors, ("include", index), where).load(entry)


class _Entry:
    """One `include:` entry, loaded and copied into the including tree."""

    def __init__(
        self, tree: LMap, context: Context, chain: tuple[Path, ...], assemble: Assemble,
        errors: list[ConfigError], path: KeyPath, loc: Loc,
    ) -> None:
        self.tree, self.context, self.chain, self.assemble = tree, context, chain, assemble
        self.errors, self.path, self.loc = errors, path, loc
        self.entry: Any = None

    def error(self, message: str, key: str | None = None) -> None:
        loc = self.loc
        if key is not None and isinstance(self.entry, LMap):
            loc = self.entry.locs.get(key, loc)
        path = self.path if key is None else (*self.path, key)
        self.errors.append(ConfigError(loc[0], loc[1], format_key_path(path), message))

    def load(self, entry: Any) -> None:
        self.entry = entry
        settings = self.settings(entry)
        if settings is None:
            return
        paths, project_dir, env_files = settings
        for path in paths:
            if path in self.chain:
                loop = " -> ".join(display_path(p) for p in (*self.chain[self.chain.index(path):], path))
                self.error(f"include loop: {loop}", "path" if isinstance(entry, dict) else None)
                return
            if not path.is_file():
                self.error(f"no such file (looked for {path})", "path" if isinstance(entry, dict) else None)
                return
        variables: dict[str, str] = {}
        for env_file in env_files:
            values, problems = read_env_file(env_file, display_path(env_file), self.context.lookup)
            variables.update(values)
            self.errors.extend(problems)
        # The including project's variables win over the included application's own.
        context = Context(project_dir, {**variables, **self.context.lookup})
        trees: list[LMap] = []
        for path in paths:
            loaded = self.assemble(path, context, (*self.chain, path))
            if loaded is None:
                return
            trees.append(loaded[0])
        merged, problems = merge_documents(trees)
        self.errors.extend(problems)
        if project_dir != self.context.base_dir:
            rebase_services(merged, project_dir)
        self.copy_in(merged)

    def settings(self, entry: Any) -> tuple[list[Path], Path, list[Path]] | None:
        """(files, project directory, env files) of the entry, or None after reporting it."""
        base = self.context.base_dir
        if isinstance(entry, str) and entry:
            first = (base / entry).resolve()
            default_env = first.parent / ".env"
            return [first], first.parent, [default_env] if default_env.is_file() else []
        if not isinstance(entry, dict):
            self.error(f"must be a path or a mapping with path:, not {kind_of(entry)}")
            return None
        for key in entry:
            if key not in compose_keys.INCLUDE and not key.startswith("x-"):
                self.error(f"unknown key '{key}'{suggest(key, sorted(compose_keys.INCLUDE))}", key)
                return None
        paths = _strings(entry.get("path"))
        if not paths:
            if "path" in entry:
                self.error("must be a path or a list of paths", "path")
            else:
                self.error("missing required key 'path'")
            return None
        files = [(base / p).resolve() for p in paths]
        project_dir = files[0].parent
        if entry.get("project_directory") is not None:
            if not isinstance(entry["project_directory"], str):
                self.error(f"must be a path, not {kind_of(entry['project_directory'])}", "project_directory")
                return None
            project_dir = (base / entry["project_directory"]).resolve()
        env_files: list[Path] = []
        if entry.get("env_file") is not None:
            listed = _strings(entry["env_file"])
            if listed is None:
                self.error("must be a path or a list of paths", "env_file")
                return None
            for name in listed:
                env_file = (base / name).resolve()
                if not env_file.is_file():
                    self.error(f"env file '{name}' not found (looked for {env_file})", "env_file")
                    return None
                env_files.append(env_file)
        elif (project_dir / ".env").is_file():
            env_files.append(project_dir / ".env")
        return files, project_dir, env_files

    def copy_in(self, included: LMap) -> None:
        """Copy the included definitions into the tree; refuse names defined twice."""
        for key, value in included.items():
            if key in IMPORTED:
                if isinstance(value, dict):
                    self.copy_table(key, value, included.locs[key])
            elif key not in _OWN and not key.startswith("x-"):
                file, line = included.locs[key]
                self.errors.append(ConfigError(
                    file, line, key, f"'{key}' of an included file is not used; set it in the including file"
                    if key == "ambassador" else f"unknown key '{key}'{_top_level_hint(key)}"
                ))

    def copy_table(self, key: str, table: dict[str, Any], loc: Loc) -> None:
        own = self.tree.get(key)
        if not isinstance(own, LMap):
            if own is not None:
                return  # the including file's own value is wrong; validation says so
            own = LMap()
            self.tree.put(key, own, loc)
        table_locs: dict[str, Loc] = getattr(table, "locs", {})
        for name, value in table.items():
            where = table_locs.get(name, loc)
            if name not in own:
                own.put(name, value, where)
                continue
            if to_plain(own[name])[0] == to_plain(value)[0]:
                continue  # the same definition twice, as Compose allows
            first = own.locs.get(name, loc)
            kind = key[:-1] if key.endswith("s") else key
            self.errors.append(ConfigError(
                first[0], first[1], f"{key}.{name}",
                f"{kind} '{name}' is also defined by an included file ({where[0]}:{where[1]}); "
                "Compose does not merge them: rename or remove one",
            ))


def _strings(value: Any) -> list[str] | None:
    """A string or a list of strings, as a list; None for anything else."""
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, (list, LSeq)) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    return None


def _top_level_hint(key: str) -> str:
    return suggest(key, sorted(compose_keys.TOP_LEVEL | {"hosts"}))
