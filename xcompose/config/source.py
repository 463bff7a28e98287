"""YAML text to plain data that remembers where every key and item was written.

The file is composed into YAML nodes (never constructed into Python objects by PyYAML, so
no tag can run code) and the nodes are turned into `LMap`/`LSeq` trees: ordinary dicts and
lists that also carry the (file, line) of each entry. Interpolation and merging work on
these trees, so a value keeps its origin through every step; `to_plain` finally yields the
plain data for validation plus the key path -> location table.

Scalars are resolved with the YAML 1.2 core schema, as Compose (Go, yaml.v3) does: `yes`,
`on` and `22:22` stay strings instead of becoming a bool and a base-60 number. The only
tags accepted are Compose's `!reset` and `!override`, kept as marks for merging.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from xcompose.config.location import KeyPath, Loc, format_key_path
from xcompose.errors import ConfigError, ConfigErrors

# Alias expansion can blow up exponentially ("billion laughs"); no real topology gets near.
MAX_NODES = 5_000_000

_TAG_NULL = "tag:yaml.org,2002:null"
_TAG_BOOL = "tag:yaml.org,2002:bool"
_TAG_INT = "tag:yaml.org,2002:int"
_TAG_FLOAT = "tag:yaml.org,2002:float"
_TAG_STR = "tag:yaml.org,2002:str"
_TAG_MERGE = "tag:yaml.org,2002:merge"
_TAG_MAP = "tag:yaml.org,2002:map"
_TAG_SEQ = "tag:yaml.org,2002:seq"
# Compose's own tags for merging files (see merge.py).
TAG_RESET = "!reset"
TAG_OVERRIDE = "!override"
_MERGE_TAGS = (TAG_RESET, TAG_OVERRIDE)


class LMap(dict[str, Any]):
    """A mapping with the location of each key.

    `resets` and `overrides` are the keys this file tagged `!reset` (left out here, and
    removed from what earlier files set) and `!override` (replacing what earlier files set
    instead of merging with it); only merging reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.locs: dict[str, Loc] = {}
        self.resets: dict[str, Loc] = {}
        self.overrides: set[str] = set()

    def put(self, key: str, value: Any, loc: Loc) -> None:
        self[key] = value
        self.locs[key] = loc


class LSeq(list[Any]):
    """A sequence with the location of each item (kept parallel by `add`)."""

    def __init__(self) -> None:
        super().__init__()
        self.locs: list[Loc] = []

    def add(self, value: Any, loc: Loc) -> None:
        self.append(value)
        self.locs.append(loc)


# Plain scalars are resolved only when built (keys never need it): resolving each one while
# composing, as PyYAML does, costs more than composing itself on a large file.
_PLAIN = "?plain"


