"""Docker engines kept in memory, one per simulated host, for benches of fleets larger than
any lab: `bench/fleet.py` runs the real `up` against a hundred of them.

Each engine call sleeps a set latency first (the round trip to a host far away) and then
does its work in memory. Lookups are by id and by name in dicts, so that the engine's own
work stays small next to xcompose's; what it does cost is counted (`own_cpu`), so that a
bench can tell xcompose's CPU time from the fake's.

Not tests/fakes.py's FakeExecutor: that one records every call, injects failures and looks
containers up by scanning, which is what unit tests want and what 36,000 steps cannot afford.
Not in the package either: no user runs xcompose against an engine that does nothing.
"""

from __future__ import annotations

import io
import itertools
import posixpath
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import IO, Any

from xcompose.engines.base import Executor, LogWindow, Streams
from xcompose.errors import DockerError
from xcompose.live import EngineInfo, LiveContainer, LiveNetwork, LiveVolume
from xcompose.plan import updatable
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.specs import BuildSpec, ContainerSpec, ExecOptions, HostTarget, NetworkSpec, VolumeSpec
from xcompose.run.statebox import LABEL_BOX

_ids = itertools.count(1)


class CpuMeter:
    """CPU seconds spent inside the fake engines, over all threads. Each thread adds to its
    own sum, so that no lock is taken (a thread waiting for it would be xcompose's time)."""

    def __init__(self) -> None:
        self._by_thread: dict[int, float] = {}

    def add_since(self, began: float) -> None:
        """The calling thread's CPU time since `began` (its `time.thread_time()`), this
        call's own bookkeeping included: the clock is read last."""
        key = threading.get_ident()
        self._by_thread[key] = self._by_thread.get(key, 0.0) - began + time.thread_time()

    @property
    def seconds(self) -> float:
        return sum(list(self._by_thread.values()))


