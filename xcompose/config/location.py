"""Where a value was written: key paths and (file, line) locations, shared by every stage
of loading so that an error can always point at the line to change."""

from __future__ import annotations

KeyPath = tuple[str | int, ...]
Loc = tuple[str, int]


def format_key_path(path: KeyPath) -> str:
    """("services", "app", "links", 0) -> "services.app.links[0]"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
