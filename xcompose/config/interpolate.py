"""`${VAR}` substitution and `.env` files, as Compose does them.

Messages never quote the value being expanded: it may be a secret written in the file.

Substitution applies to scalar string values only (never to keys), before validation, so
that a port or a duration may come from the environment. Defaults and replacements may
themselves contain substitutions (`${A:-${B}}`); they are expanded only when used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xcompose.config.location import KeyPath
from xcompose.errors import ConfigError

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


class InterpolationError(Exception):
    """A template that cannot be expanded; the message is shown to the user as is."""


@dataclass
class Expansion:
    text: str
    unset: list[str] = field(default_factory=list)


def substitute(template: str, lookup: Mapping[str, str]) -> Expansion:
    """Expand one string; raises InterpolationError for `:?` failures and bad syntax."""
    unset: list[str] = []
    text = _expand(template, lookup, unset)
    return Expansion(text, unset)


def _expand(template: str, lookup: Mapping[str, str], unset: list[str]) -> str:
    if "$" not in template:
        return template
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        dollar = template.find("$", i)
        if dollar < 0:
            out.append(template[i:])
            break
        out.append(template[i:dollar])
        nxt = template[dollar + 1] if dollar + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            end = _closing_brace(template, dollar + 2)
            if end < 0:
                raise InterpolationError("unclosed '${' (write $$ for a literal $)")
            out.append(_braced(template[dollar + 2 : end], lookup, unset))
            i = end + 1
        else:
            match = _NAME.match(template, dollar + 1)
            if match is None:
                raise InterpolationError(
                    "invalid interpolation format: '$' must be followed by a name, "
                    "'{' or another '$' (write $$ for a literal $)"
                )
            out.append(_value(match.group(), lookup, unset))
            i = match.end()
    return "".join(out)


def _closing_brace(template: str, start: int) -> int:
    """Index of the `}` closing a `${` whose body starts at `start`, nesting included."""
    depth, i = 1, start
    while i < len(template):
        if template.startswith("${", i):
            depth += 1
            i += 2
            continue
        if template.startswith("$$", i):
            i += 2
            continue
        if template[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _value(name: str, lookup: Mapping[str, str], unset: list[str]) -> str:
    if name in lookup:
        return lookup[name]
    unset.append(name)
    return ""


def _braced(body: str, lookup: Mapping[str, str], unset: list[str]) -> str:
    match = _NAME.match(body)
    if match is None:
        raise InterpolationError("invalid interpolation format: '${' must be followed by a variable name")
    name, rest = match.group(), body[match.end() :]
    if not rest:
        return _value(name, lookup, unset)
    colon = rest.startswith(":")
    op = rest[1:2] if colon else rest[:1]
    arg = rest[2:] if colon else rest[1:]
    if op not in ("-", "?", "+"):
        raise InterpolationError(
            f"invalid interpolation format for ${{{name}}}: "
            "use ${VAR}, ${VAR:-default}, ${VAR:?message} or ${VAR:+replacement}"
        )
    is_set = name in lookup
    # The `:` forms treat an empty value like an unset one.
    has_value = is_set and (not colon or lookup[name] != "")
    if op == "-":
        return lookup[name] if has_value else _expand(arg, lookup, unset)
    if op == "+":
        return _expand(arg, lookup, unset) if has_value else ""
    if not has_value:
        message = _expand(arg, lookup, unset)
        suffix = f": {message}" if message else ""
        raise InterpolationError(f"required variable {name} is missing a value{suffix}")
    return lookup[name]


@dataclass
class TreeResult:
    errors: list[tuple[KeyPath, str]] = field(default_factory=list)
    unset: list[tuple[KeyPath, str]] = field(default_factory=list)


def interpolate_tree(tree: Any, lookup: Mapping[str, str], path: KeyPath = ()) -> TreeResult:
    """Expand every string value of a (located) tree in place; keys stay as written."""
    result = TreeResult()
    _walk(tree, lookup, path, result)
    return result


def _walk(node: Any, lookup: Mapping[str, str], path: KeyPath, result: TreeResult) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            node[key] = _item(value, lookup, (*path, key), result)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            node[index] = _item(value, lookup, (*path, index), result)


def _item(value: Any, lookup: Mapping[str, str], path: KeyPath, result: TreeResult) -> Any:
    if isinstance(value, str):
        if "$" not in value:
            return value
        try:
            expansion = substitute(value, lookup)
        except InterpolationError as exc:
            result.errors.append((path, str(exc)))
            return value
        result.unset.extend((path, name) for name in expansion.unset)
        return expansion.text
    _walk(value, lookup, path, result)
    return value


def read_env_file(path: Path, display: str, lookup: Mapping[str, str]) -> tuple[dict[str, str], list[ConfigError]]:
    """A dotenv file (`.env` or a service's `env_file`) as Compose reads it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, [ConfigError(display, None, "", "no such file")]
    except OSError as exc:
        return {}, [ConfigError(display, None, "", f"cannot read: {exc.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return {}, [ConfigError(display, line, "", "not valid UTF-8")]
    return parse_dotenv(text, display, lookup)


def parse_dotenv(text: str, display: str, lookup: Mapping[str, str]) -> tuple[dict[str, str], list[ConfigError]]:
    values: dict[str, str] = {}
    errors: list[ConfigError] = []
    lines = text.splitlines()
    index = 0

    def error(line: int, message: str) -> None:
        errors.append(ConfigError(display, line, "", message))

    while index < len(lines):
        number, line = index + 1, lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not _ENV_KEY.fullmatch(key):
            error(number, f"'{key}' is not a variable name (use NAME=VALUE)")
            continue
        if not sep:
            # A bare NAME passes the variable through from the environment, as Compose does.
            if key in lookup:
                values[key] = lookup[key]
            continue
        rest = rest.lstrip()
        scope: Mapping[str, str] = {**values, **lookup}
        try:
            if rest[:1] in ("'", '"'):
                quote = rest[0]
                body = rest[1:]
                # A quoted value may span lines, up to its closing quote.
                while _closing_quote(body, quote) < 0 and index < len(lines):
                    body += "\n" + lines[index]
                    index += 1
                end = _closing_quote(body, quote)
                if end < 0:
                    error(number, f"{key}: unclosed {quote} quote")
                    continue
                value = body[:end]
                if quote == '"':
                    value = substitute(_unescape(value), scope).text
            else:
                value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
                value = substitute(value, scope).text
        except InterpolationError as exc:
            error(number, f"{key}: {exc}")
            continue
        values[key] = value
    return values, errors


def _closing_quote(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value)


def warn_unset(unset: list[tuple[KeyPath, str]], locate: Callable[[KeyPath], str]) -> list[str]:
    """One warning per variable, at its first use (Compose's wording)."""
    seen: set[str] = set()
    warnings: list[str] = []
    for path, name in unset:
        if name in seen:
            continue
        seen.add(name)
        warnings.append(f'{locate(path)}: the "{name}" variable is not set, using an empty string')
    return warnings
