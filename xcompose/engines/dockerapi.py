"""The `api` executor: the Docker Engine API through docker-py, over `unix://`, `tcp://`
(with TLS) and `ssh://` URLs (the client and its transports: apiclient.py)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import IO, Any

import docker
import docker.errors
import paramiko
import requests
import urllib3
from docker.utils import parse_repository_tag

from xcompose.engines.apiargs import create_args, endpoint_args
from xcompose.engines.apiclient import TIMEOUT, SharedPoolSSHAdapter, host_error, make_client
from xcompose.engines.apistreams import close_stream, relay
from xcompose.engines.base import (
    BUILD_TIMEOUT_S,
    MAX_CHANNELS,
    TIMED_OUT,
    Executor,
    LogWindow,
    Streams,
    line_splitter,
    live_container,
    project_filter,
)
from xcompose.engines.liveness import DEFAULT_LOST_AFTER_S
from xcompose.errors import DockerError, HostError
from xcompose.live import EngineInfo, LiveContainer, LiveNetwork, LiveVolume
from xcompose.plan.specs import BuildSpec, ContainerSpec, ExecOptions, HostTarget, NetworkSpec, VolumeSpec

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# Where a connection costs a round trip or more to open (see _warm_pool); a unix socket's does not.
NETWORK_SCHEMES = ("ssh://", "tcp://", "http://", "https://")
NS = 1_000_000_000


def _ipam(spec: NetworkSpec) -> docker.types.IPAMConfig | None:
    if spec.ipam_driver is None and not spec.ipam_pools:
        return None
    pools = []
    for pool in spec.ipam_pools:
        fields = dict(pool)
        aux = {k: v for k, v in fields.items() if k not in ("subnet", "ip_range", "gateway")}
        pools.append(docker.types.IPAMPool(subnet=fields.get("subnet"), iprange=fields.get("ip_range"),
                                           gateway=fields.get("gateway"), aux_addresses=aux or None))
    return docker.types.IPAMConfig(driver=spec.ipam_driver or "default", pool_configs=pools)


def _message(error: docker.errors.APIError) -> str:
    explanation = error.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or error).strip()


class ApiExecutor(Executor):
    def __init__(self, target: HostTarget) -> None:
        self.target = target
        self.url = target.docker or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        self.lost_after = target.lost_after or DEFAULT_LOST_AFTER_S
        self._api: docker.APIClient | None = None
        self._lock = threading.Lock()
        # Requests under way at once: over ssh:// each is an SSH channel (sshd MaxSessions).
        self.parallel = max(1, min(target.max_parallel, MAX_CHANNELS))
        self._slots = threading.BoundedSemaphore(self.parallel)

    # --- connection ----------------------------------------------------------------------

    @property
    def api(self) -> docker.APIClient:
        if self._api is None:
            raise HostError(self.target.name, self.url, "not connected", "call preflight() first")
        return self._api

    def preflight(self) -> EngineInfo:
        with self._lock:
            if self._api is None:
                try:
                    self._api = make_client(self.target, self.url, self.lost_after)
                except HostError:
                    raise
                except Exception as error:
                    raise self._host_error(error) from error
        if self.url.startswith(NETWORK_SCHEMES):
            self._warm_pool()
        # The one question before the lock: no /_ping after it, which only repeated the
        # round trip. The latency is what /version took, connecting included (as the ssh
        # executor's is a whole `docker version`).
        started = time.perf_counter()
        with self._call():
            data = self.api.version(api_version=False)
        latency = (time.perf_counter() - started) * 1000
        # docker-py's "auto", after the fact (see _client): speak the engine's API
        # version. APIClient has no public setter; docker<8 keeps it in `_version`.
        self.api._version = str(data["ApiVersion"])  # type: ignore[attr-defined]
        return EngineInfo(
            host=self.target.name,
            url=self.url,
            version=str(data.get("Version", "")),
            api_version=str(data["ApiVersion"]),
            latency_ms=latency,
        )

    def _warm_pool(self) -> None:
        """Open the connections of the requests that may be under way at once, beside the
        one /version opens. Right after the lock a no-op `up` asks that many things of a
        host (the heartbeat, the three kinds of the live state, the certificates, then the
        containers): opened then, they were a second wave of connecting. Over ssh:// each
        is a channel and a `docker system dial-stdio` process started on the host, slow on
        a busy one, over tcp:// a handshake a round trip long: started together they cost
        one. Each answers a /_ping and stays in the pool; one that fails leaves the next
        request to connect as it would have (/version reports the host)."""

        def open_one() -> None:
            # Unversioned: the engine's API version is not known yet.
            with suppress(Exception):
                self.api.get(f"{self.api.base_url}/_ping", timeout=TIMEOUT).close()

        for number in range(self.parallel - 1):
            threading.Thread(target=open_one, name=f"warm-{self.target.name}-{number}", daemon=True).start()

    def _ssh_lost(self) -> bool:
        adapter = getattr(self._api, "_custom_adapter", None) if self._api is not None else None
        return isinstance(adapter, SharedPoolSSHAdapter) and adapter.lost

    def _host_error(self, error: BaseException) -> HostError:
        return host_error(self.target, self.url, error, self.lost_after, self._ssh_lost())

    @contextmanager
    def _call(self) -> Iterator[None]:
        """One engine operation: bounded, with docker-py's and the transport's errors
        turned into DockerError (the engine said no) or HostError (no engine to ask)."""
        with self._slots:
            try:
                yield
            except docker.errors.APIError as error:
                raise DockerError(_message(error)) from error
            except HostError:
                raise
            except (
                docker.errors.DockerException,
                requests.exceptions.RequestException,
                paramiko.SSHException,
                OSError,
            ) as error:
                raise self._host_error(error) from error

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None

    # --- reading -------------------------------------------------------------------------

    def containers(self, project: str | None) -> list[LiveContainer]:
        with self._call():
            found = self.api.containers(all=True, filters={"label": project_filter(project)})

        def inspected(summary: dict[str, Any]) -> LiveContainer | None:
            try:
                return self.inspect(summary["Id"])
            except DockerError:
                return None  # removed between listing and inspecting

        # One round trip each: as many at once as the pool holds connections (over ssh://
        # a new one costs a channel and a `docker system dial-stdio` on the host).
        with ThreadPoolExecutor(max_workers=max(1, min(self.parallel, len(found)))) as pool:
            return [c for c in pool.map(inspected, found) if c is not None]

    def inspect(self, container_id: str) -> LiveContainer:
        with self._call():
            return live_container(self.api.inspect_container(container_id))

    def networks(self, project: str) -> list[LiveNetwork]:
        with self._call():
            found = self.api.networks(filters={"label": project_filter(project)})
        return [LiveNetwork(n["Id"], n["Name"], dict(n.get("Labels") or {})) for n in found]

    def volumes(self, project: str) -> list[LiveVolume]:
        with self._call():
            found = self.api.volumes(filters={"label": project_filter(project)}).get("Volumes")
        return [LiveVolume(v["Name"], dict(v.get("Labels") or {})) for v in found or []]

    def image_id(self, image: str) -> str | None:
        with self._call():
            try:
                found: dict[str, Any] = self.api.inspect_image(image)  # type: ignore[no-untyped-call]  # untyped in types-docker
                return str(found["Id"])
            except docker.errors.NotFound:
                return None

    def image_ports(self, image: str) -> tuple[str, ...] | None:
        with self._call():
            try:
                found: dict[str, Any] = self.api.inspect_image(image)  # type: ignore[no-untyped-call]  # untyped in types-docker
            except docker.errors.NotFound:
                return None
        return tuple(sorted((found.get("Config") or {}).get("ExposedPorts") or {}))

    # --- networks and volumes ------------------------------------------------------------

    def _network_exists(self, name: str) -> bool:
        with self._call():
            try:
                # Docker also resolves id prefixes: only the exact name counts.
                return bool(self.api.inspect_network(name)["Name"] == name)
            except docker.errors.NotFound:
                return False

    def ensure_network(self, spec: NetworkSpec) -> None:
        if self._network_exists(spec.name):
            return
        if spec.external:
            raise DockerError(f"network {spec.name} is declared external but does not exist")
        try:
            with self._call():
                self.api.create_network(
                    spec.name,
                    driver=spec.driver,
                    options=dict(spec.driver_opts) or None,
                    labels=dict(spec.labels) or None,
                    internal=spec.internal,
                    attachable=spec.attachable or None,
                    enable_ipv6=spec.enable_ipv6,
                    ipam=_ipam(spec),
                )
        except DockerError:
            if not self._network_exists(spec.name):  # else: created meanwhile by another run
                raise

    def ensure_volume(self, spec: VolumeSpec) -> None:
        with self._call():
            try:
                self.api.inspect_volume(spec.name)
                return
            except docker.errors.NotFound:
                pass
            if spec.external:
                raise DockerError(f"volume {spec.name} is declared external but does not exist")
            # Creating a volume whose name exists is a no-op for the engine: no race here.
            self.api.create_volume(
                spec.name,
                driver=spec.driver,
                driver_opts=dict(spec.driver_opts) or None,
                labels=dict(spec.labels) or None,
            )

    def remove_network(self, name: str) -> None:
        with self._call(), suppress(docker.errors.NotFound):
            self.api.remove_network(name)

    def remove_volume(self, name: str) -> None:
        with self._call(), suppress(docker.errors.NotFound):
            self.api.remove_volume(name)

    # --- images --------------------------------------------------------------------------

    def pull(self, image: str, platform: str | None = None) -> None:
        repository, tag = parse_repository_tag(image)
        with self._call():
            # Pull errors often arrive inside a 200 stream, not as an HTTP status.
            for event in self.api.pull(repository, tag=tag or "latest", stream=True, decode=True, platform=platform):
                if isinstance(event, dict) and event.get("error"):
                    raise DockerError(str(event["error"]))

    def import_image(self, reference: str, tar_bytes: bytes) -> None:
        repository, tag = parse_repository_tag(reference)
        with self._call():
            self.api.import_image_from_data(tar_bytes, repository=repository, tag=tag)

    def build(self, spec: BuildSpec, context: IO[bytes] | None, progress: Callable[[str], None]) -> str:
        options: dict[str, Any] = {
            "tag": spec.image, "dockerfile": spec.dockerfile, "buildargs": dict(spec.args) or None,
            "target": spec.target, "labels": dict(spec.labels) or None, "network_mode": spec.network,
            "shmsize": spec.shm_size, "extra_hosts": list(spec.extra_hosts) or None, "nocache": spec.no_cache,
            "pull": spec.pull, "cache_from": list(spec.cache_from) or None, "platform": spec.platform,
            "isolation": spec.isolation, "rm": True, "decode": True, "timeout": round(BUILD_TIMEOUT_S),
        }
        with self._call():
            if context is None:  # a URL: the engine fetches it
                events = self.api.build(path=spec.context, **options)
            else:
                events = self.api.build(fileobj=context, custom_context=True, **options)
            # The build's errors arrive inside a 200 stream, as the pull's do.
            for event in events:
                if not isinstance(event, dict):
                    continue
                if event.get("error") or event.get("errorDetail"):
                    detail = event.get("errorDetail") or {}
                    raise DockerError(str(event.get("error") or detail.get("message") or event).strip())
                text = event.get("stream") or event.get("status")
                if isinstance(text, str):
                    for line in text.splitlines():
                        if line.strip():
                            progress(line.rstrip())
            for extra in spec.tags:
                repository, tag = parse_repository_tag(extra)
                self.api.tag(spec.image, repository, tag or "latest")
        image_id = self.image_id(spec.image)
        if image_id is None:
            raise DockerError(f"the build ended without an image named {spec.image}")
        return image_id

    # --- containers ----------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> str:
        api = self.api
        with self._call():
            created = api.create_container(**create_args(spec, api.api_version))
            for endpoint in spec.networks[1:]:
                api.connect_container_to_network(created["Id"], endpoint.network, **endpoint_args(endpoint))
        return str(created["Id"])

    def start(self, container_id: str) -> None:
        with self._call():
            self.api.start(container_id)

    def stop(self, container_id: str, timeout: int | None = None) -> None:
        with self._call():
            self.api.stop(container_id, timeout=timeout)

    def remove(self, container_id: str, *, force: bool = True, volumes: bool = False) -> None:
        with self._call(), suppress(docker.errors.NotFound):
            self.api.remove_container(container_id, force=force, v=volumes)

    def remove_image(self, image: str) -> None:
        with self._call(), suppress(docker.errors.ImageNotFound):
            self.api.remove_image(image)

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        with self._call():
            self.api.kill(container_id, signal=signal)

    def pause(self, container_id: str) -> None:
        with self._call():
            self.api.pause(container_id)

    def unpause(self, container_id: str) -> None:
        with self._call():
            self.api.unpause(container_id)

    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]:
        with self._call():
            found = self.api.top(container_id)
        return list(found.get("Titles") or []), [list(row) for row in found.get("Processes") or []]

    def attach_exec(
        self, container_id: str, argv: Sequence[str], streams: Streams, *, tty: bool = False,
        options: ExecOptions | None = None,
    ) -> int:
        how = options or ExecOptions()
        with self._call():
            exec_id = self.api.exec_create(
                container_id, list(argv), stdin=streams.stdin is not None, tty=tty, user=how.user or "",
                privileged=how.privileged, environment=[f"{k}={v}" for k, v in how.environment] or None,
                workdir=how.working_dir,
            )["Id"]
            connection = self.api.exec_start(exec_id, socket=True, tty=tty)
        relay(connection, streams, tty)
        with self._call():
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        return int(code) if code is not None else TIMED_OUT

    def start_attached(self, container_id: str, streams: Streams, *, tty: bool = False) -> int:
        params = {"stdin": int(streams.stdin is not None), "stdout": 1, "stderr": 1, "stream": 1}
        with self._call():
            connection = self.api.attach_socket(container_id, params=params)
            self.api.start(container_id)
        relay(connection, streams, tty)
        with self._call():
            return int(self.api.wait(container_id).get("StatusCode", TIMED_OUT))

    def rename(self, container_id: str, name: str) -> None:
        with self._call():
            self.api.rename(container_id, name)

    def exec(
        self, container_id: str, argv: Sequence[str], timeout: float = 30, *, options: ExecOptions | None = None
    ) -> tuple[int, str]:
        how = options or ExecOptions()
        with self._call():
            exec_id = self.api.exec_create(
                container_id, list(argv), stdout=True, stderr=True, user=how.user or "", privileged=how.privileged,
                environment=[f"{k}={v}" for k, v in how.environment] or None, workdir=how.working_dir,
            )["Id"]
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["out"] = self.api.exec_start(exec_id, stream=False, demux=False)
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread below
                box["error"] = error

        # The API has no exec timeout: wait in a helper thread and give up on it.
        worker = threading.Thread(target=run, name=f"exec-{container_id[:12]}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            return TIMED_OUT, f"timed out after {timeout:g}s"
        with self._call():
            if "error" in box:
                raise box["error"]
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        output = (box.get("out") or b"").decode("utf-8", "replace")
        return (int(code) if code is not None else TIMED_OUT), output

    def events(self, project: str) -> Iterator[dict[str, Any]]:
        # Not bounded by the slots: the stream lasts as long as the user watches.
        try:
            stream = _events_of(self.api, project)
        except docker.errors.APIError as error:
            raise DockerError(_message(error)) from error
        try:
            for event in stream:
                yield dict(event)
            if self._ssh_lost():
                raise EOFError("the connection closed while events were followed")
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError, EOFError) as error:
            raise self._host_error(error) from error
        finally:
            close_stream(stream)

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        with self._call():
            self.api.put_archive(container_id, path, tar_bytes)

    def get_archive(self, container_id: str, path: str, sink: IO[bytes]) -> None:
        with self._call():
            stream, _ = self.api.get_archive(container_id, path)
            for chunk in stream:
                sink.write(chunk)

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, window: LogWindow | None = None
    ) -> Iterator[str]:
        # Not bounded by the slots: a follow stream may last for hours.
        span = window or LogWindow()
        try:
            stream = self.api.logs(
                container_id, stdout=True, stderr=True, stream=True, follow=follow,
                tail="all" if tail is None else tail, timestamps=span.timestamps,
                **({"since": span.since} if span.since is not None else {}),
                **({"until": span.until} if span.until is not None else {}),
            )
        except docker.errors.APIError as error:
            raise DockerError(_message(error)) from error
        try:
            yield from line_splitter(iter(stream))
            if follow and self._ssh_lost():  # the watchdog closed the channel: the end is not the log's
                raise EOFError("the connection closed while the log was followed")
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError, EOFError) as error:
            raise self._host_error(error) from error  # the host was lost while the log was followed
        finally:
            close_stream(stream)


def _events_of(api: docker.APIClient, project: str) -> Any:
    return api.events(filters={"label": project_filter(project), "type": "container"}, decode=True)
