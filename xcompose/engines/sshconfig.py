"""SSH connections as OpenSSH users expect them: ~/.ssh/config (as `ssh -G` resolves it:
Include, Match, ProxyJump) and known_hosts honoured, unknown host keys refused with a
message that says how to accept them.

Both executors use this: the `ssh` executor directly, the `api` executor for `ssh://`
URLs through apiclient.DockerSSHAdapter (docker-py's own transport reads only part of
~/.ssh/config and only the system known_hosts). Nothing here needs docker-py, which the
`ssh` executor does without. Two environment variables widen what is read:

- XCOMPOSE_SSH_CONFIG: an ssh config file read instead of ~/.ssh/config;
- XCOMPOSE_KNOWN_HOSTS: known_hosts file(s) (os.pathsep-separated) trusted in addition.
"""

from __future__ import annotations

import base64
import fcntl
import getpass
import hashlib
import logging
import os
import re
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from xcompose.engines.liveness import DEFAULT_LOST_AFTER_S, SshWatchdog, tune
from xcompose.errors import HostError

log = logging.getLogger(__name__)

ENV_SSH_CONFIG = "XCOMPOSE_SSH_CONFIG"
ENV_KNOWN_HOSTS = "XCOMPOSE_KNOWN_HOSTS"
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"


@dataclass(frozen=True)
class SshParams:
    """Where and how to connect, after ~/.ssh/config was applied to an `ssh://` URL."""

    url: str
    alias: str  # the host as written in the URL (what `Host` patterns match)
    hostname: str
    port: int
    username: str | None
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    known_hosts: tuple[str, ...] = ()  # every file whose keys are trusted
    record_file: str = ""  # where accept-new records a new key
    strict: str = "yes"  # StrictHostKeyChecking
    proxy_command: str | None = None

    @property
    def key_name(self) -> str:
        """The name known_hosts lists this host under (OpenSSH's `[host]:port` form)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def ssh_config_path() -> Path | None:
    explicit = os.environ.get(ENV_SSH_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    default = Path.home() / ".ssh" / "config"
    return default if default.exists() else None


def _load_config() -> paramiko.SSHConfig:
    path = ssh_config_path()
    if path is None:
        return paramiko.SSHConfig()
    return paramiko.SSHConfig.from_path(str(path))


# `ssh -G` says yes and no as true and false.
_STRICT = {"true": "yes", "false": "no"}


def lookup(alias: str) -> dict[str, Any]:
    """The settings that apply to `alias`, as OpenSSH resolves them: `ssh -G` reads what
    paramiko cannot (Include, Match, canonical names). Without an `ssh` command, paramiko
    reads the file. A config that OpenSSH refuses is an error, as it would be for ssh."""
    path = ssh_config_path()
    argv = ["ssh", "-G", *(["-F", str(path)] if path else []), alias]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return dict(_load_config().lookup(alias))
    except subprocess.TimeoutExpired as error:
        raise ValueError(f"`ssh -G {alias}` did not answer within {error.timeout:g}s") from None
    if done.returncode != 0:
        raise ValueError("; ".join(done.stderr.strip().splitlines()) or f"`ssh -G {alias}` failed")
    conf: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("identityfile", "userknownhostsfile", "globalknownhostsfile"):
            value = " ".join(_in_home(item) for item in value.split())
        if key == "identityfile":
            conf.setdefault(key, []).append(value)
        elif key == "stricthostkeychecking":
            conf[key] = _STRICT.get(value, value)
        else:
            conf[key] = value
    return conf


def _in_home(path: str) -> str:
    """A path `ssh -G` gives under the account's home, under $HOME instead: the two are the
    same but where HOME is set apart (a sandbox, a test), and xcompose reads ~ as $HOME."""
    account_home = os.path.expanduser(f"~{getpass.getuser()}")
    home = os.path.expanduser("~")
    if home != account_home and (path == account_home or path.startswith(account_home + "/")):
        return home + path[len(account_home):]
    return path


def _tokens(command: str, alias: str, hostname: str, port: int, user: str | None) -> str:
    """OpenSSH's % tokens of a ProxyCommand (`ssh -G` prints them as written)."""
    values = {"h": hostname, "p": str(port), "r": user or "", "n": alias, "%": "%"}
    return re.sub(r"%(.)", lambda m: values.get(m.group(1), m.group(0)), command)


