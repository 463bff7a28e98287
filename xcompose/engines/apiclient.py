"""The docker-py client of one host, for each kind of URL, and what its failures mean.

`unix://` and the default socket as docker-py opens them; `tcp://` (with TLS) with TCP
keepalives and a user timeout on every connection; `ssh://` through docker-py's paramiko
transport with xcompose's SSH client (DockerSSHAdapter: docker-py alone trusts
only ~/.ssh/known_hosts and reads a part of ~/.ssh/config) and its watchdog. On a network
transport a host that stops answering is noticed within its `lost_after` seconds
(liveness.py), also while a log is followed, which docker-py reads without a timeout.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import docker
import requests.adapters
from docker.constants import DEFAULT_DOCKER_API_VERSION, DEFAULT_NUM_POOLS_SSH
from docker.tls import TLSConfig
from docker.transport.sshconn import SSHHTTPAdapter
from docker.utils import kwargs_from_env
from urllib3.connection import HTTPConnection

from xcompose.engines import sshconfig
from xcompose.engines.base import DEFAULT_TIMEOUT_S, MAX_CHANNELS
from xcompose.engines.liveness import DEFAULT_LOST_AFTER_S, SshWatchdog, keepalive_options
from xcompose.errors import HostError
from xcompose.plan.specs import HostTarget

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


class DockerSSHAdapter(SSHHTTPAdapter):
    """docker-py's SSH adapter with xcompose's SSH client: known_hosts from ~/.ssh,
    UserKnownHostsFile and XCOMPOSE_KNOWN_HOSTS, the whole ssh config (or
    XCOMPOSE_SSH_CONFIG), unknown keys refused with a HostError that says how to accept.
    The base class calls `_create_paramiko_client` then `_connect` from its constructor,
    and `_connect` again when the transport went away: those are the two hooks."""

    def __init__(self, base_url: str, host: str, timeout: float, max_pool_size: int,
                 lost_after: float = DEFAULT_LOST_AFTER_S) -> None:
        self._xc_host = host
        self._xc_lost_after = lost_after
        self._xc_watchdog: SshWatchdog | None = None
        super().__init__(
            base_url,
            timeout=round(timeout),
            pool_connections=DEFAULT_NUM_POOLS_SSH,
            max_pool_size=max_pool_size,
            shell_out=False,
        )

    def _create_paramiko_client(self, base_url: str) -> None:
        logging.getLogger("paramiko").setLevel(logging.WARNING)
        try:
            self._xc_params = sshconfig.resolve(base_url)
        except (ValueError, OSError) as error:
            raise HostError(self._xc_host, base_url, f"cannot read the ssh settings: {error}") from error
        self.ssh_params: dict[str, Any] = {}  # docker-py's own connect arguments: unused
        self.ssh_client = sshconfig.new_client(self._xc_params)

    def _connect(self) -> None:
        assert self.ssh_client is not None, "made by _create_paramiko_client"
        if self._xc_watchdog is not None:
            self._xc_watchdog.stop()
        self._xc_watchdog = sshconfig.connect(self.ssh_client, self._xc_params, self._xc_host, self._xc_lost_after)

    def close(self) -> None:
        if self._xc_watchdog is not None:
            self._xc_watchdog.stop()
        super().close()


class SharedPoolSSHAdapter(DockerSSHAdapter):
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

    @property
    def lost(self) -> bool:
        return self._xc_watchdog is not None and self._xc_watchdog.lost


class KeepaliveAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections notice a silent peer (see liveness.py) and give
    up connecting after `lost_after` (docker-py's one timeout would also bound connecting)."""

    def __init__(self, lost_after: float) -> None:
        self.lost_after = lost_after
        self.socket_options = [*HTTPConnection.default_socket_options, *keepalive_options(lost_after)]
        super().__init__()

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        if isinstance(timeout, (int, float)):
            timeout = (min(self.lost_after, timeout), timeout)
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block=block, socket_options=self.socket_options,
                                 **pool_kwargs)


def make_client(target: HostTarget, url: str, lost_after: float) -> docker.APIClient:
    """The client of `target`; nothing connects yet. The API version is pinned at
    construction so that nothing connects here (docker-py's "auto" would, and for ssh://
    through its own adapter); preflight negotiates it."""
    pinned = DEFAULT_DOCKER_API_VERSION
    if url.startswith("ssh://"):
        # use_ssh_client=True builds an adapter that connects lazily; it is replaced right
        # away by ours.
        api = docker.APIClient(base_url=url, version=pinned, timeout=TIMEOUT, use_ssh_client=True)
        adapter = SharedPoolSSHAdapter(url, target.name, TIMEOUT, MAX_CHANNELS + 1, lost_after)
        api.mount("http+docker://ssh", adapter)
        # close() closes the client's own adapter: it must be ours (docker<8 keeps it here).
        api._custom_adapter = adapter  # type: ignore[attr-defined]
        return api
    if target.docker is None:
        # docker.from_env(): DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
        api = docker.APIClient(version=pinned, timeout=TIMEOUT, **kwargs_from_env())
    else:
        api = docker.APIClient(base_url=url, version=pinned, timeout=TIMEOUT, tls=_tls(target))
    if api.base_url.startswith(("http://", "https://")):  # tcp:// as docker-py spells it
        for prefix in ("http://", "https://"):
            api.mount(prefix, KeepaliveAdapter(lost_after))
    return api


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)|Error\(-?\d+, '([^']+)'\)")
_SILENT = ("timed out", "Connection timed out", "Read timed out", "Connection aborted", "Connection reset")


def reason(error: BaseException) -> str:
    """The innermost cause of a transport error ('Connection refused'), not the three
    layers of requests and urllib3 wrapped around it."""
    text = str(error) or type(error).__name__
    found = _ERRNO.findall(text)
    if found:
        return str(next(a or b for a, b in reversed(found) if a or b)).strip()
    return text


def host_error(target: HostTarget, url: str, error: BaseException, lost_after: float, lost: bool) -> HostError:
    """A transport failure as the user needs it: what happened to which host, and a hint.
    `lost`: the SSH watchdog gave the host up."""
    text = reason(error)
    if lost or (not url.startswith("unix://") and target.docker is not None
                and any(word in str(error) for word in _SILENT)):
        return HostError(target.name, url, f"stopped answering: no reply within {lost_after:g}s ({text})")
    hint = ""
    if url.startswith("unix://") or target.docker is None:
        if "Permission denied" in text:
            hint = "add the user to the docker group, or use executor: ssh with sudo: true"
        elif "No such file" in text or "FileNotFoundError" in text:
            hint = "is dockerd running on this host, and is the socket path right?"
    elif url.startswith("ssh://"):
        hint = ("the host needs the docker CLI (docker system dial-stdio runs there) and access to its "
                "engine for the ssh user")
    elif "SSL" in str(error) or "certificate" in str(error).lower():
        hint = "check tls_ca_cert, tls_client_cert and tls_client_key of the host"
    elif url.startswith("tcp://"):
        hint = "is dockerd listening on that address and port (-H tcp://…)?"
    return HostError(target.name, url, text or type(error).__name__, hint)
