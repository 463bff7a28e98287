"""The `api` executor: the Docker Engine API through docker-py.

`unix://`, `tcp://` (with TLS) and `ssh://` URLs. For `ssh://` docker-py's paramiko
transport is kept (it runs `docker system dial-stdio` on the host per pooled connection),
but its SSH client is ours (sshconfig.DockerSSHAdapter): docker-py alone trusts only
~/.ssh/known_hosts and reads a part of ~/.ssh/config.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import docker
import docker.errors
import paramiko
import requests
from docker.constants import DEFAULT_DOCKER_API_VERSION
from docker.tls import TLSConfig
from docker.utils import kwargs_from_env, parse_repository_tag

from xcompose.engines import sshconfig
from xcompose.engines.apiargs import create_args, endpoint_args
from xcompose.engines.base import (
    DEFAULT_TIMEOUT_S,
    MAX_CHANNELS,
    TIMED_OUT,
    Executor,
    line_splitter,
    live_container,
    project_filter,
)
from xcompose.errors import DockerError, HostError
from xcompose.live import EngineInfo, LiveContainer, LiveNetwork, LiveVolume
from xcompose.plan.specs import ContainerSpec, HostTarget, NetworkSpec, VolumeSpec

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
TIMEOUT = round(DEFAULT_TIMEOUT_S)  # docker-py takes whole seconds


def _tls(target: HostTarget) -> TLSConfig | bool:
    if not (target.tls_ca_cert or target.tls_client_cert or target.tls_client_key):
        return False
    cert, key = target.tls_client_cert, target.tls_client_key
    return TLSConfig(
        client_cert=(cert, key) if cert and key else None,
        ca_cert=target.tls_ca_cert,
        verify=target.tls_verify,
    )


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


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)|Error\(-?\d+, '([^']+)'\)")


def _reason(error: BaseException) -> str:
    """The innermost cause of a transport error ('Connection refused'), not the three
    layers of requests and urllib3 wrapped around it."""
    text = str(error) or type(error).__name__
    found = _ERRNO.findall(text)
    if found:
        return str(next(a or b for a, b in reversed(found) if a or b)).strip()
    return text


class _SharedPoolSSHAdapter(sshconfig.DockerSSHAdapter):
    """docker-py keys its connection pools by the full request URL, so over ssh:// every
    new path (each container's /json, each exec) opened a new SSH channel and started a
    new `docker system dial-stdio` on the host: a no-op `up` paid that ~80 times. Here the
    plain requests of a host share one pool and reuse its connections. A request that
    takes the connection over (exec start: `Upgrade: tcp`) keeps a pool of its own, as
    before, so a hijacked connection is never handed to another request."""

    POOL_KEY = "http+docker://ssh"

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        if request.headers.get("Upgrade"):
            return self.get_connection(request.url, proxies)
        return self.get_connection(self.POOL_KEY, proxies)


class ApiExecutor(Executor):
    def __init__(self, target: HostTarget) -> None:
        self.target = target
        self.url = target.docker or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        self._api: docker.APIClient | None = None
        self._lock = threading.Lock()
        # Bounds concurrent requests: over ssh:// each is an SSH channel (sshd MaxSessions).
        self._slots = threading.BoundedSemaphore(max(1, min(target.max_parallel, MAX_CHANNELS)))

    # --- connection ----------------------------------------------------------------------

    def _client(self) -> docker.APIClient:
        # The version is pinned at construction so that nothing connects here (docker-py's
        # "auto" would, and for ssh:// through its own adapter); preflight negotiates it.
        pinned = DEFAULT_DOCKER_API_VERSION
        if self.url.startswith("ssh://"):
            # use_ssh_client=True builds an adapter that connects lazily; it is replaced
            # right away by ours.
            api = docker.APIClient(
                base_url=self.url, version=pinned, timeout=TIMEOUT, use_ssh_client=True
            )
            adapter = _SharedPoolSSHAdapter(self.url, self.target.name, TIMEOUT, MAX_CHANNELS + 1)
            api.mount("http+docker://ssh", adapter)
            # close() closes the client's own adapter: it must be ours (docker<8 keeps it here).
            api._custom_adapter = adapter  # type: ignore[attr-defined]
            return api
        if self.target.docker is None:
            # docker.from_env(): DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
            return docker.APIClient(version=pinned, timeout=TIMEOUT, **kwargs_from_env())
        return docker.APIClient(base_url=self.url, version=pinned, timeout=TIMEOUT, tls=_tls(self.target))

    @property
    def api(self) -> docker.APIClient:
        if self._api is None:
            raise HostError(self.target.name, self.url, "not connected", "call preflight() first")
        return self._api

    def preflight(self) -> EngineInfo:
        with self._lock:
            if self._api is None:
                try:
                    self._api = self._client()
                except HostError:
                    raise
                except Exception as error:
                    raise self._host_error(error) from error
        with self._call():
            data = self.api.version(api_version=False)
            # docker-py's "auto", after the fact (see _client): speak the engine's API
            # version. APIClient has no public setter; docker<8 keeps it in `_version`.
            self.api._version = str(data["ApiVersion"])  # type: ignore[attr-defined]
            started = time.perf_counter()
            self.api.ping()
            latency = (time.perf_counter() - started) * 1000
        return EngineInfo(
            host=self.target.name,
            url=self.url,
            version=str(data.get("Version", "")),
            api_version=str(data["ApiVersion"]),
            latency_ms=latency,
        )

    def _host_error(self, error: BaseException) -> HostError:
        text = _reason(error)
        hint = ""
        if self.url.startswith("unix://") or self.target.docker is None:
            if "Permission denied" in text:
                hint = "add the user to the docker group, or use executor: ssh with sudo: true"
            elif "No such file" in text or "FileNotFoundError" in text:
                hint = "is dockerd running on this host, and is the socket path right?"
        elif self.url.startswith("ssh://"):
            hint = (
                "the host needs the docker CLI (docker system dial-stdio runs there) and "
                "access to its engine for the ssh user"
            )
        elif "SSL" in str(error) or "certificate" in str(error).lower():
            hint = "check tls_ca_cert, tls_client_cert and tls_client_key of the host"
        elif self.url.startswith("tcp://"):
            hint = "is dockerd listening on that address and port (-H tcp://…)?"
        return HostError(self.target.name, self.url, text or type(error).__name__, hint)

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

    def containers(self, project: str) -> list[LiveContainer]:
        with self._call():
            found = self.api.containers(all=True, filters={"label": project_filter(project)})
        out: list[LiveContainer] = []
        for summary in found:
            try:
                out.append(self.inspect(summary["Id"]))
            except DockerError:
                continue  # removed between listing and inspecting
        return out

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

    def rename(self, container_id: str, name: str) -> None:
        with self._call():
            self.api.rename(container_id, name)

    def exec(self, container_id: str, argv: Sequence[str], timeout: float = 30) -> tuple[int, str]:
        with self._call():
            exec_id = self.api.exec_create(container_id, list(argv), stdout=True, stderr=True)["Id"]
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

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        with self._call():
            self.api.put_archive(container_id, path, tar_bytes)

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        # Not bounded by the slots: a follow stream may last for hours.
        try:
            stream = self.api.logs(
                container_id, stdout=True, stderr=True, stream=True, follow=follow,
                tail="all" if tail is None else tail,
            )
        except docker.errors.APIError as error:
            raise DockerError(_message(error)) from error
        try:
            yield from line_splitter(iter(stream))
        finally:
            _close_stream(stream)


def _close_stream(stream: Any) -> None:
    """End a log stream early. docker-py cannot cancel one that runs over an SSH channel
    (it refuses with DockerException): then the channel itself is closed."""
    try:
        stream.close()
    except docker.errors.DockerException:
        channel = getattr(stream._response.raw._fp.fp, "channel", None)
        if channel is not None:
            channel.close()
        stream._response.close()
