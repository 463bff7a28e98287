"""What the hosts have now, as read by label: the observed state that `decide` compares the
plan with, and that `ps`, `logs` and `check` show. Values only; engines/ reads them."""

from __future__ import annotations

from dataclasses import dataclass, field

from xcompose.plan.updatable import Updatable


@dataclass(frozen=True)
class EngineInfo:
    host: str
    url: str
    version: str
    api_version: str
    latency_ms: float


@dataclass(frozen=True)
class LiveContainer:
    id: str
    name: str
    image: str
    image_id: str
    labels: dict[str, str]
    state: str  # Docker's State.Status: created|running|restarting|exited|paused|dead
    health: str | None  # healthy|unhealthy|starting, None when no healthcheck
    ports: tuple[str, ...]  # human form "10.0.0.1:6379->6379/tcp"
    exit_code: int | None = None
    stop_timeout: int | None = None  # seconds a stop waits before SIGKILL; None: Docker's default
    # What may have been changed by hand since the container was made, which its config
    # hash cannot show; None where not read (a container described by hand).
    networks: tuple[str, ...] | None = None  # the networks it is attached to, by name
    updatable: Updatable | None = None  # what `docker update` changes


@dataclass(frozen=True)
class LiveNetwork:
    id: str
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class LiveVolume:
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Placed:
    """A live container and the host it was found on."""

    host: str
    container: LiveContainer


@dataclass
class LiveState:
    """What the project has on every host that answered, as read by label."""

    containers: dict[str, list[LiveContainer]] = field(default_factory=dict)
    networks: dict[str, list[LiveNetwork]] = field(default_factory=dict)
    volumes: dict[str, list[LiveVolume]] = field(default_factory=dict)

    def placed(self) -> list[Placed]:
        """Every container with its host, hosts and names in order."""
        return [Placed(host, c) for host, found in sorted(self.containers.items())
                for c in sorted(found, key=lambda c: c.name)]
