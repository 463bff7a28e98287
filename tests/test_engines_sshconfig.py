"""SSH settings and host-key trust, against an in-process paramiko server on 127.0.0.1:
unknown keys refused with a hint, known keys from every known_hosts source accepted,
changed keys refused, accept-new only when the user asked for it; and the ssh executor's
channel handling (stdin, stderr, exit codes, timeouts) over a real SSH transport."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import paramiko
import pytest

from tests.fakesshd import FakeSshd, write_ssh_config
from xcompose.engines import sshconfig
from xcompose.engines.ssh import SshExecutor
from xcompose.errors import DockerError, HostError
from xcompose.plan.specs import HostTarget


def test_resolve_applies_the_config_and_the_url_wins(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cfg"
    config.write_text(
        "Host db1\n  HostName 10.1.1.1\n  User deploy\n  Port 2222\n  IdentityFile ~/.ssh/id_db\n"
        "  UserKnownHostsFile ~/kh1 /etc/kh2\n  StrictHostKeyChecking accept-new\n"
        "  ProxyCommand nc -X connect -x proxy:3128 %h %p\n"
        "Host web1\n  ProxyJump bastion\n"
    )
    monkeypatch.setenv(sshconfig.ENV_SSH_CONFIG, str(config))
    monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(tmp_path / "lab_kh"))
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    (home / ".ssh" / "id_db").write_text("")  # OpenSSH offers the identity files that exist
    p = sshconfig.resolve("ssh://db1")
    assert (p.hostname, p.port, p.username, p.strict) == ("10.1.1.1", 2222, "deploy", "accept-new")
    assert p.identity_files == (f"{home}/.ssh/id_db",)
    assert p.known_hosts == (f"{home}/kh1", "/etc/kh2", sshconfig.GLOBAL_KNOWN_HOSTS, f"{sshconfig.GLOBAL_KNOWN_HOSTS}2",
                             str(tmp_path / "lab_kh"))
    assert p.record_file == f"{home}/kh1"
    assert p.proxy_command == "nc -X connect -x proxy:3128 10.1.1.1 2222"
    assert p.key_name == "[10.1.1.1]:2222"
    q = sshconfig.resolve("ssh://root@db1:22")
    assert (q.username, q.port) == ("root", 22)
    web = sshconfig.resolve("ssh://web1")
    assert web.proxy_command == "ssh -W web1:22 bastion" and web.strict == "ask"  # OpenSSH's default: refused
    assert web.known_hosts[0] == f"{home}/.ssh/known_hosts"


def test_unknown_host_key_is_refused_with_a_hint(tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    write_ssh_config(tmp_path, sshd, monkeypatch)
    with pytest.raises(HostError) as info:
        sshconfig.open_client("ssh://box", "db1")
    error = info.value
    assert error.host == "db1" and error.url == "ssh://box"
    assert sshconfig.fingerprint(sshd.host_key) in error.message
    assert f"ssh-keyscan -H -p {sshd.port} 127.0.0.1 >> ~/.ssh/known_hosts" in error.hint
    assert not (home / ".ssh" / "known_hosts").exists()  # nothing accepted behind our back


@pytest.mark.parametrize("source", ["env", "user_file", "home"])
def test_known_key_from_each_source_is_accepted(source: str, tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    kh = tmp_path / "known_hosts"
    extra = ""
    if source == "env":
        monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(kh))
    elif source == "user_file":
        extra = f"  UserKnownHostsFile {kh}\n"
    else:
        kh = home / ".ssh" / "known_hosts"
        kh.parent.mkdir()
    kh.write_text(sshd.known_hosts_line())
    write_ssh_config(tmp_path, sshd, monkeypatch, extra)
    client, watchdog = sshconfig.open_client("ssh://box", "db1")
    watchdog.stop()
    client.close()


def test_changed_host_key_is_refused(tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line(paramiko.ECDSAKey.generate()))
    monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(kh))
    write_ssh_config(tmp_path, sshd, monkeypatch, "  StrictHostKeyChecking accept-new\n")
    with pytest.raises(HostError) as info:
        sshconfig.open_client("ssh://box", "db1")
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in info.value.message
    assert "ssh-keygen -R" in info.value.hint


def test_accept_new_records_the_key_when_the_user_asked(tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    kh = tmp_path / "user_known_hosts"
    write_ssh_config(tmp_path, sshd, monkeypatch, f"  UserKnownHostsFile {kh}\n  StrictHostKeyChecking accept-new\n")
    for strict in (False, True):
        if strict:
            assert kh.read_text() == sshd.known_hosts_line()
            write_ssh_config(tmp_path, sshd, monkeypatch, f"  UserKnownHostsFile {kh}\n")
        client, watchdog = sshconfig.open_client("ssh://box", "db1")
        watchdog.stop()
        client.close()


def test_wrong_identity_is_an_authentication_error(tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(kh))
    write_ssh_config(tmp_path, sshd, monkeypatch)
    with pytest.raises(HostError) as info:
        sshconfig.open_client("ssh://someoneelse@box", "db1")
    assert "authentication failed" in info.value.message and "IdentityFile" in info.value.hint


def test_the_connection_sends_each_packet_at_once(tmp_path: Path, home: Path, sshd: FakeSshd,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(kh))
    write_ssh_config(tmp_path, sshd, monkeypatch)
    client, watchdog = sshconfig.open_client("ssh://box", "db1")
    try:
        transport = client.get_transport()
        assert transport is not None
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1  # type: ignore[union-attr]
    finally:
        watchdog.stop()
        client.close()


def test_ssh_executor_channels_over_a_real_transport(tmp_path: Path, home: Path, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    monkeypatch.setenv(sshconfig.ENV_KNOWN_HOSTS, str(kh))
    write_ssh_config(tmp_path, sshd, monkeypatch)
    executor = SshExecutor(HostTarget("db1", "127.0.0.1", "ssh://box", executor="ssh", max_parallel=8))
    try:
        assert executor.preflight().api_version == "1.50"
        assert sshd.commands[-1] == "docker version --format '{{json .}}'"
        result = executor.run(["container", "cp", "-", "c:/x"], stdin=b"x" * 300_000)
        assert result.text == "got 300000"  # stdin delivered whole, then EOF
        with pytest.raises(DockerError, match=r"^No such container: x$"):
            executor.run(["container", "start", "x"])
        # Several threads at once share the one transport.
        threads = [threading.Thread(target=executor.preflight) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(sshd._transports) == 1
        started = time.monotonic()
        assert executor.exec("c", ["sleep", "10"], timeout=0.5)[0] == 124
        assert time.monotonic() - started < 2.5
    finally:
        executor.close()


def test_the_config_is_read_as_openssh_reads_it_with_include_and_match(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "db.conf").write_text("Host db1\n  HostName 10.1.1.9\n  Port 2200\n")
    config = tmp_path / "cfg"
    config.write_text(f"Include {tmp_path}/conf.d/*.conf\nMatch host 10.1.1.9\n  User ops\n")
    monkeypatch.setenv(sshconfig.ENV_SSH_CONFIG, str(config))
    p = sshconfig.resolve("ssh://db1")
    assert (p.hostname, p.port, p.username) == ("10.1.1.9", 2200, "ops")


def test_a_config_openssh_refuses_is_an_error_not_a_guess(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cfg"
    config.write_text("Host db1\n  NoSuchOption yes\n")
    monkeypatch.setenv(sshconfig.ENV_SSH_CONFIG, str(config))
    with pytest.raises(ValueError, match=r"bad configuration option"):
        sshconfig.resolve("ssh://db1")