class CoreResolver(BaseResolver):
    """YAML 1.2 core schema (what yaml.v3, and so Compose, uses), resolved lazily."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _TAG_STR
        return _TAG_SEQ if kind is SequenceNode else _TAG_MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


CORE_RESOLVERS: list[tuple[str, str, str]] = [
    (_TAG_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_TAG_NULL, r"^(?:~|null|Null|NULL|)$", "~nN"),
    (_TAG_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        _TAG_FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    (_TAG_MERGE, r"^(?:<<)$", "<"),
]
_BY_FIRST: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _pattern, _first in CORE_RESOLVERS:
    for _char in _first:
        _BY_FIRST.setdefault(_char, []).append((_tag, re.compile(_pattern)))


# `mode: 0440` is octal to Compose: yaml.v3 keeps the YAML 1.1 reading of a leading zero.
_LEGACY_OCTAL = re.compile(r"^[-+]?0[0-7]+$")


def resolve_plain(value: str) -> str:
    """The core-schema tag of a plain (unquoted) scalar."""
    if not value:
        return _TAG_NULL
    for tag, pattern in _BY_FIRST.get(value[0], ()):
        if pattern.match(value):
            return tag
    return _TAG_STR


class _PyComposer(Reader, Scanner, Parser, Composer, CoreResolver):
    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        CoreResolver.__init__(self)


def _composer_class() -> Any:
    # libyaml composes about ten times faster; the node graph is the same.
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - depends on how PyYAML was built
        return _PyComposer

    class _CComposer(CParser, CoreResolver):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            CoreResolver.__init__(self)

    return _CComposer


_Composer = _composer_class()


@dataclass
class YamlDocument:
    """One topology file: its top-level mapping, with locations inside."""

    file: str
    data: LMap


class _Builder:
    """Turns a node graph into LMap/LSeq/scalars, collecting every problem on the way."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []
        self.count = 0
        self._active: set[int] = set()

    def error(self, node: Node, path: KeyPath, message: str) -> None:
        line = node.start_mark.line + 1
        self.errors.append(ConfigError(self.file, line, format_key_path(path), message))

    def loc(self, node: Node) -> Loc:
        return (self.file, node.start_mark.line + 1)

    def build(self, node: Node, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self._active:
            self.error(node, path, "an alias refers to the node that contains it")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self.sequence(node, path)
            assert isinstance(node, MappingNode)  # the composer makes only these three
            return self.mapping(node, path)
        finally:
            self._active.discard(id(node))

    def scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        value, tag = node.value, node.tag
        if tag in _MERGE_TAGS:  # the value is read as if untagged
            tag = resolve_plain(value) if node.style is None else _TAG_STR
        if tag == _PLAIN:
            tag = resolve_plain(value)
        if tag in (_TAG_STR, "!"):
            return value
        if tag == _TAG_NULL:
            return None
        if tag == _TAG_BOOL:
            return value.lower() == "true"
        if tag == _TAG_INT:
            if value.startswith(("0o", "0x")):
                return int(value, 0)
            if _LEGACY_OCTAL.match(value):  # yaml.v3 still reads 0440 as YAML 1.1 did
                return int(value, 8)
            return int(value, 10)
        if tag == _TAG_FLOAT:
            lowered = value.lower().lstrip("+")
            if lowered.endswith("inf"):
                return -math.inf if lowered.startswith("-") else math.inf
            if lowered == ".nan":
                return math.nan
            return float(value)
        if tag == _TAG_MERGE:
            self.error(node, path, "'<<' merge key is only allowed as a mapping key")
            return None
        self.error(node, path, f"unsupported YAML tag {tag}")
        return None

    def sequence(self, node: SequenceNode, path: KeyPath) -> LSeq:
        if node.tag not in (_TAG_SEQ, *_MERGE_TAGS):
            self.error(node, path, f"unsupported YAML tag {node.tag}")
        result = LSeq()
        for index, item in enumerate(node.value):
            if item.tag == TAG_RESET:  # an item reset is left out, as Compose does
                continue
            result.add(self.build(item, (*path, index)), self.loc(item))
        return result

    def mapping(self, node: MappingNode, path: KeyPath) -> LMap:
        if node.tag not in (_TAG_MAP, *_MERGE_TAGS):
            self.error(node, path, f"unsupported YAML tag {node.tag}")
        result = LMap()
        # `<<` entries go in first so that the mapping's own keys override them.
        explicit: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and (
                key_node.tag == _TAG_MERGE or (key_node.tag == _PLAIN and key_node.value == "<<")
            ):
                self.merge_into(result, value_node, path)
            else:
                explicit.append((key_node, value_node))
        seen: dict[str, int] = {}
        for key_node, value_node in explicit:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, path, "a mapping key must be a plain value, not a list or mapping")
                continue
            # Keys are kept as written: `5432:` names a port, `on:` is not a bool.
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                self.error(key_node, (*path, key), f"duplicate key '{key}' (first defined on line {seen[key]})")
                continue
            seen[key] = line
            if value_node.tag == TAG_RESET:
                # Compose wants a valid value here but ignores it: the key is only removed.
                result.pop(key, None)
                result.locs.pop(key, None)
                result.resets[key] = (self.file, line)
                continue
            result.put(key, self.build(value_node, (*path, key)), (self.file, line))
            if value_node.tag == TAG_OVERRIDE:
                result.overrides.add(key)
        return result

    def merge_into(self, result: LMap, value_node: Node, path: KeyPath) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        # Earlier sources win in a `<<: [*a, *b]` list, as YAML specifies.
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                self.error(source, path, "'<<' needs a mapping or a list of mappings (an alias like *base)")
                continue
            merged = self.build(source, path)
            if isinstance(merged, LMap):
                for key, value in merged.items():
                    result.put(key, value, merged.locs[key])
                result.resets.update(merged.resets)
                result.overrides.update(merged.overrides)


