"""One SSH connection to a Docker host, as the `ssh` executor uses it: a shared paramiko
transport, one channel per docker command (at most MAX_CHANNELS at once, under sshd's
MaxSessions), every channel bounded (a command by its timeout, a stream by the host's
`lost_after` through the watchdog), and a lost host said as such."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import paramiko

from xcompose.engines import sshconfig
from xcompose.engines.base import DEFAULT_TIMEOUT_S, MAX_CHANNELS, Streams, daemon_message, pump
from xcompose.engines.dockercli import SUDO_DOCKER
from xcompose.engines.liveness import DEFAULT_LOST_AFTER_S, SshWatchdog, is_silence
from xcompose.errors import DockerError, HostError
from xcompose.plan.specs import HostTarget


@dataclass(frozen=True)
class Result:
    code: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def message(self) -> str:
        """Docker's own words from stderr."""
        return daemon_message(self.err.decode("utf-8", "replace"))


class SshSession:
    """The connection and its channels; SshExecutor says which docker commands run on it."""

    def __init__(self, target: HostTarget) -> None:
        self.target = target
        self.url = target.docker or ""
        self.lost_after = target.lost_after or DEFAULT_LOST_AFTER_S
        self._client: paramiko.SSHClient | None = None
        self._watchdog: SshWatchdog | None = None
        self._silenced = False  # a watchdog found the host silent since the last connection
        self._lock = threading.Lock()
        # One channel per command on a shared transport: stay under sshd's MaxSessions.
        self._slots = threading.BoundedSemaphore(max(1, min(target.max_parallel, MAX_CHANNELS)))
        # A channel opened ahead of the next command (see _channel), and whether one is coming.
        self._spare: paramiko.Channel | None = None
        self._spare_coming = False

    # --- transport -----------------------------------------------------------------------

    def _transport(self) -> paramiko.Transport:
        with self._lock:
            transport = self._client.get_transport() if self._client else None
            if transport is None or not transport.is_active():
                if not self.url.startswith("ssh://"):
                    raise HostError(
                        self.target.name, self.url or "local",
                        "the ssh executor needs an ssh:// docker URL",
                        "set docker: ssh://USER@ADDRESS for this host, or use executor: api",
                    )
                self._close_client()
                self._client, self._watchdog = sshconfig.open_client(self.url, self.target.name, self.lost_after)
                self._silenced = False
                self._watchdog.on_lost = self._on_silence
                transport = self._client.get_transport()
                assert transport is not None
            return transport

    @property
    def docker(self) -> str:
        """How the docker CLI is called on the host, as shell text."""
        # sudo resets the environment: the session's DOCKER_HOST (sshd SetEnv, profile) is
        # handed on explicitly. Fixed text, expanded by the remote shell, no user data.
        return SUDO_DOCKER if self.target.sudo else "docker"

    def command_line(self, argv: Sequence[str]) -> str:
        return f"{self.docker} {' '.join(shlex.quote(word) for word in argv)}"

    def _channel(self, timeout: float | None) -> paramiko.Channel:
        """A channel for one command: the one opened ahead if there is one, and the next
        is opened ahead in the background. Opening a channel is a round trip; a run is
        many commands in turn, and a far host would charge that trip for each."""
        try:
            transport = self._transport()
            channel = self._take_spare(transport) or transport.open_session(timeout=DEFAULT_TIMEOUT_S)
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise self._lost(error) from error
        self._open_spare(transport)
        channel.settimeout(timeout)
        return channel

    def _take_spare(self, transport: paramiko.Transport) -> paramiko.Channel | None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and (spare.closed or spare.get_transport() is not transport):
            spare.close()
            return None
        return spare

    def _open_spare(self, transport: paramiko.Transport) -> None:
        with self._lock:
            if self._spare is not None or self._spare_coming:
                return
            self._spare_coming = True

        def open_one() -> None:
            channel = None
            with contextlib.suppress(paramiko.SSHException, OSError, EOFError):  # the next command opens its own
                channel = transport.open_session(timeout=DEFAULT_TIMEOUT_S)
            with self._lock:
                self._spare_coming = False
                if channel is not None and self._spare is None and self._client is not None:
                    self._spare, channel = channel, None
            if channel is not None:
                channel.close()

        threading.Thread(target=open_one, name=f"ssh-spare-{self.target.name}", daemon=True).start()

    def _on_silence(self) -> None:
        # Kept apart from the watchdog: another thread may replace a lost connection's
        # client (and its watchdog) before a command that was on it reports its error.
        self._silenced = True

    def _lost(self, error: BaseException, transport: paramiko.Transport | None = None) -> HostError:
        """The host error for a failed connection (on `transport`, default the current one):
        silence (the watchdog, or the kernel's keepalive and user timeout) is said as such."""
        if transport is None:
            transport = self._client.get_transport() if self._client is not None else None
        cause = transport.get_exception() if transport is not None else None
        silent = self._silenced or is_silence(cause) or is_silence(error)
        unexplained = isinstance(error, EOFError) or not str(error)
        if not silent and unexplained and (cause is None or isinstance(cause, EOFError) or not str(cause)):
            # The connection ended without a word (paramiko turns a failed send into a
            # bare EOFError; another thread may have closed it): ask the host itself.
            silent = not sshconfig.answers(self.url, min(3.0, self.lost_after))
        if silent:
            return HostError(self.target.name, self.url, f"stopped answering: no reply within {self.lost_after:g}s")
        return HostError(self.target.name, self.url,
                         f"ssh connection failed: {error or cause or 'the host closed the connection'}")

    def _execute(
        self, command: str, stdin: bytes | None, timeout: float, combine: bool = False
    ) -> Result:
        """Run one command line on its own channel (the seam the unit tests replace);
        `combine` folds stderr into stdout as a terminal shows them. A command that
        outlives `timeout` raises socket.timeout."""
        channel = self._channel(timeout)
        transport = channel.get_transport()
        errors: list[bytes] = []

        def read_errors() -> None:
            # stderr on its own thread: an unread stream would stall the channel's window.
            with contextlib.suppress(paramiko.SSHException, OSError, EOFError):  # stdout reports it
                errors.append(read_all(channel.recv_stderr))

        reader = threading.Thread(target=read_errors, daemon=True)
        try:
            channel.set_combine_stderr(combine)
            start(channel, command)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()  # EOF: nothing waits for more input
            if not combine:
                reader.start()
            out = read_all(channel.recv)
            code = channel.recv_exit_status()
            if not combine:
                reader.join(timeout)
            if not transport.is_active():  # closed under us: no exit status came
                raise EOFError("the connection closed before the command ended")
            if code == -1 and not out and not b"".join(errors):
                raise paramiko.SSHException("the host did not run the command (refused, or it was killed)")
        except TimeoutError:
            raise
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise self._lost(error, transport) from error
        finally:
            channel.close()
        return Result(code, out, b"".join(errors))

    def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float = DEFAULT_TIMEOUT_S,
        check: bool = True, combine: bool = False,
    ) -> Result:
        result = self._bounded(self.command_line(argv), stdin, timeout, combine)
        if check and result.code != 0:
            raise DockerError(daemon_message(result.text) if combine else result.message)
        return result

    def shell(self, script: str, *, stdin: bytes | None = None, timeout: float = DEFAULT_TIMEOUT_S,
              shown: str = "a script") -> Result:
        """Run a POSIX shell script on the host (`sh -c`, whatever the login shell is);
        `shown`: what it is called in a timeout's message."""
        return self._bounded(f"sh -c {shlex.quote(script)}", stdin, timeout, False, shown)

    def _bounded(self, command: str, stdin: bytes | None, timeout: float, combine: bool,
                 shown: str | None = None) -> Result:
        with self._slots:
            try:
                return self._execute(command, stdin, timeout, combine)
            except TimeoutError as error:
                message = f"{shown or f'`{command}`'} did not finish within {timeout:g}s"
                raise HostError(self.target.name, self.url, message) from error

    def _json_list(self, argv: Sequence[str]) -> list[dict[str, Any]]:
        """`docker … inspect` of several objects; objects removed meanwhile are left out
        (the CLI still prints the others and exits 1)."""
        result = self.run(argv, check=False)
        if result.code != 0 and not result.out.strip():
            raise DockerError(result.message)
        return list(json.loads(result.out or b"[]"))

    def close(self) -> None:
        with self._lock:
            self._close_client()

    def _close_client(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _attached(self, argv: Sequence[str], streams: Streams, tty: bool) -> int:
        """Run a docker command whose input and output are the user's: its exit code."""
        channel = self._channel(None)  # the user's command: no time limit (the watchdog still runs)
        try:
            if tty:
                channel.get_pty(term=os.environ.get("TERM", "xterm"), width=columns(), height=lines())
            channel.exec_command(self.command_line(argv))
            if streams.stdin is not None:
                pump(streams.stdin, channel.sendall, channel.shutdown_write)

            def copy_errors() -> None:
                with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
                    for chunk in iter(lambda: channel.recv_stderr(65536), b""):
                        streams.stderr.write(chunk)
                        streams.stderr.flush()

            errors = threading.Thread(target=copy_errors, daemon=True)
            errors.start()
            for chunk in iter(lambda: channel.recv(65536), b""):
                streams.stdout.write(chunk)
                streams.stdout.flush()
            code = channel.recv_exit_status()
            errors.join(5)
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise self._lost(error, channel.get_transport()) from error
        finally:
            channel.close()
        return code


def start(channel: paramiko.Channel, command: str) -> None:
    """`channel.exec_command` without waiting for the host's yes: the command's output and
    exit status follow it anyway, and the wait cost a round trip per command, which far
    hosts feel. A refusal makes paramiko close the channel: the command then reads as
    ended, with nothing printed and no exit status (-1)."""
    request = paramiko.Message()
    request.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    request.add_int(channel.remote_chanid)
    request.add_string("exec")
    request.add_boolean(True)  # the answer is read (and a refusal acted on) by paramiko's thread
    request.add_string(command)
    # What exec_command itself sends, minus its wait; paramiko has no public call for it.
    channel.get_transport()._send_user_message(request)  # type: ignore[attr-defined]


def columns() -> int:
    return shutil.get_terminal_size().columns


def lines() -> int:
    return shutil.get_terminal_size().lines


def feed(channel: paramiko.Channel, source: IO[bytes] | None) -> None:
    """Send a file to the command's stdin in chunks, then end its input."""
    # A command that ended early stops reading: its exit code and stderr say why.
    with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
        if source is not None:
            for chunk in iter(lambda: source.read(65536), b""):
                channel.sendall(chunk)
        channel.shutdown_write()


def read_all(recv: Callable[[int], bytes]) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
