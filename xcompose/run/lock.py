"""One `up` or `down` of a project at a time on this machine.

The lock is an flock on a file in the user's state folder: the kernel releases it when the
holding process ends, however it ends, so a crashed run never leaves a stale lock behind.
The file keeps the holder's pid and start time only to say who is waiting on whom.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from xcompose.errors import LockTimeout


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "xcompose"


def lock_path(project: str) -> Path:
    return state_dir() / "locks" / f"{project}.lock"


@contextmanager
def project_lock(
    project: str, wait: float = 300.0, on_wait: Callable[[str], None] = lambda _holder: None
) -> Iterator[Path]:
    path = lock_path(project)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = path.read_text().strip() or "another xcompose run"
                if not told:
                    on_wait(holder)
                    told = True
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"project {project} is locked by {holder} ({path}); gave up after {wait:g}s"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}\n".encode())
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the flock
