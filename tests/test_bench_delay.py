"""The benches' delaying relay (bench/delay.py) carries every byte, in order, both ways,
and passes the end of a stream on. How late the bytes come is the benches' business."""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.sockets import stop_serving

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load_delay() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_delay", BENCH / "delay.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    """A server that greets first, then echoes until the client's end, then ends too."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello\n")
                while data := conn.recv(65536):
                    conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    yield server.getsockname()[:2]
    stop_serving(server, serving)


@pytest.mark.parametrize("rtt", [0.0, 0.02])
def test_every_byte_arrives_in_order_and_the_end_is_passed_on(echo: tuple[str, int], rtt: float) -> None:
    payload = bytes(range(256)) * 4000  # ~1 MB: many chunks, each carried on its own
    with load_delay().Relays([echo], rtt) as relays:
        client = socket.create_connection(("127.0.0.1", relays.port(0)), timeout=30)
        with client:
            sender = threading.Thread(target=lambda: (client.sendall(payload), client.shutdown(socket.SHUT_WR)))
            sender.start()
            received = b""
            while data := client.recv(65536):
                received += data
            sender.join(30)
    assert received == b"hello\n" + payload
