"""Merging several `-f` files, as Compose merges them.

Mappings merge key by key and scalars from the later file win. Inside a service, a few
keys follow Compose's own rules: list keys that accumulate (`ports`, `links`, …) are
concatenated without duplicates, `environment`/`labels` merge by variable name whatever
form each file used, `command`/`entrypoint` are replaced whole, and `volumes`, `secrets` and
`configs` are merged by their target path, and `build: PATH` merges with a long-form
`build:` as its `context`. A later file may tag a value `!reset` (the key is
removed) or `!override` (the value replaces the earlier one whole), as Compose defines them.

A value keeps the location of the file that set it last; a mapping or list that both files
contribute to keeps the location where it was first defined, so that an error about a
service points at its definition, not at an override that only adds `host:` to it.
The same rules merge a service over the one it `extends`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xcompose.config.location import KeyPath, Loc, format_key_path
from xcompose.config.mounts import volume_target
from xcompose.config.source import LMap, LSeq, kind_of
from xcompose.config.syntax import grant_target, split_key_value
from xcompose.errors import ConfigError

_CONCATENATED = frozenset({"ports", "expose", "links", "cap_add", "cap_drop", "env_file", "dns", "dns_search",
                           "dns_opt", "tmpfs", "security_opt", "devices", "volumes_from", "group_add",
                           "extra_hosts"})
_ONE_OR_MANY = frozenset({"env_file", "cap_add", "cap_drop", "dns", "dns_search", "tmpfs"})
_BY_NAME = frozenset({"environment", "labels", "sysctls"})
_REPLACED = frozenset({"command", "entrypoint"})
_BUILD_BY_NAME = frozenset({"args", "labels"})
_BUILD_CONCATENATED = frozenset({"cache_from", "tags", "extra_hosts"})


def merge_documents(docs: Sequence[LMap]) -> tuple[LMap, list[ConfigError]]:
    """Fold the files left to right; conflicts are reported and the later file wins."""
    errors: list[ConfigError] = []
    merged = docs[0]
    for doc in docs[1:]:
        merged = _Merger(errors).mapping(merged, doc, ())
    return merged, errors


def _where(loc: Loc | None) -> str:
    if loc is None:
        return "?"
    return f"{loc[0]}:{loc[1]}"


class _Merger:
    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors

    def conflict(self, path: KeyPath, base: Any, over: Any, base_loc: Loc | None, over_loc: Loc | None) -> None:
        file, line = over_loc if over_loc is not None else ("<merged>", None)
        message = (
            f"cannot merge {kind_of(over)} ({_where(over_loc)}) into {kind_of(base)} "
            f"({_where(base_loc)}); use the same form in both files"
        )
        self.errors.append(ConfigError(file, line, format_key_path(path), message))

    def mapping(self, base: dict[str, Any], over: dict[str, Any], path: KeyPath) -> LMap:
        result = _start(base, over)
        over_locs: dict[str, Loc] = getattr(over, "locs", {})
        overrides: set[str] = getattr(over, "overrides", set())
        for key, value in over.items():
            loc = over_locs.get(key) or result.locs.get(key)
            if key in result and key not in overrides:
                old, old_loc = result[key], result.locs.get(key)
                merged = self.value(old, value, (*path, key), old_loc, loc)
                loc, value = _kept(old, value, merged, old_loc, loc), merged
            if loc is None:
                result[key] = value
            else:
                result.put(key, value, loc)
        return result

    def value(self, base: Any, over: Any, path: KeyPath, base_loc: Loc | None, over_loc: Loc | None) -> Any:
        if len(path) == 2 and path[0] == "services" and isinstance(base, dict) and isinstance(over, dict):
            return self.service(base, over, path)
        if isinstance(base, dict) and isinstance(over, dict):
            return self.mapping(base, over, path)
        # An empty entry (`pgdata:`) adds nothing to what the other file declared.
        if over is None and isinstance(base, (dict, list)):
            return base
        if base is not None and isinstance(base, dict) != isinstance(over, dict):
            self.conflict(path, base, over, base_loc, over_loc)
        return over

    def service(self, base: dict[str, Any], over: dict[str, Any], path: KeyPath) -> LMap:
        result = _start(base, over)
        over_locs: dict[str, Loc] = getattr(over, "locs", {})
        overrides: set[str] = getattr(over, "overrides", set())
        for key, value in over.items():
            loc = over_locs.get(key) or result.locs.get(key) or ("<merged>", 0)
            if key not in result or key in _REPLACED or key in overrides:
                result.put(key, value, loc)
                continue
            old, old_loc, child = result[key], result.locs.get(key), (*path, key)
            merged: Any
            if key in _CONCATENATED:
                merged = self.listish(old, value, child, old_loc, loc, key in _ONE_OR_MANY, _same)
            elif key in _BY_NAME:
                merged = self.by_name(old, value, child, old_loc, loc)
            elif key == "depends_on":
                merged = self.depends_on(old, value, child, old_loc, loc)
            elif key == "volumes":
                merged = self.listish(old, value, child, old_loc, loc, False, _same_target)
            elif key in ("secrets", "configs"):
                merged = self.listish(old, value, child, old_loc, loc, False, _same_grant_target)
            elif key == "build":
                merged = self.build(old, value, child, old_loc, loc)
            else:
                merged = self.value(old, value, child, old_loc, loc)
            result.put(key, merged, _kept(old, value, merged, old_loc, loc) or loc)
        return result

    def listish(
        self, base: Any, over: Any, path: KeyPath, base_loc: Loc | None, over_loc: Loc,
        one_or_many: bool, same: Callable[[Any, Any], bool],
    ) -> Any:
        if one_or_many:
            base, over = _listed(base, base_loc), _listed(over, over_loc)
        if over is None:
            return base
        if not (isinstance(base, list) and isinstance(over, list)):
            return self.value(base, over, path, base_loc, over_loc)
        return _union(base, over, same)

    def by_name(self, base: Any, over: Any, path: KeyPath, base_loc: Loc | None, over_loc: Loc) -> Any:
        if over is None:
            return base
        as_map_base, as_map_over = _as_map(base), _as_map(over)
        if as_map_base is None or as_map_over is None:
            return self.value(base, over, path, base_loc, over_loc)
        return self.mapping(as_map_base, as_map_over, path)

    def build(self, base: Any, over: Any, path: KeyPath, base_loc: Loc | None, over_loc: Loc) -> Any:
        """`build: PATH` stands for `build: {context: PATH}`, so either form merges with the
        other; inside, `args` and `labels` merge by name and lists accumulate."""
        base, over = _build_map(base, base_loc), _build_map(over, over_loc)
        if not (isinstance(base, dict) and isinstance(over, dict)):
            return self.value(base, over, path, base_loc, over_loc)
        result = _copy_map(base)
        over_locs: dict[str, Loc] = getattr(over, "locs", {})
        for key, value in over.items():
            loc = over_locs.get(key) or result.locs.get(key) or over_loc
            if key in result:
                old, old_loc, child = result[key], result.locs.get(key), (*path, key)
                if key in _BUILD_BY_NAME:
                    value = self.by_name(old, value, child, old_loc, loc)
                elif key in _BUILD_CONCATENATED:
                    value = self.listish(old, value, child, old_loc, loc, False, _same)
                else:
                    value = self.value(old, value, child, old_loc, loc)
            result.put(key, value, loc)
        return result

    def depends_on(self, base: Any, over: Any, path: KeyPath, base_loc: Loc | None, over_loc: Loc) -> Any:
        if isinstance(base, list) and isinstance(over, list):
            return _union(base, over, _same)
        if isinstance(base, (list, dict)) and isinstance(over, (list, dict)):
            return self.mapping(_depends_map(base), _depends_map(over), path)
        return self.value(base, over, path, base_loc, over_loc)


def merge_service(base: LMap, over: LMap, path: KeyPath) -> tuple[LMap, list[ConfigError]]:
    """One service merged over another (what `extends` does), by the rules of `-f` files."""
    errors: list[ConfigError] = []
    return _Merger(errors).service(base, over, path), errors


def _start(base: dict[str, Any], over: dict[str, Any]) -> LMap:
    """The base mapping to merge `over` into, less the keys `over` resets."""
    result = _copy_map(base)
    for key in getattr(over, "resets", {}):
        result.pop(key, None)
        result.locs.pop(key, None)
    return result


def _kept(old: Any, over: Any, merged: Any, old_loc: Loc | None, new_loc: Loc | None) -> Loc | None:
    """Where a merged value is located: where it was first defined when the later file only
    added to it (a mapping merged key by key, a list extended), else where it was set last."""
    same_kind = (isinstance(old, dict) and isinstance(merged, dict)) or (
        isinstance(old, list) and isinstance(merged, list)
    )
    # An empty entry (`db:`) declares the name: its place stays the declaration.
    declared = old is None and isinstance(merged, dict)
    added_to = merged is old or declared or (same_kind and merged is not over)
    return (old_loc or new_loc) if added_to else new_loc


def _copy_map(source: dict[str, Any]) -> LMap:
    result = LMap()
    locs: dict[str, Loc] = getattr(source, "locs", {})
    for key, value in source.items():
        result[key] = value
        if key in locs:
            result.locs[key] = locs[key]
    return result


def _items(seq: list[Any]) -> list[tuple[Any, Loc | None]]:
    locs: list[Loc] = getattr(seq, "locs", [])
    return [(item, locs[i] if i < len(locs) else None) for i, item in enumerate(seq)]


def _seq(items: list[tuple[Any, Loc | None]]) -> LSeq:
    result = LSeq()
    for value, loc in items:
        result.add(value, loc or ("<merged>", 0))
    return result


def _listed(value: Any, loc: Loc | None) -> Any:
    if isinstance(value, str):
        return _seq([(value, loc)])
    return value


def _build_map(value: Any, loc: Loc | None) -> Any:
    if isinstance(value, str):
        result = LMap()
        result.put("context", value, loc or ("<merged>", 0))
        return result
    return value


def _same(a: Any, b: Any) -> bool:
    return bool(a == b)


def _same_target(a: Any, b: Any) -> bool:
    return bool(volume_target(a) == volume_target(b))


def _same_grant_target(a: Any, b: Any) -> bool:
    return bool(grant_target(a) == grant_target(b))


def _union(base: list[Any], over: list[Any], same: Callable[[Any, Any], bool]) -> LSeq:
    """Base order kept; a later item that matches an earlier one replaces it in place."""
    items = _items(base)
    for value, loc in _items(over):
        for index, (existing, _) in enumerate(items):
            if same(existing, value):
                items[index] = (value, loc)
                break
        else:
            items.append((value, loc))
    return _seq(items)


def _as_map(value: Any) -> dict[str, Any] | None:
    """`environment`/`labels` in either form as a mapping, so the forms can merge."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, list):
        return None
    result = LMap()
    for item, loc in _items(value):
        pair = split_key_value(item)
        if pair is None:
            return None
        name, entry = pair
        if loc is None:
            result[name] = entry
        else:
            result.put(name, entry, loc)
    return result


def _depends_map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    result = LMap()
    for item, loc in _items(value):
        result.put(str(item), LMap(), loc or ("<merged>", 0))
    return result