class MemoryExecutor(Executor):
    """One host's engine in memory: every image is there, every container starts at once
    (healthy where it has a healthcheck), every command run in one succeeds."""

    def __init__(self, target: HostTarget, latency_s: float, meter: CpuMeter) -> None:
        self.target = target
        self.latency_s = latency_s
        self.meter = meter
        self.calls = 0
        self._lock = threading.Lock()
        self._containers: dict[str, LiveContainer] = {}
        self._by_name: dict[str, str] = {}  # name -> id
        self._networks: dict[str, LiveNetwork] = {}
        self._volumes: dict[str, LiveVolume] = {}
        self._healthchecked: set[str] = set()  # ids of containers that have a healthcheck
        self._files: dict[str, dict[str, bytes]] = {}  # container id -> folder -> the last tar put there

    def _call(self) -> float:
        """The round trip, then the start of the engine's own CPU time. Counting the call
        and measuring it are the engine's time too: left outside, they were 0.9 us a call
        (0.12 s of a fresh `up` of 10,000 services) counted as xcompose's."""
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        began = time.thread_time()
        with self._lock:
            self.calls += 1
        return began

    def _done(self, began: float) -> None:
        self.meter.add_since(began)

    def _find(self, ref: str) -> LiveContainer:
        found = self._containers.get(ref) or self._containers.get(self._by_name.get(ref, ""))
        if found is None:
            raise DockerError(f"No such container: {ref}")
        return found

    def _set(self, container_id: str, **changes: Any) -> LiveContainer:
        with self._lock:
            current = self._find(container_id)
            self._containers[current.id] = changed = replace(current, **changes)
        return changed

    def preflight(self) -> EngineInfo:
        began = self._call()
        info = EngineInfo(self.target.name, self.target.docker or "memory", "28.0", "1.48",
                          self.latency_s * 1000)
        self._done(began)
        return info

    def containers(self, project: str | None) -> list[LiveContainer]:
        began = self._call()
        with self._lock:
            found = [c for c in self._containers.values()
                     if (LABEL_PROJECT in c.labels if project is None else c.labels.get(LABEL_PROJECT) == project)]
        self._done(began)
        return found

    def networks(self, project: str) -> list[LiveNetwork]:
        began = self._call()
        found = [n for n in self._networks.values() if n.labels.get(LABEL_PROJECT) == project]
        self._done(began)
        return found

    def volumes(self, project: str) -> list[LiveVolume]:
        began = self._call()
        found = [v for v in self._volumes.values() if v.labels.get(LABEL_PROJECT) == project]
        self._done(began)
        return found

    def ensure_network(self, spec: NetworkSpec) -> None:
        began = self._call()
        with self._lock:
            self._networks.setdefault(spec.name, LiveNetwork(f"n{next(_ids)}", spec.name, dict(spec.labels)))
        self._done(began)

    def ensure_volume(self, spec: VolumeSpec) -> None:
        began = self._call()
        with self._lock:
            self._volumes.setdefault(spec.name, LiveVolume(spec.name, dict(spec.labels)))
        self._done(began)

    def remove_network(self, name: str) -> None:
        began = self._call()
        with self._lock:
            self._networks.pop(name, None)
        self._done(began)

    def remove_volume(self, name: str) -> None:
        began = self._call()
        with self._lock:
            self._volumes.pop(name, None)
        self._done(began)

    def image_id(self, image: str) -> str | None:
        self._done(self._call())
        return f"sha256:{image}"

    def image_ports(self, image: str) -> tuple[str, ...] | None:
        self._done(self._call())
        return ()

    def remove_image(self, image: str) -> None:
        self._done(self._call())

    def import_image(self, reference: str, tar_bytes: bytes) -> None:
        self._done(self._call())

    def pull(self, image: str, platform: str | None = None) -> None:
        self._done(self._call())

    def build(self, spec: BuildSpec, context: IO[bytes] | None, progress: Callable[[str], None]) -> str:
        self._done(self._call())
        return f"sha256:{spec.image}"

    def create(self, spec: ContainerSpec) -> str:
        """As an engine records it, and as `inspect` reads it back: the labels (with the
        config hash the spec carries), the published ports, the networks and what
        `docker update` changes, so that `decide` checks drift as against a real engine."""
        # What a real executor computes before its call (the labels with the config hash,
        # the host config) is xcompose's time, not the engine's.
        labels, host_config = spec.labels_with_hash(), updatable.host_config(spec)
        began = self._call()
        container = LiveContainer(
            id=f"c{next(_ids):011d}", name=spec.name, image=spec.image,
            image_id=spec.image_id or f"sha256:{spec.image}",
            labels=labels, state="created", health=None,
            ports=tuple(f"{p.host_ip or '0.0.0.0'}:{p.host_ports}->{p.container_port}/{p.protocol}"
                        for p in spec.ports if p.host_port is not None),
            stop_timeout=spec.stop_timeout,
            networks=tuple(sorted({e.network for e in spec.networks})) if spec.network_mode is None else (),
            updatable=updatable.read(host_config),
        )
        with self._lock:
            if spec.name in self._by_name:
                self._done(began)
                raise DockerError(f'Conflict. The container name "/{spec.name}" is already in use')
            self._containers[container.id] = container
            self._by_name[spec.name] = container.id
            if spec.healthcheck is not None:
                self._healthchecked.add(container.id)
        self._done(began)
        return container.id

    def start(self, container_id: str) -> None:
        began = self._call()
        healthy = container_id in self._healthchecked
        self._set(container_id, state="running", health="healthy" if healthy else None, exit_code=None)
        self._done(began)

    def stop(self, container_id: str, timeout: int | None = None) -> None:
        began = self._call()
        self._set(container_id, state="exited", exit_code=0)
        self._done(began)

    def remove(self, container_id: str, *, force: bool = True, volumes: bool = False) -> None:
        began = self._call()
        with self._lock:
            found = self._containers.get(container_id) or self._containers.get(self._by_name.get(container_id, ""))
            if found is not None:
                del self._containers[found.id]
                self._by_name.pop(found.name, None)
                self._files.pop(found.id, None)
                self._healthchecked.discard(found.id)
        self._done(began)

    def rename(self, container_id: str, name: str) -> None:
        began = self._call()
        with self._lock:
            current = self._find(container_id)
            self._by_name.pop(current.name, None)
            self._by_name[name] = current.id
            self._containers[current.id] = replace(current, name=name)
        self._done(began)

    def inspect(self, container_id: str) -> LiveContainer:
        began = self._call()
        try:
            return self._find(container_id)
        finally:
            self._done(began)

    def exec(
        self, container_id: str, argv: Sequence[str], timeout: float = 30, *, options: ExecOptions | None = None
    ) -> tuple[int, str]:
        began = self._call()
        self._find(container_id)
        self._done(began)
        return 0, ""

    def attach_exec(
        self, container_id: str, argv: Sequence[str], streams: Streams, *, tty: bool = False,
        options: ExecOptions | None = None,
    ) -> int:
        return self.exec(container_id, argv, options=options)[0]

    def start_attached(self, container_id: str, streams: Streams, *, tty: bool = False) -> int:
        self.start(container_id)
        self.stop(container_id)
        return 0

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        self.stop(container_id)

    def pause(self, container_id: str) -> None:
        began = self._call()
        self._set(container_id, state="paused")
        self._done(began)

    def unpause(self, container_id: str) -> None:
        began = self._call()
        self._set(container_id, state="running")
        self._done(began)

    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]:
        return ["PID", "CMD"], [["1", self.inspect(container_id).name]]

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        """A state box's files are kept whole, per folder: it reads back what it put. Those
        of other containers are not kept: a real engine keeps them on its host, not in this
        process, where 26,000 ambassadors' uploads (260 MB at 10,000 services) made every
        later allocation of xcompose's touch new pages (an upload's tar: 5.8 -> 10.4 us)."""
        began = self._call()
        with self._lock:
            container = self._find(container_id)
            if LABEL_BOX in container.labels:
                self._files.setdefault(container.id, {})[path.rstrip("/") or "/"] = tar_bytes
        self._done(began)

    def get_archive(self, container_id: str, path: str, sink: IO[bytes]) -> None:
        began = self._call()
        try:
            folder, name = posixpath.split(path)
            data = self._files.get(self._find(container_id).id, {}).get(folder)
            if data is not None:
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                    member = next((m for m in tar.getmembers() if m.name == name), None)
                    content = tar.extractfile(member) if member is not None and member.isfile() else None
                    if member is not None and content is not None:
                        with tarfile.open(fileobj=sink, mode="w|") as out:
                            out.addfile(member, content)
                        return
            raise DockerError(f"Could not find the file {path} in container {container_id}")
        finally:
            self._done(began)

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, window: LogWindow | None = None
    ) -> Iterator[str]:
        yield from ()

    def events(self, project: str) -> Iterator[dict[str, Any]]:
        yield from ()

    def close(self) -> None:
        pass
