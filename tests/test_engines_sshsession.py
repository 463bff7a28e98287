"""The ssh executor's session with a real SSH server (paramiko's server side): commands
are started without waiting for the host's yes, and a no still reads as one."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakesshd import FakeSshd, write_ssh_config
from xcompose.engines import sshconfig
from xcompose.engines.ssh import SshExecutor
from xcompose.engines.sshsession import SshSession
from xcompose.errors import HostError
from xcompose.plan.specs import HostTarget


def executor_for(sshd: FakeSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SshExecutor:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(known))
    write_ssh_config(tmp_path, sshd, monkeypatch)
    return SshExecutor(HostTarget("db1", "127.0.0.1", "ssh://box", executor="ssh", lost_after=5))


def test_a_command_runs_and_its_output_and_exit_status_come_back(
        tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    executor = executor_for(sshd, tmp_path, monkeypatch)
    try:
        result = executor.run(["container", "cp", "-", "c:/x"], stdin=b"abc")
        assert (result.code, result.text) == (0, "got 3")
    finally:
        executor.close()


def test_a_command_the_host_refuses_to_run_is_a_host_error_not_a_hang(
        tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    sshd.refuse_exec = True
    executor = executor_for(sshd, tmp_path, monkeypatch)
    try:
        with pytest.raises(HostError, match="did not run the command"):
            executor.run(["version"], timeout=30)
        assert sshd.commands == ["docker version"]
    finally:
        executor.close()


def wait_for(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_each_command_runs_on_a_channel_opened_ahead_of_it(
        tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    executor = executor_for(sshd, tmp_path, monkeypatch)
    try:
        executor.run(["container", "cp", "-", "c:/x"])  # opens its own channel, and the next one
        wait_for(lambda: sshd.channels == 2)
        executor.run(["container", "cp", "-", "c:/y"])  # takes that one, and opens the next
        wait_for(lambda: sshd.channels == 3)
        assert sshd.channels == 3 and len(sshd.commands) == 2
    finally:
        executor.close()


def test_a_host_found_silent_is_said_to_be_silent_even_after_its_client_was_replaced() -> None:
    # A command on the lost connection reports after another thread began a new client.
    session = SshSession(HostTarget("db1", "127.0.0.1", "ssh://box", executor="ssh", lost_after=2))
    session._on_silence()  # what the lost connection's watchdog calls
    error = session._lost(EOFError("the connection closed before the command ended"))
    assert "stopped answering: no reply within 2s" in str(error)
