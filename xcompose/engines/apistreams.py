"""The streams of the API executor: an attached command's input and output over the raw
connection Docker hands over (Docker's 8-byte frames, or one terminal stream), and the end
of a log or event stream that docker-py cannot cancel by itself."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import docker.errors

from xcompose.engines.base import Streams, pump


def close_stream(stream: Any) -> None:
    """End a log stream early. docker-py cannot cancel one that runs over an SSH channel
    (it refuses with DockerException): then the channel itself is closed."""
    try:
        stream.close()
    except docker.errors.DockerException:
        channel = getattr(stream._response.raw._fp.fp, "channel", None)
        if channel is not None:
            channel.close()
        stream._response.close()


_STDERR = 2


def relay(connection: Any, streams: Streams, tty: bool) -> None:
    """The user's input in, the command's output out, until it ends; then closed."""
    raw: Any = getattr(connection, "_sock", connection)  # the socket (or SSH channel) under the response
    if streams.stdin is not None:
        pump(streams.stdin, raw.sendall, lambda: _end_input(raw))
    try:
        for stream, data in _frames(raw, tty):
            target = streams.stderr if stream == _STDERR else streams.stdout
            target.write(data)
            target.flush()
    finally:
        connection.close()


def _frames(raw: Any, tty: bool) -> Iterator[tuple[int, bytes]]:
    """The output of an attached exec: through a terminal one raw stream; otherwise
    Docker's frames, each an 8-byte header (stream, 3 zero bytes, length) and its data."""
    if tty:
        yield from ((1, chunk) for chunk in iter(lambda: raw.recv(65536), b""))
        return
    while True:
        header = _exactly(raw, 8)
        if len(header) < 8:
            return
        data = _exactly(raw, int.from_bytes(header[4:8], "big"))
        yield header[0], data


def _exactly(raw: Any, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = raw.recv(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _end_input(raw: Any) -> None:
    """Half-close: the command sees the end of its input and may still answer."""
    if hasattr(raw, "shutdown_write"):  # an SSH channel (ssh:// engines)
        raw.shutdown_write()
    else:
        raw.shutdown(socket.SHUT_WR)
