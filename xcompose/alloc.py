"""Allocation-heavy pure work without the cyclic garbage collector's rescans, and a command
that ends without freeing what it allocated."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
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


class _Process:
    # Set only by the `xcompose` console command: code that runs xcompose's commands inside
    # its own process (tests, other programs) goes on after them, so its process must not end.
    owned = False


def own_process() -> None:
    """Say that xcompose is the program this process runs (its console entry point)."""
    _Process.owned = True


def exit_without_freeing(code: int = 0) -> None:
    """End the process now with `code`, output flushed, when xcompose owns it; else return.
    Python's own exit frees every object one by one: a 10,000-service plan leaves about 400
    MB of them, most in reference cycles (over a second), and even a no-op `up` spends 0.08
    s of CPU there, while the operating system takes the whole heap back at once. For the
    end of a command, which has cleaned up after itself (executors closed, locks released,
    temporary files removed): what is skipped is the libraries' exit work, which has nothing
    left to do then, and waiting for a read begun ahead (Fleet.prefetch_*) that nobody
    wants any more."""
    if not _Process.owned:
        return
    with contextlib.suppress(OSError):  # a reader that went away (`| head`) misses the rest
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)
