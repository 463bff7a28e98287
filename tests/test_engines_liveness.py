"""A host that stops answering is given up within its `lost_after`, on a real SSH transport
through a proxy that can go silent: no reset, no error, nothing back, as a dead switch or
a dropping firewall behaves."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakesshd import FakeSshd, write_ssh_config
from tests.sockets import Relay
from xcompose.engines import sshconfig
from xcompose.engines.liveness import keepalive_options
from xcompose.engines.ssh import SshExecutor
from xcompose.errors import HostError
from xcompose.plan.specs import HostTarget


class SilentProxy:
    """Forwards TCP both ways until `silence()`; from then on it reads and drops everything."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.silent = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self._relay = Relay(self.listener, self._accept)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._relay.carry(client, upstream)
            for a, b in ((client, upstream), (upstream, client)):
                self._relay.run(self._pump, a, b)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if not self.silent.is_set():
                try:
                    sink.sendall(data)
                except OSError:
                    return

    def silence(self) -> None:
        self.silent.set()

    def close(self) -> None:
        self._relay.close()


@pytest.fixture
def proxy(sshd: FakeSshd) -> Iterator[SilentProxy]:
    found = SilentProxy(sshd.port)
    yield found
    found.close()


def test_a_host_that_goes_silent_mid_run_is_lost_within_its_bound(
    tmp_path: Path, home: Path, sshd: FakeSshd, proxy: SilentProxy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{proxy.port} {sshd.host_key.get_name()} {sshd.host_key.get_base64()}\n")
    monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(kh))
    config = write_ssh_config(tmp_path, sshd, monkeypatch)
    config.write_text(config.read_text().replace(f"Port {sshd.port}", f"Port {proxy.port}"))
    executor = SshExecutor(HostTarget("db1", "127.0.0.1", "ssh://box", executor="ssh", lost_after=2))
    try:
        assert executor.preflight().api_version == "1.50"
        proxy.silence()
        started = time.monotonic()
        with pytest.raises(HostError) as caught:
            executor.run(["container", "inspect", "c"])
        took = time.monotonic() - started
        assert "db1" in str(caught.value) and "stopped answering: no reply within 2s" in str(caught.value)
        assert took < 2 * 2 + 1, f"gave up after {took:.1f}s"
    finally:
        executor.close()


def test_tcp_sockets_give_up_on_a_silent_peer_after_about_the_bound() -> None:
    options = {option: value for _, option, value in keepalive_options(30)}
    assert options[socket.SO_KEEPALIVE] == 1
    assert options[socket.TCP_KEEPIDLE] + 3 * options[socket.TCP_KEEPINTVL] <= 30
    assert options[socket.TCP_USER_TIMEOUT] == 30_000
