"""A cross-host link under load: 1 GiB through an ambassador pair arrives intact (sha256 on
both ends), 500 connections held for 30 s through one pair see no reset, and a burst of
500 new connections at once is answered in full through either relay.

Both go the way a consumer's traffic goes: from the consumer host's project network into
the client ambassador, across to the server ambassador, into the target. Whatever relay the
ambassadors run (and whether the pair speaks TLS) is the ambassadors' business; the tests
only look at what comes out at the far end. Figures are printed (`pytest -s`) and recorded
as junit properties.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.e2e.deploy import Deployment
from xcompose.lab import Lab

Deploy = Callable[[str, str], Deployment]
Record = Callable[[str, object], None]

GIB = 1 << 30
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# Every connection to the sink gets its own `sha256sum`, whose sum lands in a file named
# after that shell's pid ($$$$ is `$$` once xcompose has interpolated the file). Readiness
# probes of the ambassadors open connections too: they leave sums of nothing.
BULK = """
hosts: {h1: {}, h2: {}}
services:
  sink:
    image: "xcompose/tools:latest"
    host: h1
    expose: [9000]
    command: ["socat", "-u", "TCP-LISTEN:9000,reuseaddr,fork", "SYSTEM:sha256sum > /tmp/received.$$$$"]
  sender:
    image: "xcompose/tools:latest"
    host: h2
    links: ["sink"]
    command: sleep infinity
"""

# The sender's own sum is taken from the same bytes it sends (tee into a fifo).
SEND = (
    "set -e; rm -f /tmp/f; mkfifo /tmp/f; "
    "sha256sum < /tmp/f | cut -d' ' -f1 > /tmp/sent.sha & "
    f"head -c {GIB} /dev/urandom | tee /tmp/f | socat -u STDIN TCP:sink:9000; "
    "wait; cat /tmp/sent.sha"
)


def test_one_gib_crosses_an_ambassador_pair_intact(
    deploy: Deploy, lab: Lab, record_property: Record
) -> None:
    app = deploy("bulk", "api").use(BULK)
    app.up()
    # docker-py's read timeout would cut a long exec: a client that waits long enough.
    client = lab.docker_client(app.lab_host("h2"), timeout=900)
    try:
        [sender] = list(client.containers.list(filters={"name": f"{app.project}-sender"}))
        started = time.monotonic()
        code, output = sender.exec_run(["sh", "-c", SEND])
        took = time.monotonic() - started
    finally:
        client.close()
    text = output.decode(errors="replace").strip()
    assert code == 0, text
    sent = text.splitlines()[-1]
    assert len(sent) == 64 and sent != EMPTY_SHA256, text

    def received() -> list[str]:
        _, out = app.exec("sink", "h1", "cat /tmp/received.* 2>/dev/null; true")
        return [line.split()[0] for line in out.splitlines() if line.strip()]

    deadline = time.monotonic() + 120
    while sent not in received() and time.monotonic() < deadline:
        time.sleep(1)
    sums = [s for s in received() if s != EMPTY_SHA256]
    assert sums == [sent], f"sent {sent}, the sink received {sums}"
    rate = GIB / took / (1 << 20)
    print(f"\n1 GiB through the ambassador pair: {took:.1f} s, {rate:.0f} MiB/s, sha256 {sent}")
    record_property("bulk_seconds", round(took, 1))
    record_property("bulk_mib_per_s", round(rate))


# --- many connections held at once ----------------------------------------------------

HOLD = """
hosts: {h1: {}, h2: {}}
services:
  redis: {image: "redis:7", host: h1, expose: [6379]}
  app: {image: "xcompose/tools:latest", host: h2, links: ["redis"], command: sleep infinity}
