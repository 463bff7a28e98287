"""The hosts of a plan, reached together: the executors of those that answered pre-flight,
one error for each that did not, and reading the project's live state from all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from xcompose.config.syntax import PortSpec
from xcompose.engines.base import Executor
from xcompose.engines.liveness import DEFAULT_LOST_AFTER_S
from xcompose.errors import DockerError, HostError, XcomposeError
from xcompose.live import EngineInfo, LiveState
from xcompose.plan.specs import HostTarget


@dataclass
class Fleet:
    """Executors of the hosts that answered, and the errors of those that did not."""

    executors: dict[str, Executor] = field(default_factory=dict)
    info: dict[str, EngineInfo] = field(default_factory=dict)
    errors: list[HostError] = field(default_factory=list)
    # project -> a reading of its live state under way (prefetch_live)
    _ahead: dict[str, Future[tuple[LiveState, list[XcomposeError]]]] = field(default_factory=dict, repr=False)
    # (host, image) -> a reading of the ports it exposes under way (prefetch_image_ports)
    _ports_ahead: dict[tuple[str, str], Future[tuple[str, ...] | None]] = field(default_factory=dict, repr=False)

    def close(self) -> None:
        for executor in self.executors.values():
            executor.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def prefetch_live(self, project: str) -> None:
        """Start reading the project's live state now, for the next read_live of it. For a
        caller that holds the project lock and changes none of the project's objects before
        that read (`up` reads its certificates and images meanwhile): far away, the read's
        round trips then overlap with theirs."""
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch-live")
        self._ahead[project] = worker.submit(self._read_live, project)
        worker.shutdown(wait=False)

    def read_live(self, project: str) -> tuple[LiveState, list[XcomposeError]]:
        """The project's containers, networks and volumes on every host that answered, and
        one error per host whose reading failed (that host is left out of the state); what
        prefetch_live began, when it did."""
        ahead = self._ahead.pop(project, None)
        return ahead.result() if ahead is not None else self._read_live(project)

    def _read_live(self, project: str) -> tuple[LiveState, list[XcomposeError]]:
        """The project's containers, networks and volumes on every host that answered, and
        one error per host whose reading failed (that host is left out of the state).
        All hosts at once, and each host's objects together: far away every question is a
        round trip, and a no-op `up` is little else."""
        live = LiveState()
        failures: list[XcomposeError] = []
        with ThreadPoolExecutor(max_workers=max(1, len(self.executors))) as pool:
            reads = {host: pool.submit(e.project_objects, project) for host, e in self.executors.items()}
            for host in sorted(reads):
                try:
                    found = reads[host].result()
                except DockerError as error:
                    failures.append(error.at(f"host {host}: reading the project's objects"))
                    continue
                except HostError as error:
                    failures.append(error)
                    continue
                live.containers[host], live.networks[host], live.volumes[host] = found
        return live, failures

    def prefetch_image_ports(self, images: Mapping[str, Iterable[str]]) -> None:
        """Start reading what these images (host -> images) expose, for the next
        image_ports that asks: for a caller that changes none of them before then (`up`
        builds images, so it leaves those out). Nothing is pulled ahead of time."""
        jobs = [(host, image) for host, wanted in images.items() if host in self.executors for image in wanted]
        if not jobs:
            return
        worker = ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="prefetch-ports")
        for host, image in jobs:
            self._ports_ahead[(host, image)] = worker.submit(self.executors[host].image_ports, image)
        worker.shutdown(wait=False)

    def image_ports(self, images: Mapping[str, Mapping[str, bool]]) -> dict[str, tuple[PortSpec, ...] | None]:
        """What each image exposes, read on a host that runs it (`images`: host -> image ->
        whether it may be pulled there first, as `up` would anyway); an image that is not
        on its host and may not be pulled is not known (None)."""
        found: dict[str, tuple[PortSpec, ...] | None] = {}

        def read(host: str, image: str, pull: bool) -> tuple[str, tuple[PortSpec, ...] | None]:
            executor = self.executors[host]
            ahead = self._ports_ahead.pop((host, image), None)
            exposed = ahead.result() if ahead is not None else executor.image_ports(image)
            if exposed is None and pull:
                try:
                    executor.pull(image)
                except DockerError as error:
                    raise error.at(f"host {host}: pulling {image}") from error
                exposed = executor.image_ports(image)
            return image, None if exposed is None else _port_specs(exposed)

        jobs = [(host, image, pull) for host, wanted in sorted(images.items())
                for image, pull in sorted(wanted.items())]
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(jobs)))) as pool:
            for image, ports in pool.map(lambda job: read(*job), jobs):
                if found.get(image) is None:
                    found[image] = ports
        return found


def _port_specs(exposed: tuple[str, ...]) -> tuple[PortSpec, ...]:
    """`3306/tcp` keys of an image's ExposedPorts; anything else (sctp) cannot be relayed."""
    specs = []
    for key in exposed:
        number, _, protocol = key.partition("/")
        if number.isdigit() and protocol in ("", "tcp", "udp"):
            specs.append(PortSpec(port=int(number), protocol="udp" if protocol == "udp" else "tcp"))
    return tuple(specs)


def reach(
    targets: Iterable[HostTarget],
    make: Callable[[HostTarget], Executor] | None = None,
    *,
    lost_after: float | None = None,
) -> Fleet:
    """Connect to every host at once; a host that fails is reported, never skipped silently.
    `lost_after`: how long a host that sets no `timeout` may stay silent (default 30s)."""
    if make is None:
        from xcompose.engines import connect

        make = connect
    fallback = DEFAULT_LOST_AFTER_S if lost_after is None else lost_after
    targets = [t if t.lost_after is not None else replace(t, lost_after=fallback) for t in targets]
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
