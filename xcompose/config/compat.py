"""Service keys of Compose that xcompose accepts without using them: `develop` (development
tooling) and the Swarm settings of `deploy`. Each is taken out of the data before
validation, with a located warning; what `deploy` says of replicas, resources and placement
stays, for the model to read. (The obsolete top-level `version` is set aside as each file is
read, since Compose warns about it file by file.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xcompose.config import compose_keys
from xcompose.config.location import KeyPath
from xcompose.config.project import Project
from xcompose.config.references import suggest
from xcompose.config.source import kind_of
from xcompose.errors import ConfigError

Warn = Callable[[KeyPath, str], None]


def set_aside_ignored(data: dict[str, Any], project: Project) -> list[ConfigError]:
    """Remove the ignored keys from `data` (warning in `project.warnings`); returns errors."""
    errors: list[ConfigError] = []

    def warn(path: KeyPath, message: str) -> None:
        project.warnings.append(str(project.error(path, message)))

    services = data.get("services")
    if not isinstance(services, dict):
        return errors
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        for key in [k for k in service if k in compose_keys.IGNORED_SERVICE_KEYS]:
            path = ("services", name, key)
            if key == "develop":
                service.pop(key)
                warn(path, "ignored: 'develop' configures development tooling (compose watch), "
                           "which xcompose does not run")
            else:
                errors.extend(_deploy(service, path, project, warn))
    return errors


def _deploy(service: dict[str, Any], path: KeyPath, project: Project, warn: Warn) -> list[ConfigError]:
    """Errors for what `deploy` may not say; a warning for what xcompose leaves aside. The
    keys xcompose reads stay in the service's data; `deploy` goes when none is left."""
    deploy = service["deploy"]
    if deploy is None:
        service.pop("deploy")
        return []
    if not isinstance(deploy, dict):
        return [project.error(path, f"must be a mapping, not {kind_of(deploy)}")]
    errors: list[ConfigError] = []
    ignored: list[str] = []
    for key in list(deploy):
        if key.startswith("x-") or key in compose_keys.DEPLOY_READ:
            continue
        if key in compose_keys.DEPLOY:
            ignored.append(key)
        else:
            hint = suggest(key, sorted(compose_keys.DEPLOY))
            errors.append(project.error((*path, key), f"unknown key '{key}'{hint}"))
        del deploy[key]  # said here; the model is not to say it again
    if ignored:
        warn(path, f"ignored: xcompose does not use the Swarm settings under 'deploy' ({', '.join(ignored)})")
    if not deploy:
        service.pop("deploy")
    return errors

