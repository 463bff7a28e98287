"""`down` on a swarm: the project's services, then its overlay networks, secrets and configs
(found by label through the manager), and with `volumes` its named volumes, which live on
the nodes and are removed through each host's own engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from xcompose.engines.base import Executor
from xcompose.errors import XcomposeError
from xcompose.run.swarm_up import Manager, SwarmReporter

# A network or volume stays in use until the nodes have removed the services' containers,
# which Swarm does after the services are gone.
SETTLE_S = 60.0
RETRY_S = 0.5


@dataclass
class SwarmDownResult:
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def down_swarm(manager: Manager, project: str, reporter: SwarmReporter, *, volumes: bool = False,
               engines: Mapping[str, Executor] | None = None, settle_s: float = SETTLE_S,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> SwarmDownResult:
    """Everything of the project on the swarm, each part retried while the nodes still
    hold it, for at most `settle_s`; what could not be removed is in the result's errors."""
    result = SwarmDownResult()
    live = manager.read_live(project)
    deadline = clock() + settle_s

    def removing(what: str, remove: Callable[[], None], *, retry: bool) -> None:
        while True:
            try:
                remove()
            except XcomposeError as error:
                if retry and clock() < deadline:
                    sleep(RETRY_S)
                    continue
                result.errors.append(f"{what}: {error}")
                return
            result.removed.append(what)
            reporter.note(f"{what}: removed")
            return

    for name in sorted(live.services):
        removing(f"service {name}", partial(manager.remove_service, name), retry=False)
    for name in sorted(live.networks):
        removing(f"network {name}", partial(manager.remove_network, name), retry=True)
    # A removed overlay is still listed while a node (the manager's own included) holds the
    # containers of the services' tasks: `down` is done when the swarm shows it no more.
    removed = {name for name in live.networks if f"network {name}" in result.removed}

    def lingering() -> set[str]:
        return set(manager.read_live(project).networks) & removed if removed else set()

    while lingering() and clock() < deadline:
        sleep(RETRY_S)
    for name in sorted(lingering()):
        result.errors.append(f"network {name}: still listed {settle_s:g}s after its removal")
    for kind, names in (("secret", live.secrets), ("config", live.configs)):
        for name in sorted(names):
            removing(f"{kind} {name}", partial(manager.remove_object, kind, name), retry=True)
    if volumes:
        for host, engine in sorted((engines or {}).items()):
            for volume in engine.volumes(project):
                removing(f"volume {volume.name}@{host}", partial(engine.remove_volume, volume.name), retry=True)
    return result
