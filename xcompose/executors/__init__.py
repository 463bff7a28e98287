"""Executors carry a plan out on one host's Docker engine: `api` (Docker Engine API via
docker-py) or `ssh` (the docker CLI over paramiko). Both implement base.Executor."""

from __future__ import annotations

from xcompose.executors.base import (
    DockerError,
    EngineInfo,
    Executor,
    LiveContainer,
    LiveNetwork,
    LiveVolume,
)
from xcompose.plan import HostTarget

__all__ = [
    "DockerError",
    "EngineInfo",
    "Executor",
    "LiveContainer",
    "LiveNetwork",
    "LiveVolume",
    "connect",
]


def connect(target: HostTarget) -> Executor:
    """The executor for the target's `executor:` kind. Nothing is contacted yet: preflight()
    connects, so that every host's failure can be collected and reported together."""
    if target.executor == "ssh":
        from xcompose.executors.ssh import SshExecutor

        return SshExecutor(target)
    if target.executor == "api":
        from xcompose.executors.api import ApiExecutor

        return ApiExecutor(target)
    raise ValueError(f"unknown executor {target.executor!r} for host {target.name}")
