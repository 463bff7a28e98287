"""One interface to a host's Docker engine (base.Executor) and its implementations: `api`
(Docker Engine API via docker-py) and `ssh` (the docker CLI over paramiko); the fleet
reaches every host of a plan."""

from __future__ import annotations

from xcompose.engines.base import Executor
from xcompose.plan.specs import HostTarget

__all__ = ["Executor", "connect"]


def connect(target: HostTarget) -> Executor:
    """The executor for the target's `executor:` kind. Nothing is contacted yet: preflight()
    connects, so that every host's failure can be collected and reported together."""
    if target.executor == "ssh":
        from xcompose.engines.ssh import SshExecutor

        return SshExecutor(target)
    from xcompose.engines.dockerapi import ApiExecutor

    return ApiExecutor(target)
