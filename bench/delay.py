"""Distance for the benches: TCP relays on loopback that make a lab host look far away.

This kernel has no `netem` qdisc, so the delay is made in user space. Each relay listens on
127.0.0.1 and forwards to one target (a lab host's sshd or engine port). Every chunk is
held for half the round trip in each direction, in order, without limiting throughput (a
delay line, not a throttle). A new connection reaches the target only after a round trip
and a half, as a real one would: the TCP handshake (one round trip; the relay accepts at
once on loopback, so the client's connect() returns early) and the way there of the
client's first bytes. So a client that waits for the server's first word (SSH's banner)
gets it two round trips after connecting, and one that speaks first (HTTP) has its
answer two round trips after connecting, as across a real link.

All relays share one event loop on a thread of their own, so the bench's own code (which
waits on subprocesses) keeps running meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

CHUNK = 65536


async def _carry(reader: asyncio.StreamReader, sink: asyncio.Future[asyncio.StreamWriter], one_way: float) -> None:
    """Copy `reader` to the writer `sink` gives (it may come later: the bytes wait), each
    chunk `one_way` seconds after it was read, then pass the end of the stream on."""
    loop = asyncio.get_running_loop()
    line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                data = b""
            line.put_nowait((loop.time() + one_way, data))
            if not data:
                return

    reading = asyncio.ensure_future(read())
    try:
        writer = await sink
        while True:
            due, data = await line.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
    except OSError:
        return
    finally:
        reading.cancel()


class Relays:
    """One delaying relay per target, `rtt` seconds of round trip each; `port(i)` is where
    target i is reached. A context manager: leaving it closes every relay and connection."""

    def __init__(self, targets: list[tuple[str, int]], rtt: float) -> None:
        self.targets = targets
        self.rtt = rtt
        self.ports: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self._conns: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-relays", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def __enter__(self) -> Relays:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def port(self, index: int) -> int:
        return self.ports[index]

    async def _listen(self) -> None:
        for target in self.targets:
            server = await asyncio.start_server(
                lambda r, w, t=target: self._track(self._relay(r, w, t)), "127.0.0.1", 0)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])

    def _track(self, work: object) -> None:
        assert asyncio.iscoroutine(work)
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._conns.add(task)
        task.add_done_callback(self._conns.discard)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter,
                     target: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        one_way = self.rtt / 2
        upstream: asyncio.Future[asyncio.StreamWriter] = loop.create_future()
        downstream: asyncio.Future[asyncio.StreamWriter] = loop.create_future()
        downstream.set_result(client_w)
        # The client's bytes queue up (and age) while the far end is being reached.
        outbound = asyncio.ensure_future(_carry(client_r, upstream, one_way))
        writers = [client_w]
        try:
            await asyncio.sleep(self.rtt + one_way)  # the handshake, then the way there
            server_r, server_w = await asyncio.open_connection(*target)
            writers.append(server_w)
            upstream.set_result(server_w)
            await asyncio.gather(outbound, _carry(server_r, downstream, one_way))
        except OSError:
            pass
        finally:
            outbound.cancel()
            for writer in writers:
                with contextlib.suppress(Exception):
                    writer.close()

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.sleep(0)

        if self._loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
