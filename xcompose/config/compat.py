"""Service keys of Compose that xcompose accepts without using them: `deploy` (Swarm) and
`develop` (development tooling). Each is taken out of the data before validation, with a
located warning; the parts of `deploy` that decide where a container runs and what it may
use are refused instead of ignored. (The obsolete top-level `version` is set aside as each
file is read, since Compose warns about it file by file.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xcompose.config import compose_keys
from xcompose.config.location import KeyPath
from xcompose.config.project import Project
from xcompose.config.references import suggest
from xcompose.config.source import kind_of
from xcompose.config.validate import unsupported
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
            value, path = service.pop(key), ("services", name, key)
            if key == "develop":
                warn(path, "ignored: 'develop' configures development tooling (compose watch), "
                           "which xcompose does not run")
            else:
                errors.extend(_deploy(value, path, project, warn))
    return errors


def _deploy(deploy: Any, path: KeyPath, project: Project, warn: Warn) -> list[ConfigError]:
    """Errors for what `deploy` may not say; a warning for what xcompose leaves aside."""
    if deploy is None:
        return []
    if not isinstance(deploy, dict):
        return [project.error(path, f"must be a mapping, not {kind_of(deploy)}")]
    errors: list[ConfigError] = []
    ignored: list[str] = []
    for key in deploy:
        if key.startswith("x-"):
            continue
        if key in compose_keys.DEPLOY_REFUSED:
            errors.append(project.error((*path, key), unsupported(f"deploy.{key}")))
        elif key in compose_keys.DEPLOY:
            ignored.append(key)
        else:
            hint = suggest(key, sorted(compose_keys.DEPLOY))
            errors.append(project.error((*path, key), f"unknown key '{key}'{hint}"))
    if ignored:
        warn(path, f"ignored: xcompose does not use the Swarm settings under 'deploy' ({', '.join(ignored)})")
    return errors
