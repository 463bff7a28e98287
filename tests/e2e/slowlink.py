"""A TCP relay on loopback that holds every chunk for a fixed time in each direction: a
far but healthy host, as seen from this machine (the kernel here has no netem)."""

from __future__ import annotations

import queue
import socket
import threading
import time
from types import TracebackType

from tests.sockets import Relay


class SlowLink:
    """Listens on 127.0.0.1:`port` and forwards to `target`, each chunk `delay` seconds late
    in both directions, keeping the data's order and its throughput (a delay line, not a
    throttle)."""

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.target = target
        self.delay = delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._closed = threading.Event()
        self._relay = Relay(self.listener, self._accept)

    def __enter__(self) -> SlowLink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._relay.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._relay.carry(client, server)
            for source, sink in ((client, server), (server, client)):
                line: queue.Queue[tuple[float, bytes]] = queue.Queue()
                self._relay.run(self._read, source, line)
                self._relay.run(self._write, line, sink)

    def _read(self, source: socket.socket, line: queue.Queue[tuple[float, bytes]]) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            line.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def _write(self, line: queue.Queue[tuple[float, bytes]], sink: socket.socket) -> None:
        while True:
            due, data = line.get()
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return
