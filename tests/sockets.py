"""Ending the TCP servers that tests run in threads, so that none outlives its test.

Closing a socket that another thread is about to use is not enough: on Linux a thread
already in `accept()` or `recv()` stays there (the socket keeps listening on its port), and
one between reading the socket's number and making the call makes it on whatever socket
the next test opened under that number, and serves that test's client. A shutdown wakes
the thread; it is waited for before the number is given back."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

JOIN_S = 10.0


def hang_up(sock: socket.socket) -> None:
    """Wake whatever thread waits on `sock` (its accept or recv returns), then close it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def stop_serving(listener: socket.socket, accepting: threading.Thread) -> None:
    """Stop a listener whose accept loop runs in `accepting`: it has returned when this
    does, so the server takes no further connection, from this test or a later one."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    wait_for(accepting)
    listener.close()


def wait_for(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(JOIN_S)
        assert not thread.is_alive(), f"{thread.name} still runs {JOIN_S}s after its sockets were shut"


class Relay:
    """The threads and connections of a relay a test runs: its accept loop, and the threads
    and sockets of the connections it carries, all ended by `close`."""

    def __init__(self, listener: socket.socket, accept: Callable[[], None]) -> None:
        self.listener = listener
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.run(accept)

    def carry(self, *connections: socket.socket) -> None:
        """Connections to hang up at the end (their threads then return)."""
        self._connections += connections

    def run(self, work: Callable[..., None], *args: Any) -> None:
        self._threads.append(threading.Thread(target=work, args=args, daemon=True))
        self._threads[-1].start()

    def close(self) -> None:
        stop_serving(self.listener, self._threads[0])  # no connection comes in after this
        for connection in self._connections:
            hang_up(connection)
        wait_for(*self._threads[1:])
