"""xcompose/alloc.py: pausing the cyclic collector, and ending without freeing."""

from __future__ import annotations

import gc
import subprocess
import sys

from xcompose.alloc import paused_gc

_ENDING = """
import sys
from xcompose.alloc import exit_without_freeing, own_process
{own}
sys.stdout.write("printed")  # left in the buffer: only the flush writes it
sys.stderr.write("said")
exit_without_freeing({code})
sys.exit(3)
"""


def _run(own: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _ENDING.format(own=own, code=code)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_paused_gc_disables_the_collector_and_enables_it_again() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_exit_without_freeing_ends_an_owned_process_with_0_and_its_output_flushed() -> None:
    ended = _run("own_process()")
    assert (ended.returncode, ended.stdout, ended.stderr) == (0, "printed", "said")


def test_exit_without_freeing_ends_with_the_code_it_is_given() -> None:
    ended = _run("own_process()", code=2)
    assert (ended.returncode, ended.stdout, ended.stderr) == (2, "printed", "said")


def test_exit_without_freeing_returns_when_xcompose_does_not_own_the_process() -> None:
    ended = _run("")
    assert (ended.returncode, ended.stdout) == (3, "printed")

