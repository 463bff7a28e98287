"""An in-memory Docker engine behind the Executor interface, for unit tests of the apply
layer. The end-to-end tests hold the real executors to the same behaviour on the lab."""

from __future__ import annotations

import hashlib
import io
import itertools
import posixpath
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any

from xcompose.engines.base import Executor, LogWindow, Streams
from xcompose.errors import DockerError, HostError
from xcompose.live import EngineInfo, LiveContainer, LiveNetwork, LiveVolume
from xcompose.plan import updatable
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.specs import BuildSpec, ContainerSpec, ExecOptions, HostTarget, NetworkSpec, VolumeSpec

_ids = itertools.count(1)


@dataclass
class FakeEngine:
    """One host's engine state; tests read and poke it directly."""

    host: str
    images: set[str] = field(default_factory=lambda: {"redis:7", "haproxy:2.6"})
    image_ports: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"redis:7": ("6379/tcp",)})
    containers: dict[str, LiveContainer] = field(default_factory=dict)
    specs: dict[str, ContainerSpec] = field(default_factory=dict)
    networks: dict[str, LiveNetwork] = field(default_factory=dict)
    volumes: dict[str, LiveVolume] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    down: bool = False
    fail_create: set[str] = field(default_factory=set)  # container names whose create fails
    fail_build: set[str] = field(default_factory=set)  # images whose build fails
    # Images whose id is not `sha256:IMAGE`: those built here, whose id follows their context.
    image_ids: dict[str, str] = field(default_factory=dict)
    # What each build received: the spec as the engine saw it and the names in its context.
    builds: list[tuple[BuildSpec, list[str]]] = field(default_factory=list)
    stop_timeouts: list[tuple[str, int | None]] = field(default_factory=list)  # (container, timeout) per stop
    pullable: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)  # what `events` streams, then ends  # images a pull finds (others: pull access denied)
    # Commands run in containers (container, argv, options), and what each argv answers.
    execs: list[tuple[str, tuple[str, ...], ExecOptions | None]] = field(default_factory=list)
    exec_results: dict[tuple[str, ...], tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Shared by the engines of one test, so that order across hosts can be checked.
    timeline: list[str] = field(default_factory=list)
    # container id -> the (path, tar) archives put into it
    archives: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)

    def named(self, name: str) -> LiveContainer | None:
        return next((c for c in self.containers.values() if c.name == name), None)


