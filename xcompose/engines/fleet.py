"""The hosts of a plan, reached together: the executors of those that answered pre-flight,
one error for each that did not, and reading the project's live state from all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from xcompose.engines.base import Executor
from xcompose.errors import DockerError, HostError, XcomposeError
from xcompose.live import EngineInfo, LiveState
from xcompose.plan.specs import HostTarget


@dataclass
class Fleet:
    """Executors of the hosts that answered, and the errors of those that did not."""

    executors: dict[str, Executor] = field(default_factory=dict)
    info: dict[str, EngineInfo] = field(default_factory=dict)
    errors: list[HostError] = field(default_factory=list)

    def close(self) -> None:
        for executor in self.executors.values():
            executor.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def read_live(self, project: str) -> tuple[LiveState, list[XcomposeError]]:
        """The project's containers, networks and volumes on every host that answered, and
        one error per host whose reading failed (that host is left out of the state).
        All hosts at once: over ssh each listing is a round trip or two, and a no-op `up`
        is little else."""
        live = LiveState()
        failures: list[XcomposeError] = []
        with ThreadPoolExecutor(max_workers=max(1, 3 * len(self.executors))) as pool:
            reads = {host: (pool.submit(e.containers, project), pool.submit(e.networks, project),
                            pool.submit(e.volumes, project))
                     for host, e in self.executors.items()}
            for host in sorted(reads):
                containers, networks, volumes = reads[host]
                try:
                    found = containers.result(), networks.result(), volumes.result()
                except DockerError as error:
                    failures.append(error.at(f"host {host}: reading the project's objects"))
                    continue
                except HostError as error:
                    failures.append(error)
                    continue
                live.containers[host], live.networks[host], live.volumes[host] = found
        return live, failures


def reach(targets: Iterable[HostTarget], make: Callable[[HostTarget], Executor] | None = None) -> Fleet:
    """Connect to every host at once; a host that fails is reported, never skipped silently."""
    if make is None:
        from xcompose.engines import connect

        make = connect
    targets = list(targets)
    fleet = Fleet()

    def check(target: HostTarget) -> tuple[HostTarget, Executor | None, EngineInfo | HostError]:
        executor = make(target)
        try:
            return target, executor, executor.preflight()
        except HostError as error:
            executor.close()
            return target, None, error
        except Exception as error:  # noqa: BLE001 - any transport failure is this host's error
            executor.close()
            return target, None, HostError(target.name, target.docker or "local", str(error) or type(error).__name__)

    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        for target, executor, outcome in pool.map(check, targets):
            if isinstance(outcome, HostError):
                fleet.errors.append(outcome)
            elif executor is not None:
                fleet.executors[target.name] = executor
                fleet.info[target.name] = outcome
    return fleet
