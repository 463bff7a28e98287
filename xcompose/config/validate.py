"""pydantic's validation errors in the words of a topology file: located, one message per
key, a union's alternatives said once ("must be a string or a list, not a number")."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from xcompose.config import compose_keys
from xcompose.config.location import KeyPath
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.config.references import suggest
from xcompose.config.source import kind_of
from xcompose.errors import ConfigError

_TYPE_WORDS = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a mapping",
    "list_type": "a list", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
           "greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}


def translate(exc: ValidationError, data: Any, project: Project) -> list[ConfigError]:
    """pydantic errors to located messages; a union's alternatives become one message."""
    grouped: dict[KeyPath, list[str]] = {}
    expected: dict[KeyPath, tuple[list[str], Any]] = {}
    for err in exc.errors():
        loc, kind = tuple(err["loc"]), err["type"]
        path, missing = _real_path(loc, data, kind)
        if missing == "image" and _builds(data, path):
            continue  # `build:` is refused on its own; the image it would make is not missing
        if kind in _TYPE_WORDS:
            words, _ = expected.setdefault(path, ([], err.get("input")))
            if _TYPE_WORDS[kind] not in words:
                words.append(_TYPE_WORDS[kind])
            continue
        grouped.setdefault(path, []).append(_message(err, loc, missing))
    for path, (words, value) in expected.items():
        grouped.setdefault(path, []).append(f"must be {' or '.join(words)}, not {kind_of(value)}")
    return [project.error(path, message) for path, messages in grouped.items() for message in messages]


def _builds(data: Any, path: KeyPath) -> bool:
    """Whether the service at `path` says `build:` (a Compose key xcompose refuses)."""
    if len(path) != 2 or path[0] != "services" or not isinstance(data, dict):
        return False
    services = data.get("services")
    service = services.get(path[1]) if isinstance(services, dict) else None
    return isinstance(service, dict) and "build" in service


def _real_path(loc: KeyPath, data: Any, kind: str) -> tuple[KeyPath, str | None]:
    """The key path in the file, skipping pydantic's union tags and `[key]` markers."""
    node, path = data, list[str | int]()
    for index, part in enumerate(loc):
        in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
            path.append(part)
        elif kind == "missing" and index == len(loc) - 1:
            return tuple(path), str(part)
    return tuple(path), None


def _message(err: Any, loc: KeyPath, missing: str | None) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return f"missing required key '{missing}'"
    if kind == "extra_forbidden":
        return unknown_key(str(loc[-1]), loc[:-1])
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_short(err.get('input'))})"
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"must be {word} {ctx.get(key)} (got {_short(err.get('input'))})"
    return str(err["msg"])


def unknown_key(key: str, parent: KeyPath) -> str:
    """A key the model lacks: a Compose key xcompose does not support yet, or a key that
    neither knows (with a suggestion from xcompose's own vocabulary)."""
    model = model_at(parent)
    if model is not None and key in compose_keys.BY_MODEL.get(model.__name__, ()):
        return unsupported(key)
    return f"unknown key '{key}'{suggest(key, field_names_at(parent))}"


def unsupported(key: str) -> str:
    return f"xcompose does not support the Compose key '{key}' yet"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model a validation error location points into, if it is one."""
    current: Any = Topology
    for part in loc:
        current = _step(current, part)
        if current is None:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def field_names_at(loc: Sequence[str | int]) -> list[str]:
    """Field names of the model a validation error location points into (for suggestions)."""
    model = model_at(loc)
    return list(model.model_fields) if model is not None else []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        # A part that is not a field is pydantic's tag for the model itself: stay.
        return field.annotation if field is not None else annotation
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    if origin in (Union, types.UnionType):
        for member in typing.get_args(annotation):
            if str(part) in (getattr(member, "__name__", None), str(member)):
                return member
        for member in typing.get_args(annotation):
            found = _step(member, part)
            if found is not None:
                return found
    return None
