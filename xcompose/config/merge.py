"""Merging several `-f` files, as Compose merges them.

Mappings merge key by key and scalars from the later file win. Inside a service, a few
keys follow Compose's own rules: list keys that accumulate (`ports`, `links`, …) are
concatenated without duplicates, `environment`/`labels` merge by variable name whatever
form each file used, `command`/`entrypoint` are replaced whole and `volumes` are merged by
their target path. Each entry keeps the location of the file that set it last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xcompose.config.location import KeyPath, Loc, format_key_path
from xcompose.config.mounts import volume_target
from xcompose.config.source import LMap, LSeq, kind_of
from xcompose.config.syntax import split_key_value
from xcompose.errors import ConfigError

_CONCATENATED = frozenset({"ports", "expose", "links", "cap_add", "cap_drop", "env_file", "dns", "dns_search",
                           "dns_opt", "tmpfs", "security_opt", "devices", "volumes_from", "group_add",
                           "extra_hosts"})
_ONE_OR_MANY = frozenset({"env_file", "cap_add", "cap_drop", "dns", "dns_search", "tmpfs"})
_BY_NAME = frozenset({"environment", "labels", "sysctls"})
_REPLACED = frozenset({"command", "entrypoint"})


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
        result = _copy_map(base)
        over_locs: dict[str, Loc] = getattr(over, "locs", {})
        for key, value in over.items():
            loc = over_locs.get(key) or result.locs.get(key)
            if key in result:
                value = self.value(result[key], value, (*path, key), result.locs.get(key), loc)
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
        result = _copy_map(base)
        over_locs: dict[str, Loc] = getattr(over, "locs", {})
        for key, value in over.items():
            loc = over_locs.get(key) or result.locs.get(key) or ("<merged>", 0)
            if key not in result or key in _REPLACED:
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
            else:
                merged = self.value(old, value, child, old_loc, loc)
            result.put(key, merged, loc)
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

    def depends_on(self, base: Any, over: Any, path: KeyPath, base_loc: Loc | None, over_loc: Loc) -> Any:
        if isinstance(base, list) and isinstance(over, list):
            return _union(base, over, _same)
        if isinstance(base, (list, dict)) and isinstance(over, (list, dict)):
            return self.mapping(_depends_map(base), _depends_map(over), path)
        return self.value(base, over, path, base_loc, over_loc)


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


def _same(a: Any, b: Any) -> bool:
    return bool(a == b)


def _same_target(a: Any, b: Any) -> bool:
    return bool(volume_target(a) == volume_target(b))


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
