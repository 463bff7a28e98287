"""Who runs xcompose, as the hosts record it: in the project lock (who holds it), in the
PKI copies (who wrote them) and on every container `up` makes (who applied it)."""

from __future__ import annotations

import getpass
import os
import socket


def operator() -> str:
    """`user@machine` (XCOMPOSE_OPERATOR overrides it: a CI job may name itself)."""
    named = os.environ.get("XCOMPOSE_OPERATOR", "").strip()
    if named:
        return named
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a bare container)
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"