class FakeExecutor(Executor):
    def __init__(self, target: HostTarget, engine: FakeEngine) -> None:
        self.target = target
        self.engine = engine

    def _record(self, call: str) -> None:
        with self.engine.lock:
            self.engine.calls.append(call)
            self.engine.timeline.append(call)

    def _find(self, ref: str) -> LiveContainer:
        found = self.engine.containers.get(ref) or self.engine.named(ref)
        if found is None:
            raise DockerError(f"No such container: {ref}")
        return found

    def preflight(self) -> EngineInfo:
        if self.engine.down:
            raise HostError(self.target.name, self.target.docker or "local", "connection refused")
        return EngineInfo(self.target.name, self.target.docker or "local", "28.0", "1.48", 0.1)

    def containers(self, project: str | None) -> list[LiveContainer]:
        return [c for c in self.engine.containers.values()
                if (LABEL_PROJECT in c.labels if project is None else c.labels.get(LABEL_PROJECT) == project)]

    def networks(self, project: str) -> list[LiveNetwork]:
        return [n for n in self.engine.networks.values() if n.labels.get(LABEL_PROJECT) == project]

    def volumes(self, project: str) -> list[LiveVolume]:
        return [v for v in self.engine.volumes.values() if v.labels.get(LABEL_PROJECT) == project]

    def ensure_network(self, spec: NetworkSpec) -> None:
        self._record(f"network {spec.name}")
        self.engine.networks.setdefault(spec.name, LiveNetwork(spec.name, spec.name, dict(spec.labels)))

    def ensure_volume(self, spec: VolumeSpec) -> None:
        self._record(f"volume {spec.name}")
        self.engine.volumes.setdefault(spec.name, LiveVolume(spec.name, dict(spec.labels)))

    def remove_network(self, name: str) -> None:
        self._record(f"rm-network {name}")
        self.engine.networks.pop(name, None)

    def remove_volume(self, name: str) -> None:
        self._record(f"rm-volume {name}")
        self.engine.volumes.pop(name, None)

    def image_id(self, image: str) -> str | None:
        if image not in self.engine.images:
            return None
        return self.engine.image_ids.get(image, f"sha256:{image}")

    def image_ports(self, image: str) -> tuple[str, ...] | None:
        return self.engine.image_ports.get(image, ()) if image in self.engine.images else None

    def import_image(self, reference: str, tar_bytes: bytes) -> None:
        self._record(f"import {reference}")
        self.engine.images.add(reference)

    def pull(self, image: str, platform: str | None = None) -> None:
        self._record(f"pull {image}" + (f" for {platform}" if platform else ""))
        if image not in self.engine.pullable:
            raise DockerError(f"pull access denied for {image}, repository does not exist")
        self.engine.images.add(image)

    def build(self, spec: BuildSpec, context: IO[bytes] | None, progress: Callable[[str], None]) -> str:
        """As an engine does, as far as `up` can tell: the same spec and context give the
        same image id (the build cache), anything changed a new one."""
        self._record(f"build {spec.image}")
        names: list[str] = []
        digest = hashlib.sha256(repr((replace(spec, no_cache=False, pull=False), spec.args)).encode())
        if context is not None:
            with tarfile.open(fileobj=context, mode="r|") as tar:
                for member in tar:
                    names.append(member.name)
                    digest.update(member.name.encode())
                    data = tar.extractfile(member) if member.isfile() else None
                    digest.update(data.read() if data is not None else b"")
        progress(f"Step 1/1 : FROM {spec.image}")
        if spec.image in self.engine.fail_build:
            raise DockerError("The command '/bin/sh -c false' returned a non-zero code: 1")
        with self.engine.lock:
            self.engine.builds.append((spec, names))
            self.engine.images.add(spec.image)
            self.engine.image_ids[spec.image] = image_id = f"sha256:{digest.hexdigest()[:16]}"
        return image_id

    def create(self, spec: ContainerSpec) -> str:
        self._record(f"create {spec.name}")
        if spec.name in self.engine.fail_create:
            raise DockerError(f"Conflict creating {spec.name}")
        if spec.image not in self.engine.images:
            raise DockerError(f"No such image: {spec.image}")
        with self.engine.lock:
            if self.engine.named(spec.name) is not None:
                raise DockerError(f'Conflict. The container name "/{spec.name}" is already in use')
            cid = f"c{next(_ids):011d}"
            self.engine.containers[cid] = LiveContainer(
                id=cid, name=spec.name, image=spec.image, image_id=self.image_id(spec.image) or f"sha256:{spec.image}",
                labels=spec.labels_with_hash(), state="created", health=None,
                ports=tuple(f"{p.host_ip or '0.0.0.0'}:{p.host_ports}->{p.container_port}/{p.protocol}"
                            for p in spec.ports if p.host_port is not None),
                stop_timeout=spec.stop_timeout,
                networks=tuple(sorted({e.network for e in spec.networks})) if spec.network_mode is None else (),
                updatable=updatable.read(updatable.host_config(spec)),
            )
            self.engine.specs[cid] = spec
        return cid

    def start(self, container_id: str) -> None:
        self._record(f"start {self._find(container_id).name}")
        current = self._find(container_id)
        health = "healthy" if self.engine.specs[current.id].healthcheck else None
        self.engine.containers[current.id] = replace(current, state="running", health=health)

    def stop(self, container_id: str, timeout: int | None = None) -> None:
        current = self._find(container_id)
        self._record(f"stop {current.name}")
        self.engine.stop_timeouts.append((current.name, timeout))
        self.engine.containers[current.id] = replace(current, state="exited", exit_code=0)

    def _set_state(self, container_id: str, state: str) -> None:
        current = self._find(container_id)
        self.engine.containers[current.id] = replace(current, state=state)

    def remove(self, container_id: str, *, force: bool = True, volumes: bool = False) -> None:
        try:
            current = self._find(container_id)
        except DockerError:
            return
        self._record(f"remove {current.name}")
        del self.engine.containers[current.id]

    def rename(self, container_id: str, name: str) -> None:
        current = self._find(container_id)
        self._record(f"rename {current.name} {name}")
        self.engine.containers[current.id] = replace(current, name=name)

    def inspect(self, container_id: str) -> LiveContainer:
        return self._find(container_id)

    def attach_exec(
        self, container_id: str, argv: Sequence[str], streams: Streams, *, tty: bool = False,
        options: ExecOptions | None = None,
    ) -> int:
        self._record(f"exec {self._find(container_id).name}")
        self.engine.execs.append((self._find(container_id).name, tuple(argv), options))
        if streams.stdin is not None:
            streams.stdout.write(streams.stdin.read())  # a fake `cat`
        code, output = self.engine.exec_results.get(tuple(argv), (0, ""))
        streams.stdout.write(output.encode())
        return code

    def remove_image(self, image: str) -> None:
        self._record(f"rmi {image}")
        self.engine.images.discard(image)

    def start_attached(self, container_id: str, streams: Streams, *, tty: bool = False) -> int:
        """Runs the container's command as the fake exec does: its output, its code."""
        current = self._find(container_id)
        self._record(f"start {current.name}")
        argv = self.engine.specs[current.id].command or ()
        self.engine.execs.append((current.name, tuple(argv), None))
        if streams.stdin is not None:
            streams.stdout.write(streams.stdin.read())
        code, output = self.engine.exec_results.get(tuple(argv), (0, ""))
        streams.stdout.write(output.encode())
        self.engine.containers[current.id] = replace(current, state="exited", exit_code=code)
        return code

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        self._record(f"kill {self._find(container_id).name} {signal}")
        self._set_state(container_id, "exited")

    def pause(self, container_id: str) -> None:
        self._record(f"pause {self._find(container_id).name}")
        self._set_state(container_id, "paused")

    def unpause(self, container_id: str) -> None:
        self._record(f"unpause {self._find(container_id).name}")
        self._set_state(container_id, "running")

    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]:
        return ["PID", "CMD"], [["1", self._find(container_id).name]]

    def exec(
        self, container_id: str, argv: Sequence[str], timeout: float = 30, *, options: ExecOptions | None = None
    ) -> tuple[int, str]:
        current = self._find(container_id)
        self._record(f"exec {current.name}")
        if current.state != "running":  # as an engine answers (409)
            raise DockerError(f"Container {current.id} is not running")
        self.engine.execs.append((current.name, tuple(argv), options))
        return self.engine.exec_results.get(tuple(argv), (0, ""))

    def events(self, project: str) -> Iterator[dict[str, Any]]:
        yield from (e for e in self.engine.events if e.get("Actor", {}).get("Attributes", {}).get(LABEL_PROJECT)
                    == project)

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        found = self._find(container_id)
        self._record(f"put {found.name}:{path}")
        self.engine.archives.setdefault(found.id, []).append((path, tar_bytes))

    def get_archive(self, container_id: str, path: str, sink: IO[bytes]) -> None:
        """The file last put at `path`, as the tar an engine gives (a fake filesystem of
        the files put into the container)."""
        found = self._find(container_id)
        self._record(f"get {found.name}:{path}")
        folder, name = posixpath.split(path)
        for put_at, data in reversed(self.engine.archives.get(found.id, [])):
            if put_at != folder:
                continue
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                member = next((m for m in tar.getmembers() if m.name == name), None)
                content = tar.extractfile(member) if member is not None and member.isfile() else None
                if member is None or content is None:
                    continue
                with tarfile.open(fileobj=sink, mode="w|") as out:
                    out.addfile(member, content)
                return
        raise DockerError(f"Could not find the file {path} in container {container_id}")

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, window: LogWindow | None = None
    ) -> Iterator[str]:
        yield from ()

    def close(self) -> None:
        pass
