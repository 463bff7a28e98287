"""Noticing a host that stopped answering, on every transport, within a bounded time.

A silent partition (a dead switch, a firewall that drops, a suspended VM) sends nothing
back: no reset, no error. Left alone, a TCP connection waits on it for a quarter of an hour
(the kernel's retransmissions) and an SSH request for ever. Two things bound it to the
host's `lost_after` seconds:

- TCP: keepalive probes when the connection is idle and a user timeout when sent data
  stays unacknowledged (`tune`), on every socket xcompose opens to a host;
- SSH: a watchdog that asks the server for an answer (`keepalive@openssh.com`, as
  OpenSSH's ServerAliveInterval does) and closes the connection when none comes, which also
  covers connections through a ProxyCommand and a server that is alive but frozen.

Closing the connection wakes every call waiting on it with an error, which the executors
turn into a HostError naming the host.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from collections.abc import Callable

import paramiko

DEFAULT_LOST_AFTER_S = 30.0


def keepalive_options(lost_after: float) -> list[tuple[int, int, int]]:
    """setsockopt() arguments for a TCP socket that gives up on a silent peer after about
    `lost_after` seconds, whether it is idle or sending."""
    idle = max(1, int(lost_after / 3))
    interval = max(1, int(lost_after / 6))
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", 3),
                        ("TCP_USER_TIMEOUT", int(lost_after * 1000))):
        if hasattr(socket, name):  # Linux has all four; elsewhere the defaults stay
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def is_silence(error: BaseException | None) -> bool:
    """Whether a transport error says the peer went silent (rather than refused or reset)."""
    return isinstance(error, TimeoutError) or (isinstance(error, OSError) and error.errno == errno.ETIMEDOUT)


def tune(sock: object, lost_after: float) -> None:
    """Apply `keepalive_options` to a socket; anything that is not a TCP socket (a
    ProxyCommand's pipe) is left as it is: the SSH watchdog covers it."""
    if not isinstance(sock, socket.socket) or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    for level, option, value in keepalive_options(lost_after):
        sock.setsockopt(level, option, value)


class SshWatchdog:
    """Asks an SSH server for an answer every `lost_after / 3` seconds; when one does not
    come within `lost_after`, closes the transport and calls `on_lost`."""

    def __init__(self, transport: paramiko.Transport, lost_after: float,
                 on_lost: Callable[[], None] = lambda: None) -> None:
        self.transport = transport
        self.lost_after = lost_after
        self.on_lost = on_lost
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xcompose-ssh-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.lost_after / 3):
            if not self.transport.is_active():
                return
            answered = threading.Event()
            threading.Thread(target=self._ask, args=(answered,), name="xcompose-ssh-keepalive", daemon=True).start()
            if not answered.wait(self.lost_after) and not self._stop.is_set():
                self.lost = True
                self.transport.close()
                self.on_lost()
                return

    def _ask(self, answered: threading.Event) -> None:
        # Any reply counts, a refusal too (OpenSSH refuses this request).
        with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
            self.transport.global_request("keepalive@openssh.com", wait=True)
        answered.set()

    def stop(self) -> None:
        self._stop.set()
