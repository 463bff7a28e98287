"""Profiles, as Compose has them: a service that lists `profiles:` is part of the project
only when one of them is active; every other service always is. `*` activates all.

Active profiles come from the caller (`--profile`), else from XCOMPOSE_PROFILES, else from
COMPOSE_PROFILES (comma separated; from the environment or `.env`). Services left out are
removed before any other check, so nothing inside them is validated; a service that is
kept and still refers to one of them is told so by the reference checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ENV_VARIABLES = ("XCOMPOSE_PROFILES", "COMPOSE_PROFILES")


def active_profiles(given: Iterable[str] | None, env: Mapping[str, str]) -> frozenset[str]:
    """The active profiles: those given, or else the first of ENV_VARIABLES that is set."""
    names = [name for name in given or () if name]
    if not names:
        for variable in ENV_VARIABLES:
            if env.get(variable):
                names = env[variable].split(",")
                break
    return frozenset(name.strip() for name in names if name.strip())


def leave_out_disabled(data: dict[str, Any], active: frozenset[str]) -> dict[str, list[str]]:
    """Remove from `data` the services none of whose profiles is active; returns them with
    their profiles, for the reference checks to name. A `profiles:` value that is not a
    list of names keeps its service, for validation to report."""
    services = data.get("services")
    disabled: dict[str, list[str]] = {}
    if not isinstance(services, dict):
        return disabled
    for name, service in list(services.items()):
        profiles = service.get("profiles") if isinstance(service, dict) else None
        if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
            continue
        if not profiles or "*" in active or active.intersection(profiles):
            continue
        disabled[name] = profiles
        del services[name]
    return disabled
