"""Where the lab keeps its files, and the JSON record of what `up` created.

The record is written *before* each resource is made, so that `down` (or the rollback
after a failed `up`) can remove exactly what exists, even after a crash half-way.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field

# Overridable so that a CI machine with a small /var can move them; defaults follow the FHS:
# persistent state in /var/lib, runtime sockets and pid files in /run, the cache in /var/cache.
STATE_ROOT = Path(os.environ.get("XCOMPOSE_LAB_STATE_DIR", "/var/lib/xcompose-lab"))
RUN_ROOT = Path(os.environ.get("XCOMPOSE_LAB_RUN_DIR", "/run/xcompose-lab"))
CACHE_ROOT = Path(os.environ.get("XCOMPOSE_LAB_CACHE_DIR", "/var/cache/xcompose-lab"))


class ProcRecord(BaseModel):
    """A process the lab started: pid plus kernel start time, so a recycled pid is never
    mistaken for ours."""

    pid: int
    starttime: int


class HostRecord(BaseModel):
    name: str
    index: int
    address: str
    netns: str
    veth: str
    bip: str
    data_root: str
    run_dir: str
    docker_socket: str  # unix:// URL
    dockerd: ProcRecord | None = None
    sshd: ProcRecord | None = None


class IptablesRule(BaseModel):
    """A rule appended to a chain of the root namespace (argv after `-A CHAIN`)."""

    table: str = "filter"
    chain: str
    spec: list[str]


class TrustRecord(BaseModel):
    """What `up --trust` added to the user's ~/.ssh, so `down` removes exactly that."""

    known_hosts: str
    config: str
    marker: str


class LabState(BaseModel):
    prefix: str
    subnet: str
    bridge: str
    bridge_address: str
    hosts: list[HostRecord] = Field(default_factory=list)
    iptables: list[IptablesRule] = Field(default_factory=list)
    created_dirs: list[str] = Field(default_factory=list)
    trust: TrustRecord | None = None
    complete: bool = False  # set once `up` finished; a stale incomplete lab is torn down


def state_dir(prefix: str) -> Path:
    return STATE_ROOT / prefix


def run_dir(prefix: str) -> Path:
    return RUN_ROOT / prefix


def state_file(prefix: str) -> Path:
    return state_dir(prefix) / "state.json"


def load_state(prefix: str) -> LabState | None:
    path = state_file(prefix)
    try:
        return LabState.model_validate_json(path.read_text())
    except FileNotFoundError:
        return None


def save_state(state: LabState) -> None:
    path = state_file(state.prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.model_dump(), indent=2))
    os.replace(tmp, path)  # atomic: a crash never leaves a truncated record


def all_states() -> list[LabState]:
    """Every lab recorded on this machine (used to avoid subnet clashes between labs)."""
    found: list[LabState] = []
    if not STATE_ROOT.is_dir():
        return found
    for child in sorted(STATE_ROOT.iterdir()):
        st = load_state(child.name) if (child / "state.json").is_file() else None
        if st is not None:
            found.append(st)
    return found


@contextmanager
def prefix_lock(prefix: str) -> Iterator[None]:
    """Serialise up/down/images of one lab (two terminals, or a test and a user)."""
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    lock_path = RUN_ROOT / f"{prefix}.lock"
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
