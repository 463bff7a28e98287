"""A real SSH server in this process (paramiko's server side) that runs no command: it
answers `docker …` command lines from a handler, for tests of the SSH transport, the ssh
executor's channel handling and the host-key rules."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
import pytest

from tests.sockets import stop_serving
from xcompose.engines import sshconfig

Handler = Callable[[str, bytes], tuple[int, bytes, bytes]]


@dataclass
class FakeSshd:
    host_key: paramiko.PKey
    client_key: paramiko.PKey
    handler: Handler
    port: int = 0
    commands: list[str] = field(default_factory=list)
    refuse_exec: bool = False  # say no to every command, as a host out of processes would
    channels: int = 0  # session channels opened
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _transports: list[paramiko.Transport] = field(default_factory=list)

    def start(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name=f"fakesshd-{self.port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            self._transports.append(transport)
            # With an event, the handshake runs in the transport's own thread: a client
            # that hangs up, or never speaks, holds up no other client.
            transport.start_server(threading.Event(), server=_Server(self))

    def stop(self) -> None:
        if self._sock is not None and self._thread is not None:
            stop_serving(self._sock, self._thread)
        for transport in self._transports:
            transport.close()

    def known_hosts_line(self, key: paramiko.PKey | None = None) -> str:
        key = key or self.host_key
        return f"[127.0.0.1]:{self.port} {key.get_name()} {key.get_base64()}\n"


class _Server(paramiko.ServerInterface):
    def __init__(self, sshd: FakeSshd) -> None:
        self.sshd = sshd

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "deploy" and key.asbytes() == self.sshd.client_key.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        self.sshd.channels += 1
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode()
        self.sshd.commands.append(text)
        if self.sshd.refuse_exec:
            return False

        def serve() -> None:
            stdin = b""
            while chunk := channel.recv(65536):
                stdin += chunk
            code, out, err = self.sshd.handler(text, stdin)
            if out:
                channel.sendall(out)
            if err:
                channel.sendall_stderr(err)
            channel.send_exit_status(code)
            channel.close()

        threading.Thread(target=serve, daemon=True).start()
        return True


def default_handler(command: str, stdin: bytes) -> tuple[int, bytes, bytes]:
    if "version" in command:
        return 0, b'{"Server": {"Version": "28.2.2", "ApiVersion": "1.50"}}', b""
    if "cp -" in command:
        return 0, b"got " + str(len(stdin)).encode(), b""
    if "sleep" in command:
        time.sleep(3)
        return 0, b"", b""
    return 1, b"", b"Error response from daemon: No such container: x\n"


def write_ssh_config(tmp_path: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    key_file = tmp_path / "id_ecdsa"
    if not key_file.exists():
        sshd.client_key.write_private_key_file(str(key_file))
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host box\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User deploy\n"
        f"  IdentityFile {key_file}\n  IdentitiesOnly yes\n{extra}"
    )
    monkeypatch.setenv(sshconfig.ENV_SSH_CONFIG, str(config))
    return config