"""
CONNECTIONS = 500
HOLD_SECONDS = 30


def hold_connections(address: str, port: int, count: int, seconds: float) -> dict[str, object]:
    """Open `count` redis connections (50 at a time), then on each send PING about once a
    second for `seconds` and expect +PONG; count what went wrong. Runs in the consumer
    host's network namespace (`python -c` with this function's source): self-contained."""
    import asyncio
    import random
    import time

    stats: dict[str, object] = {"opened": 0, "pings": 0, "errors": [], "slowest_ms": 0.0}
    errors: list[str] = stats["errors"]  # type: ignore[assignment]

    async def one(gate: asyncio.Semaphore, ready: asyncio.Event, until: list[float]) -> None:
        async with gate:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 30)
            except (OSError, asyncio.TimeoutError) as error:
                errors.append(f"connect: {error!r}")
                return
            stats["opened"] = int(stats["opened"]) + 1  # type: ignore[call-overload]
        await ready.wait()
        try:
            while time.monotonic() < until[0]:
                await asyncio.sleep(random.uniform(0.5, 1.5))
                sent = time.monotonic()
                writer.write(b"PING\r\n")
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), 30)
                if line != b"+PONG\r\n":
                    errors.append(f"reply {line!r}")
                    return
                stats["pings"] = int(stats["pings"]) + 1  # type: ignore[call-overload]
                stats["slowest_ms"] = max(float(stats["slowest_ms"]), (time.monotonic() - sent) * 1000)  # type: ignore[arg-type]
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
            errors.append(f"held: {error!r}")
        finally:
            writer.close()

    async def main() -> None:
        gate, ready, until = asyncio.Semaphore(50), asyncio.Event(), [0.0]
        tasks = [asyncio.create_task(one(gate, ready, until)) for _ in range(count)]
        while int(stats["opened"]) + len(errors) < count:  # type: ignore[call-overload]
            await asyncio.sleep(0.05)
        until[0] = time.monotonic() + seconds
        ready.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return stats


def _connected_clients(app: Deployment) -> int:
    code, info = app.exec("app", "h2", "redis-cli -h redis info clients")
    assert code == 0, info
    for line in info.splitlines():
        if line.startswith("connected_clients:"):
            return int(line.split(":")[1])
    raise AssertionError(info)


def test_five_hundred_connections_held_for_thirty_seconds_see_no_reset(
    deploy: Deploy, lab: Lab, record_property: Record
) -> None:
    app = deploy("hold", "api").use(HOLD)
    app.up()
    [client_ambassador] = app.containers("h2", role="ambassador-client")
    [network] = client_ambassador.attrs["NetworkSettings"]["Networks"].values()
    address = network["IPAddress"]  # the client ambassador on h2's project network
    call = (f"{inspect.getsource(hold_connections)}\nimport json\n"
            f"print(json.dumps(hold_connections({address!r}, 6379, {CONNECTIONS}, {HOLD_SECONDS})))")
    netns = f"--net=/run/netns/{app.lab_host('h2').netns}"
    started = time.monotonic()
    holder = subprocess.Popen(["nsenter", netns, sys.executable, "-c", call],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # While they are held, redis (behind the server ambassador on h1) counts them all.
        seen, deadline = 0, time.monotonic() + 60
        while seen < CONNECTIONS and time.monotonic() < deadline and holder.poll() is None:
            time.sleep(1)
            seen = _connected_clients(app)
        stdout, stderr = holder.communicate(timeout=HOLD_SECONDS + 180)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    took = time.monotonic() - started
    assert holder.returncode == 0, stderr.decode(errors="replace")
    stats = json.loads(stdout.decode().strip().splitlines()[-1])
    assert stats["errors"] == [], stats["errors"][:10]
    assert stats["opened"] == CONNECTIONS
    assert seen >= CONNECTIONS, f"redis saw {seen} clients at most"
    assert stats["pings"] >= CONNECTIONS * HOLD_SECONDS // 2
    assert len(app.containers("h1", role="ambassador-server")) == 1  # one pair carried them
    print(f"\n{CONNECTIONS} connections held {HOLD_SECONDS} s through one pair: "
          f"{stats['pings']} PINGs, 0 errors, slowest reply {stats['slowest_ms']:.0f} ms, "
          f"redis counted {seen} clients ({took:.0f} s in all)")
    record_property("held_connections", CONNECTIONS)
    record_property("held_pings", stats["pings"])
    record_property("held_slowest_ms", round(float(stats["slowest_ms"])))


# --- a burst of new connections -----------------------------------------------------------

BURST = 500
BURST_DEADLINE = 10.0  # seconds from the burst's start to every connection's answer


def burst_connections(address: str, port: int, count: int, deadline: float) -> dict[str, object]:
    """Open `count` redis connections all at once, send PING on each and expect +PONG, all
    within `deadline` seconds of the start; report what was lost and the slowest answer.
    Runs in the consumer host's network namespace, like hold_connections."""
    import asyncio
    import time

    lost: list[str] = []
    answered: list[float] = []

    async def one(started: float) -> None:
        async def ping() -> bytes:
            reader, writer = await asyncio.open_connection(address, port)
            try:
                writer.write(b"PING\r\n")
                await writer.drain()
                return await reader.readline()
            finally:
                writer.close()

        try:
            line = await asyncio.wait_for(ping(), deadline - (time.monotonic() - started))
        except (OSError, asyncio.TimeoutError) as error:
            lost.append(repr(error))
            return
        if line != b"+PONG\r\n":
            lost.append(f"reply {line!r}")
            return
        answered.append(time.monotonic() - started)

    async def main() -> None:
        started = time.monotonic()
        await asyncio.gather(*(one(started) for _ in range(count)))

    asyncio.run(main())
    return {"answered": len(answered), "lost": lost, "slowest_s": max(answered, default=0.0)}


# The seeds' pair is plain socat; haproxy is the default relay, with mutual TLS.
RELAYS = {"socat": "ambassador: {image: 'alpine/socat:latest', tls: false}", "haproxy": ""}


@pytest.mark.parametrize("relay", sorted(RELAYS))
def test_a_burst_of_five_hundred_new_connections_is_answered_in_full(
    deploy: Deploy, lab: Lab, record_property: Record, relay: str
) -> None:
    app = deploy(f"burst-{relay}", "api").use(f"{HOLD}{RELAYS[relay]}\n")
    app.up()
    [client_ambassador] = app.containers("h2", role="ambassador-client")
    [network] = client_ambassador.attrs["NetworkSettings"]["Networks"].values()
    call = (f"{inspect.getsource(burst_connections)}\nimport json\nprint(json.dumps("
            f"burst_connections({network['IPAddress']!r}, 6379, {BURST}, {BURST_DEADLINE})))")
    netns = f"--net=/run/netns/{app.lab_host('h2').netns}"
    done = subprocess.run(["nsenter", netns, sys.executable, "-c", call],
                          capture_output=True, timeout=BURST_DEADLINE + 60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    stats = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert stats["lost"] == [], f"{len(stats['lost'])} of {BURST} lost: {stats['lost'][:5]}"
    assert stats["answered"] == BURST
    print(f"\n{BURST} connections at once through the {relay} pair: all answered, "
          f"the slowest after {stats['slowest_s']:.2f} s")
    record_property(f"burst_{relay}_slowest_s", round(float(stats["slowest_s"]), 2))
