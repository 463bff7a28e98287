"""Every name and label xcompose gives a Docker object, and the way back from a live
object's labels to the step it belongs to. Nothing else builds or reads these strings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timezone

from xcompose.plan.specs import LABEL_CONFIG_HASH, ContainerSpec
from xcompose.plan.steps import DEFAULT_NETWORK, ContainerStep, ServiceStep, StepId, StepKind

LABEL_PROJECT = "io.xcompose.project"
LABEL_SERVICE = "io.xcompose.service"
LABEL_ROLE = "io.xcompose.role"  # the step kind of a container: service, ambassador-server, …
LABEL_HOST = "io.xcompose.host"
LABEL_RELAY = "io.xcompose.relay"  # haproxy | socat | kernel
LABEL_RELAY_DIGEST = "io.xcompose.relay-digest"  # sha256 of the relay's files, keys left out
LABEL_TLS_CERT = "io.xcompose.tls-cert"  # fingerprint of the ambassador's certificate
LABEL_TLS_CA = "io.xcompose.tls-ca"  # fingerprint of the project CA
LABEL_FILES_DIGEST = "io.xcompose.files-digest"  # sha256 of a service's secrets and configs as uploaded
LABEL_REPLICA = "io.xcompose.replica"  # the number of a service's second, third, … container
# Who made a container and when: set as it is made, never part of its config hash.
LABEL_APPLIED_BY = "io.xcompose.applied-by"  # USER@MACHINE, or XCOMPOSE_OPERATOR
LABEL_APPLIED_AT = "io.xcompose.applied-at"  # UTC, ISO 8601
__all__ = [
    "LABEL_APPLIED_AT", "LABEL_APPLIED_BY", "LABEL_CONFIG_HASH", "LABEL_FILES_DIGEST", "LABEL_HOST", "LABEL_PROJECT",
    "LABEL_RELAY", "LABEL_RELAY_DIGEST", "LABEL_REPLICA", "LABEL_ROLE", "LABEL_SERVICE", "LABEL_TLS_CA",
    "LABEL_TLS_CERT", "applied_labels", "aside_name", "container_labels", "container_name", "containers_of",
    "network_name", "project_labels", "role_of", "step_id_of", "volume_name",
]

_ROLES: dict[str, StepKind] = {"service": "service", "ambassador-server": "ambassador-server",
                               "ambassador-client": "ambassador-client"}


def container_name(project: str, step_id: StepId, declared: str | None = None) -> str:
    """`PROJECT-SERVICE` (or the service's own `container_name`, `declared`),
    `PROJECT-SERVICE-ambassador`, `PROJECT-SERVICE-ambassador-HOST`."""
    if step_id.kind == "service":
        return declared or f"{project}-{step_id.name}"
    if step_id.kind == "ambassador-server":
        return f"{project}-{step_id.name}-ambassador"
    if step_id.kind == "ambassador-client":
        return f"{project}-{step_id.name}-ambassador-{step_id.host}"
    raise ValueError(f"{step_id} is not a container step")


def containers_of(step: ContainerStep) -> tuple[ContainerSpec, ...]:
    """The containers a step runs: one, or a service's replicas. The first keeps the
    service's name (and so a container made before it had replicas); replica N is named
    `NAME-N` and labelled with its number."""
    if not isinstance(step, ServiceStep) or step.replicas == 1:
        return (step.container,)
    first = step.container
    return (first, *(
        dataclasses.replace(first, name=f"{first.name}-{number}",
                            labels=tuple(sorted({**dict(first.labels), LABEL_REPLICA: str(number)}.items())))
        for number in range(2, step.replicas + 1)
    ))


def aside_name(name: str, container_id: str) -> str:
    """The name a container takes while its replacement is made (`up` renames it back if
    that fails, and an interrupted `up` may leave it so)."""
    return f"{name}_old_{container_id[:12]}"


def applied_labels(operator: str, at: datetime) -> tuple[tuple[str, str], ...]:
    """The labels that say who made a container and when."""
    when = at.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return ((LABEL_APPLIED_AT, when), (LABEL_APPLIED_BY, operator))


def network_name(project: str, network: str = DEFAULT_NETWORK, declared: str | None = None) -> str:
    """The Docker name of a project network: its `name:` if set, else `PROJECT_NETWORK`."""
    return declared or f"{project}_{network}"


def volume_name(project: str, volume: str, declared: str | None = None, external: bool = False) -> str:
    """The Docker name of a named volume: `name:` if set, as written if external, else
    `PROJECT_VOLUME` (Compose's names, so a volume made by `docker compose` is found)."""
    return declared or (volume if external else f"{project}_{volume}")


def project_labels(project: str, own: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**(own or {}), LABEL_PROJECT: project}.items()))


def container_labels(
    project: str, step_id: StepId, host: str, own: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """The labels that let any machine find the container's step again. Ours come last: a
    service's own labels must not be able to disguise its role."""
    labels = {**(own or {}), LABEL_PROJECT: project, LABEL_SERVICE: step_id.name, LABEL_ROLE: step_id.kind,
              LABEL_HOST: host}
    return tuple(sorted(labels.items()))


def role_of(labels: Mapping[str, str]) -> StepKind | None:
    return _ROLES.get(labels.get(LABEL_ROLE, ""))


def step_id_of(labels: Mapping[str, str]) -> StepId | None:
    """The step a live container belongs to, from its labels (None: not one of ours)."""
    role, service = role_of(labels), labels.get(LABEL_SERVICE)
    if role is None or not service:
        return None
    if role == "ambassador-client":
        host = labels.get(LABEL_HOST)
        return StepId.client(service, host) if host else None
    return StepId(role, service)