def _files(value: str | list[str] | None) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else value.split()
    return [os.path.expanduser(item) for item in items if item.lower() != "none"]


def resolve(url: str) -> SshParams:
    """Apply the ssh config to `ssh://[user@]host[:port]`. Values in the URL win, as
    values on ssh's command line win over the config file."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "ssh" or not parsed.hostname:
        raise ValueError(f"not an ssh:// URL: {url}")
    alias = parsed.hostname
    conf = lookup(alias)
    hostname = str(conf.get("hostname", alias))
    port = parsed.port or int(conf.get("port", 22))
    username = parsed.username or conf.get("user")
    strict = str(conf.get("stricthostkeychecking", "yes")).lower()
    # OpenSSH: UserKnownHostsFile replaces the default user file; the global file and
    # ours are read in any case.
    user_files = _files(conf.get("userknownhostsfile")) or [
        str(Path.home() / ".ssh" / "known_hosts")
    ]
    global_files = _files(conf.get("globalknownhostsfile")) or [GLOBAL_KNOWN_HOSTS]
    extra = [os.path.expanduser(p) for p in os.environ.get(ENV_KNOWN_HOSTS, "").split(os.pathsep) if p]
    proxy = conf.get("proxycommand")
    if proxy and proxy.lower() == "none":
        proxy = None
    if proxy:
        proxy = _tokens(str(proxy), alias, hostname, port, username)
    jump = conf.get("proxyjump")
    if not proxy and jump and jump.lower() != "none":
        # ProxyJump is `ssh -W` through the jump host, which OpenSSH's own client does best.
        proxy = f"ssh -W {_bracket(hostname)}:{port} {jump}"
    return SshParams(
        url=url,
        alias=alias,
        hostname=hostname,
        port=port,
        username=username,
        # OpenSSH tries each of these that exists (`ssh -G` lists the default names too).
        identity_files=tuple(f for f in _files(conf.get("identityfile")) if os.path.exists(f)),
        identities_only=str(conf.get("identitiesonly", "no")).lower() == "yes",
        known_hosts=tuple(dict.fromkeys([*user_files, *global_files, *extra])),
        record_file=user_files[0],
        strict=strict,
        proxy_command=proxy,
    )


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's `SHA256:…` form, to compare with `ssh-keygen -lf` on the host."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class UnknownHostKey(paramiko.SSHException):
    def __init__(self, name: str, key: paramiko.PKey) -> None:
        self.name, self.key = name, key
        super().__init__(f"host key of {name} is not known ({key.get_name()} {fingerprint(key)})")


class _Refuse(paramiko.MissingHostKeyPolicy):
    """RejectPolicy that keeps the key, so the error can show its fingerprint."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(hostname, key)


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """StrictHostKeyChecking accept-new, set by the user: trust a key never seen before,
    record it (never silently: a warning names it); a changed key is still refused by
    paramiko itself (BadHostKeyException)."""

    def __init__(self, record_file: str) -> None:
        self.record_file = record_file

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        path = Path(self.record_file)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "a", encoding="ascii") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # other threads and runs append too
            handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        client.get_host_keys().add(hostname, key.get_name(), key)
        log.warning(
            "accepted new host key %s %s for %s (StrictHostKeyChecking accept-new), recorded in %s",
            key.get_name(), fingerprint(key), hostname, path,
        )


def new_client(params: SshParams) -> paramiko.SSHClient:
    """An SSHClient that trusts exactly the known_hosts files of `params` (not connected)."""
    client = paramiko.SSHClient()
    for path in params.known_hosts:
        if os.path.exists(path):
            # "system" keys in paramiko's terms: read, never written back by paramiko.
            client.load_system_host_keys(path)
    if params.strict in ("accept-new", "no", "off"):
        client.set_missing_host_key_policy(_AcceptNew(params.record_file))
    else:  # yes, ask (nobody to ask), or anything unknown: refuse
        client.set_missing_host_key_policy(_Refuse())
    return client


