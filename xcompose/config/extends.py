"""`extends`: a service built on another one, as Compose does it.

`extends: NAME` or `extends: {service: NAME}` takes a service of the same file;
`extends: {file: PATH, service: NAME}` one of another file, PATH relative to the folder the
extending file's paths start from. The other service is resolved first (chains), then the
extending service is merged over a copy of it by the rules of `-f` files (merge.py): every
key is inherited, `depends_on` and `links` included, as Compose v2 does; the names they
refer to must exist in the project. The service extended from another file is not added
to the project. Relative paths of a service from another folder are made absolute there.

Runs on one file's tree, after its `include` and before the `-f` files are merged, as in
Compose, so that an override file can still change an extending service.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xcompose.config import compose_keys
from xcompose.config.files import Context, rebase_service
from xcompose.config.location import KeyPath, format_key_path
from xcompose.config.merge import merge_service
from xcompose.config.references import suggest
from xcompose.config.source import LMap, clone, kind_of, locate_in_tree
from xcompose.errors import ConfigError

# Reads another file for `extends` (interpolated with the context's variables): its tree
# and the name errors give it, or None when it cannot be read (the reader says why).
Reader = Callable[[Path, Context], "tuple[LMap, str] | None"]

_Key = tuple[str, str]  # (file, service)


def resolve_extends(
    tree: LMap, file: str, context: Context, read: Reader, errors: list[ConfigError], unresolved: set[str]
) -> None:
    """Replace every service of `tree` that `extends` another by the merged result; the
    services whose `extends` failed (and so may lack what it would have given) go into
    `unresolved`, by name."""
    services = tree.get("services")
    if isinstance(services, LMap):
        _Extends(read, errors, unresolved).file(services, file, context)


class _Extends:
    def __init__(self, read: Reader, errors: list[ConfigError], unresolved: set[str]) -> None:
        self.read = read
        self.errors = errors
        self.unresolved = unresolved
        self.root = LMap()
        self.failed: set[_Key] = set()  # services whose `extends` failed, here or further down

    def file(self, services: LMap, file: str, context: Context) -> None:
        self.root = services
        for name in list(services):
            self.service(services, name, file, context, ())

    def give_up(self, services: LMap, file: str, name: str) -> None:
        self.failed.add((file, name))
        if services is self.root:
            self.unresolved.add(name)

    def error(self, services: LMap, file: str, path: KeyPath, message: str) -> None:
        """An error at `path` (services.NAME.…), located in `services`."""
        loc = locate_in_tree(services, path[1:])
        self.errors.append(
            ConfigError(loc[0] if loc else file, loc[1] if loc else None, format_key_path(path), message)
        )

    def service(self, services: LMap, name: str, file: str, context: Context, chain: tuple[_Key, ...]) -> Any:
        """The service `name` of `services` with its `extends` resolved (in place)."""
        service = services.get(name)
        if not isinstance(service, LMap) or "extends" not in service:
            return service
        path: KeyPath = ("services", name, "extends")

        def fail(where: KeyPath, message: str | None = None) -> Any:
            if message is not None:
                self.error(services, file, where, message)
            self.give_up(services, file, name)
            service.pop("extends", None)
            return service

        if (file, name) in chain:
            loop = [*(_shown(key, file) for key in chain[chain.index((file, name)):]), name]
            return fail(path, f"extends loop: {' -> '.join(loop)}")
        target = self.target(service["extends"], services, file, path)
        if target is None:
            return fail(path)
        ref, ref_file = target
        base_services, base_file, base_context = services, file, context
        if ref_file is not None:
            full = (context.base_dir / ref_file).resolve()
            if not full.is_file():
                return fail((*path, "file"), f"no such file (looked for {full})")
            loaded = self.read(full, context)
            if loaded is None:
                return fail(path)
            other, base_file = loaded
            found = other.get("services")
            base_services = found if isinstance(found, LMap) else LMap()
            base_context = Context(full.parent, context.lookup)
        if ref not in base_services:
            where = (*path, "service") if isinstance(service["extends"], dict) else path
            within = "" if ref_file is None else f" in {base_file}"
            return fail(where, f"no service '{ref}' to extend{within}{suggest(ref, list(base_services))}")
        base = self.service(base_services, ref, base_file, base_context, (*chain, (file, name)))
        if (base_file, ref) in self.failed:
            self.give_up(services, file, name)
        if not isinstance(base, LMap):
            if base is not None:
                return fail(path, f"service '{ref}' is {kind_of(base)}, not a mapping")
            base = LMap()
        copy = clone(base)
        copy.pop("extends", None)
        if base_context.base_dir != context.base_dir:
            rebase_service(copy, base_context.base_dir)
        own = clone(service)
        own.pop("extends", None)
        own.locs.pop("extends", None)
        merged, problems = merge_service(copy, own, ("services", name))
        self.errors.extend(problems)
        services.put(name, merged, services.locs[name])
        return merged

    def target(self, value: Any, services: LMap, file: str, path: KeyPath) -> tuple[str, str | None] | None:
        """(service, file or None) of an `extends` value, or None after reporting it."""
        if isinstance(value, str) and value:
            return value, None
        if not isinstance(value, dict):
            self.error(services, file, path, f"must be a service name or a mapping with service: (and file:), "
                                         f"not {kind_of(value)}")
            return None
        problems = False
        for key in value:
            if key not in compose_keys.EXTENDS and not key.startswith("x-"):
                hint = suggest(key, sorted(compose_keys.EXTENDS))
                self.error(services, file, (*path, key), f"unknown key '{key}'{hint}")
                problems = True
        ref, ref_file = value.get("service"), value.get("file")
        if not isinstance(ref, str) or not ref:
            self.error(services, file, (*path, "service") if "service" in value else path,
                       "missing required key 'service'" if "service" not in value
                       else f"must be a service name, not {kind_of(ref)}")
            return None
        if ref_file is not None and not isinstance(ref_file, str):
            self.error(services, file, (*path, "file"), f"must be a path, not {kind_of(ref_file)}")
            return None
        return None if problems else (ref, ref_file)


def _shown(key: _Key, file: str) -> str:
    """A service of an extends chain, with its file when that is not where the loop is told."""
    where, name = key
    return name if where == file else f"{name} ({where})"