class _TooBig(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


def _line_of_offset(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def decode(raw: bytes, file: str) -> str:
    """The text of a topology file, or a located error for binary and non-UTF-8 content."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ConfigErrors(
            [ConfigError(file, _line_of_offset(raw, nul), "", "binary file (NUL byte), not a YAML topology")]
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        line = _line_of_offset(raw, exc.start)
        raise ConfigErrors(
            [ConfigError(file, line, "", f"not valid UTF-8 (byte 0x{bad} at offset {exc.start})")]
        ) from None


def parse_text(text: str, file: str) -> YamlDocument:
    """Compose and build one YAML document; raises ConfigErrors with every problem found."""
    try:
        node = _Composer(text).get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        raise ConfigErrors([ConfigError(file, line, "", f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError: a control character
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        reason = getattr(exc, "reason", None) or str(exc)
        raise ConfigErrors([ConfigError(file, line, "", f"YAML syntax error: {reason}")]) from None
    if node is None:
        raise ConfigErrors([ConfigError(file, None, "", "file is empty")])
    if not isinstance(node, MappingNode):
        kind = "a list" if isinstance(node, SequenceNode) else "a single value"
        raise ConfigErrors(
            [ConfigError(file, node.start_mark.line + 1, "", f"the top level must be a mapping, not {kind}")]
        )
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except _TooBig as big:
        raise ConfigErrors(
            [ConfigError(file, big.node.start_mark.line + 1, "",
                         f"more than {MAX_NODES} values after expanding aliases")]
        ) from None
    if builder.errors:
        raise ConfigErrors(builder.errors)
    return YamlDocument(file=file, data=data)


def read_document(path: Path, display: str) -> YamlDocument:
    """Read and parse one topology file; `display` is how errors name it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigErrors([ConfigError(display, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigErrors([ConfigError(display, None, "", "is a directory, not a topology file")]) from None
    except OSError as exc:
        raise ConfigErrors([ConfigError(display, None, "", f"cannot read: {exc.strerror}")]) from None
    return parse_text(decode(raw, display), display)


def clone(value: Any) -> Any:
    """A deep copy of a located tree that keeps every location (and merge tag)."""
    if isinstance(value, LMap):
        copy = LMap()
        for key, item in value.items():
            copy[key] = clone(item)
        copy.locs = dict(value.locs)
        copy.resets = dict(value.resets)
        copy.overrides = set(value.overrides)
        return copy
    if isinstance(value, LSeq):
        seq = LSeq()
        seq.extend(clone(item) for item in value)
        seq.locs = list(value.locs)
        return seq
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def to_plain(
    value: Any, path: KeyPath = (), locations: dict[KeyPath, Loc] | None = None
) -> tuple[Any, dict[KeyPath, Loc]]:
    """Plain dicts/lists for validation, and the location of every key path."""
    table: dict[KeyPath, Loc] = {} if locations is None else locations
    return _plain(value, path, table), table


def _plain(value: Any, path: KeyPath, table: dict[KeyPath, Loc]) -> Any:
    # Scalars (most of a file) are taken as they are without a call of their own: a
    # 10,000-service file has 100,000 values.
    if isinstance(value, dict):
        locs = getattr(value, "locs", {})
        out: dict[str, Any] = {}
        for key, item in value.items():
            child = (*path, key)
            if key in locs:
                table[child] = locs[key]
            out[key] = _plain(item, child, table) if isinstance(item, (dict, list)) else item
        return out
    if isinstance(value, list):
        item_locs = getattr(value, "locs", [])
        items: list[Any] = []
        for index, item in enumerate(value):
            child = (*path, index)
            if index < len(item_locs):
                table[child] = item_locs[index]
            items.append(_plain(item, child, table) if isinstance(item, (dict, list)) else item)
        return items
    return value


def locate_in_tree(tree: Any, path: KeyPath) -> Loc | None:
    """The location of `path` in a located tree, or of its nearest located parent."""
    node, found = tree, None
    for part in path:
        if isinstance(node, dict) and part in node:
            found = getattr(node, "locs", {}).get(part, found)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            locs = getattr(node, "locs", [])
            found = locs[part] if part < len(locs) else found
            node = node[part]
        else:
            break
    return found


def kind_of(value: Any) -> str:
    """What a value is, in the words an error message uses ("a list", "a mapping", …)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "empty"
    return "a string"