def connect(
    client: paramiko.SSHClient, params: SshParams, host: str, lost_after: float = DEFAULT_LOST_AFTER_S
) -> SshWatchdog:
    """Connect `client`; any failure becomes a HostError that says what to do. A host that
    does not answer within `lost_after` seconds, then or later, counts as lost: the
    watchdog (stop it when closing the client) closes the connection."""
    timeout = lost_after
    keys = [f for f in params.identity_files if os.path.exists(f)]
    sock = paramiko.ProxyCommand(params.proxy_command) if params.proxy_command else None
    try:
        client.connect(
            params.hostname,
            port=params.port,
            username=params.username,
            key_filename=keys or None,  # type: ignore[arg-type]  # paramiko takes a list of files too
            look_for_keys=not params.identities_only,
            allow_agent=not params.identities_only,
            sock=sock,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
    except Exception as error:
        # paramiko re-raises the last key-parsing error when every key was refused: a
        # transport that is up but not authenticated tells the real story.
        transport = client.get_transport()
        if (
            type(error) is paramiko.SSHException
            and transport is not None
            and transport.is_active()
            and not transport.is_authenticated()
        ):
            error = paramiko.AuthenticationException(str(error))
        client.close()
        raise host_error(host, params, error) from error
    transport = client.get_transport()
    assert transport is not None, "connected"
    tune(transport.sock, lost_after)
    if isinstance(transport.sock, socket.socket) and transport.sock.family in (socket.AF_INET, socket.AF_INET6):
        # SSH sends small packets in bursts (a channel's open, its exec, its data and EOF):
        # Nagle's algorithm held each next one until the host acknowledged the last, which
        # it delays up to 40 ms. Opening a channel on the lab took 45 ms, after this none.
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SshWatchdog(transport, lost_after)


def open_client(
    url: str, host: str, lost_after: float = DEFAULT_LOST_AFTER_S
) -> tuple[paramiko.SSHClient, SshWatchdog]:
    try:
        params = resolve(url)
    except (ValueError, OSError) as error:
        raise HostError(host, url, f"cannot read the ssh settings: {error}") from error
    client = new_client(params)
    return client, connect(client, params, host, lost_after)


def answers(url: str, timeout: float) -> bool:
    """Whether the host of an `ssh://` URL accepts a TCP connection within `timeout`: after
    a connection broke without a word, this tells a silent host from one that closed it.
    A host reached through a ProxyCommand cannot be asked this way: it counts as answering."""
    try:
        params = resolve(url)
    except (ValueError, OSError):
        return True
    if params.proxy_command:
        return True
    try:
        socket.create_connection((params.hostname, params.port), timeout=timeout).close()
    except OSError:
        return False
    return True


def host_error(host: str, params: SshParams, error: BaseException) -> HostError:
    where = f"{params.hostname}:{params.port}"
    keyscan = f"ssh-keyscan -H {f'-p {params.port} ' if params.port != 22 else ''}{params.hostname}"
    if isinstance(error, UnknownHostKey):
        return HostError(
            host,
            params.url,
            f"{error}: refused, unknown ssh host keys are never accepted silently",
            f"verify the fingerprint {fingerprint(error.key)} on the host "
            f"(ssh-keygen -lf /etc/ssh/ssh_host_{_keyfile(error.key)}_key.pub), then accept it: "
            f"{keyscan} >> ~/.ssh/known_hosts",
        )
    if isinstance(error, paramiko.BadHostKeyException):
        return HostError(
            host,
            params.url,
            f"REMOTE HOST IDENTIFICATION HAS CHANGED for {params.key_name}: it now offers "
            f"{error.key.get_name()} {fingerprint(error.key)}, known_hosts expects "
            f"{fingerprint(error.expected_key)}",
            f"if the change is expected (host reinstalled): ssh-keygen -R {params.key_name!r}, "
            f"verify the new fingerprint, then {keyscan} >> ~/.ssh/known_hosts",
        )
    if isinstance(error, paramiko.AuthenticationException):
        return HostError(
            host,
            params.url,
            f"ssh authentication failed as {params.username or 'the current user'}: {error}",
            "check User/IdentityFile in the ssh config, the ssh-agent, and the host's "
            "authorized_keys",
        )
    if isinstance(error, (socket.timeout, TimeoutError)):
        return HostError(host, params.url, f"ssh to {where} timed out", "is the host up and sshd reachable?")
    if isinstance(error, (paramiko.ssh_exception.NoValidConnectionsError, OSError)):
        return HostError(
            host, params.url, f"cannot connect to {where}: {error}", "is sshd running on the host and the port right?"
        )
    return HostError(host, params.url, f"ssh to {where} failed: {error}")


def _keyfile(key: paramiko.PKey) -> str:
    name = key.get_name()
    if "ed25519" in name:
        return "ed25519"
    if "ecdsa" in name:
        return "ecdsa"
    return "rsa"
