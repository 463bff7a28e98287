"""xcompose/cli/main.py as the `xcompose` program: each command ends the process with its
own exit code and everything it printed, through the exit that skips freeing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from xcompose import __version__


def _xcompose(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xcompose", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_command_that_succeeds_ends_with_0_and_its_output(tmp_path: Path) -> None:
    done = _xcompose("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"xcompose, version {__version__}")


def test_bad_input_ends_with_2_and_its_located_error(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: redis:7\n    ports: 5\n")
    done = _xcompose("config", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "compose.yaml:4" in done.stderr and "ports" in done.stderr
    assert "Traceback" not in done.stderr
