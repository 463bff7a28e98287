"""Allocation-heavy pure work without the cyclic garbage collector's rescans."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Planning allocates hundreds of thousands of small objects and frees none of them, so
    the cyclic collector would rescan a growing heap again and again (it tripled the time of
    a 10,000-service plan), and scan it once more right after `gc.enable()`. Instead, what
    was allocated meanwhile is handed to the oldest generation unscanned: freeze() moves it
    aside and resets the young count, unfreeze() puts it into the oldest generation. Only
    done when nobody else uses freeze(). Reference counting frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
