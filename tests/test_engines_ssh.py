"""The ssh executor against a fake host: the commands it runs for each operation, how it
reads their output, and how it reports what the engine or the host said."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_engines_dockercli import FAKE_DOCKER, RICH, SECRET
from xcompose.engines.base import daemon_message, format_ports, line_splitter
from xcompose.engines.dockercli import (
    SUDO_DOCKER,
    create_argv,
    env_file,
)
from xcompose.engines.ssh import SshExecutor
from xcompose.engines.sshsession import Result
from xcompose.errors import DockerError, HostError
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.specs import (
    Endpoint,
    HostTarget,
    NetworkSpec,
    UploadFile,
)
from xcompose.tarball import unpack

Responder = Callable[[list[str], bytes | None], Result]


class FakeHost(SshExecutor):
    """SshExecutor whose commands go to `respond` instead of an SSH channel."""

    def __init__(self, respond: Responder, sudo: bool = False) -> None:
        super().__init__(HostTarget("h1", "10.0.0.1", "ssh://root@10.0.0.1", executor="ssh", sudo=sudo))
        self.respond = respond
        self.lines: list[str] = []
        self.stdins: list[bytes | None] = []

    def _call(self, command: str, stdin: bytes | None) -> Result:
        self.lines.append(command)
        self.stdins.append(stdin)
        prefix = SUDO_DOCKER + " " if self.target.sudo else "docker "
        assert command.startswith(prefix)
        return self.respond(shlex.split(command[len(prefix):]), stdin)

    # What the host's login shell prints on the session's stderr before any command runs.
    shell_noise = b""

    def _execute(self, command: str, stdin: bytes | None, timeout: float, combine: bool = False) -> Result:
        redirected = command.endswith(" 2>&1")
        result = self._call(command.removesuffix(" 2>&1"), stdin)
        if combine:
            return Result(result.code, self.shell_noise + result.out + result.err, b"")
        if redirected:
            return Result(result.code, result.out + result.err, self.shell_noise)
        return Result(result.code, result.out, self.shell_noise + result.err)


def ok(out: str = "") -> Result:
    return Result(0, out.encode(), b"")


def fail(err: str, code: int = 1) -> Result:
    return Result(code, b"", err.encode())


INSPECT = {
    "Id": "c0ffee" * 10 + "abcd",
    "Name": "/shop-db",
    "Image": "sha256:1234",
    "Config": {"Image": "redis:7", "Labels": {LABEL_PROJECT: "shop"}},
    "State": {"Status": "running", "ExitCode": 0, "Health": {"Status": "healthy"}},
    "NetworkSettings": {"Ports": {"6379/tcp": [{"HostIp": "10.0.0.1", "HostPort": "16379"}, {"HostIp": "::", "HostPort": "16379"}], "6380/tcp": None}},
}


def test_create_sends_environment_on_stdin_only() -> None:
    host = FakeHost(lambda argv, stdin: ok("Unable to find...\n" + "f" * 64 + "\n"))
    assert host.create(RICH) == "f" * 64
    (line,) = host.lines
    assert SECRET not in line and "primary" not in line
    assert "REDIS_PASSWORD" not in line  # not even the names: nothing of the env on argv
    assert shlex.split(line) == ["docker", *create_argv(RICH)]
    assert host.stdins == [env_file(RICH)]


def test_every_word_is_quoted_and_sudo_is_prefixed() -> None:
    host = FakeHost(lambda argv, stdin: ok("id\n"), sudo=True)
    host.rename("x; touch /tmp/pwned", "new name $(id)")
    assert host.lines[0].startswith('sudo -n docker ${DOCKER_HOST:+--host="$DOCKER_HOST"} ')
    assert shlex.split(host.lines[0])[4:] == ["container", "rename", "x; touch /tmp/pwned", "new name $(id)"]


def test_sudo_hands_the_sessions_docker_host_on() -> None:
    line = FakeHost(lambda argv, stdin: ok(), sudo=True).command_line(["ps"])
    shown = line.replace("sudo -n docker", "echo", 1)
    for env, expected in (({"DOCKER_HOST": "unix:///run/d.sock"}, "--host=unix:///run/d.sock ps"), ({}, "ps")):
        out = subprocess.run(["sh", "-c", shown], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_containers_lists_by_label_then_inspects() -> None:
    def respond(argv: list[str], stdin: bytes | None) -> Result:
        if argv[1] == "ls":
            assert argv == ["container", "ls", "-q", "-a", "--no-trunc", "--filter", f"label={LABEL_PROJECT}=shop"]
            return ok(INSPECT["Id"] + "\n" + "gone" + "\n")
        # One container vanished meanwhile: the CLI prints the rest and exits 1.
        assert argv == ["container", "inspect", INSPECT["Id"], "gone"]
        return Result(1, json.dumps([INSPECT]).encode(), b"Error: No such object: gone")

    (live,) = FakeHost(respond).containers("shop")
    assert live.name == "shop-db" and live.image == "redis:7" and live.image_id == "sha256:1234"
    assert live.state == "running" and live.health == "healthy" and live.exit_code is None
    assert live.ports == ("10.0.0.1:16379->6379/tcp", "6380/tcp", "[::]:16379->6379/tcp")


def test_inspect_of_a_missing_container_raises_dockers_message() -> None:
    host = FakeHost(lambda argv, stdin: fail("Error response from daemon: No such container: nope\n"))
    with pytest.raises(DockerError, match=r"^No such container: nope$"):
        host.inspect("nope")


def test_missing_objects_are_not_errors_for_removal_and_image_id() -> None:
    host = FakeHost(lambda argv, stdin: fail("Error response from daemon: No such container: x"))
    host.remove("x")
    host.remove_network("x")
    host.remove_volume("x")
    assert host.image_id("redis:7") is None
    assert shlex.split(host.lines[0])[1:] == ["container", "rm", "--force", "x"]


def test_ensure_network_is_idempotent() -> None:
    existing = {"shop_default"}

    def respond(argv: list[str], stdin: bytes | None) -> Result:
        if argv[:2] == ["network", "inspect"]:
            name = argv[-1]
            return ok(name + "\n") if name in existing else fail(f"Error: No such network: {name}")
        assert argv[:2] == ["network", "create"]
        existing.add(argv[-1])
        return ok("netid\n")

    host = FakeHost(respond)
    host.ensure_network(NetworkSpec("shop_default"))
    host.ensure_network(NetworkSpec("shop_other", driver="bridge", labels=((LABEL_PROJECT, "shop"),)))
    creates = [shlex.split(line)[1:] for line in host.lines if " create " in line]
    assert creates == [["network", "create", "--driver", "bridge", "--label", f"{LABEL_PROJECT}=shop", "shop_other"]]
    with pytest.raises(DockerError, match="external"):
        host.ensure_network(NetworkSpec("elsewhere", external=True))


def test_pull_failure_carries_dockers_own_message() -> None:
    message = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
    host = FakeHost(lambda argv, stdin: fail(f"Error response from daemon: {message}\n"))
    with pytest.raises(DockerError) as info:
        host.pull("nothere:1")
    assert str(info.value) == message
    with pytest.raises(DockerError):
        host.pull("nothere:1", "linux/arm64")
    assert shlex.split(host.lines[-1])[1:] == ["pull", "--quiet", "--platform", "linux/arm64", "nothere:1"]


def test_exec_returns_code_and_output_but_raises_when_the_container_is_gone() -> None:
    host = FakeHost(lambda argv, stdin: Result(3, b"out\n", b"err\n"))
    assert host.exec("c", ["sh", "-c", "exit 3"]) == (3, "out\nerr\n")
    assert shlex.split(host.lines[0])[1:] == ["container", "exec", "c", "sh", "-c", "exit 3"]
    gone = FakeHost(lambda argv, stdin: fail("Error response from daemon: No such container: c"))
    with pytest.raises(DockerError, match="No such container"):
        gone.exec("c", ["true"])


def test_exec_output_leaves_out_what_the_remote_login_shell_prints() -> None:
    host = FakeHost(lambda argv, stdin: Result(0, b"26\n", b""))
    host.shell_noise = b"pyenv: cannot rehash: /root/.pyenv/shims isn't writable\n"
    assert host.exec("c", ["echo", "26"]) == (0, "26\n")


def test_put_archive_streams_the_tar_on_stdin() -> None:
    host = FakeHost(lambda argv, stdin: ok())
    host.put_archive("c", "/etc", b"TAR")
    assert shlex.split(host.lines[0])[1:] == ["container", "cp", "-", "c:/etc"]
    assert host.stdins == [b"TAR"]


def test_logs_lines_and_tail() -> None:
    host = FakeHost(lambda argv, stdin: ok("one\ntwo\r\n"))
    assert list(host.logs("c", tail=2)) == ["one", "two"]
    assert shlex.split(host.lines[0])[1:] == ["container", "logs", "--tail", "2", "c"]


def test_preflight_reads_the_server_version() -> None:
    version = {"Client": {"Version": "28.2.2"}, "Server": {"Version": "28.2.2", "ApiVersion": "1.50"}}
    info = FakeHost(lambda argv, stdin: ok(json.dumps(version))).preflight()
    assert (info.host, info.version, info.api_version) == ("h1", "28.2.2", "1.50")


@pytest.mark.parametrize(
    ("code", "err", "hint"),
    [
        (127, "bash: docker: command not found", "install the docker CLI"),
        (1, "sudo: a password is required", "sudo"),
        (1, "permission denied while trying to connect to the Docker daemon socket", "docker group"),
    ],
)
def test_preflight_failures_become_host_errors_with_hints(code: int, err: str, hint: str) -> None:
    with pytest.raises(HostError) as info:
        FakeHost(lambda argv, stdin: fail(err, code)).preflight()
    assert info.value.host == "h1" and info.value.url == "ssh://root@10.0.0.1"
    assert hint in info.value.hint


def test_non_ssh_url_is_a_host_error() -> None:
    executor = SshExecutor(HostTarget("h", None, "unix:///var/run/docker.sock", executor="ssh"))
    with pytest.raises(HostError, match="ssh://"):
        executor.preflight()


def test_shared_helpers() -> None:
    assert daemon_message("Error response from daemon: conflict\n") == "conflict"
    assert format_ports({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}) == ("0.0.0.0:8080->80/tcp",)
    assert list(line_splitter(iter([b"a\nb", b"c\n", b"d"]))) == ["a", "bc", "d"]


class LocalShell(SshExecutor):
    """SshExecutor whose sessions run here, with a stand-in `docker` first on PATH."""

    def __init__(self, path: Path, sudo: bool = False) -> None:
        super().__init__(HostTarget("h1", "10.0.0.1", "ssh://root@10.0.0.1", executor="ssh", sudo=sudo))
        self.env = {**os.environ, "PATH": f"{path}{os.pathsep}{os.environ['PATH']}", "DOCKER_LOG": str(path / "log")}
        self.sessions = 0

    def _execute(self, command: str, stdin: bytes | None, timeout: float, combine: bool = False) -> Result:
        self.sessions += 1
        done = subprocess.run(command, shell=True, env=self.env, input=stdin or b"", capture_output=True,
                              timeout=timeout, check=False)
        return Result(done.returncode, done.stdout, done.stderr)


def test_a_hosts_project_objects_are_read_in_one_session(tmp_path: Path) -> None:
    (tmp_path / "docker").write_text(FAKE_DOCKER)
    (tmp_path / "docker").chmod(0o755)
    host = LocalShell(tmp_path)
    containers, networks, volumes = host.project_objects("shop")
    assert host.sessions == 1
    assert [c.id for c in containers] == ["c1"] and [(n.id, n.name) for n in networks] == [("n1", "shop_default")]
    assert volumes == []


def test_a_failed_listing_of_the_project_objects_is_dockers_error(tmp_path: Path) -> None:
    (tmp_path / "docker").write_text("#!/bin/sh\necho 'Error response from daemon: engine is shutting down' >&2\nexit 1\n")
    (tmp_path / "docker").chmod(0o755)
    with pytest.raises(DockerError, match=r"^engine is shutting down$"):
        LocalShell(tmp_path).project_objects("shop")


def test_the_ssh_executor_loads_without_docker_py() -> None:
    # docker-py, requests and urllib3 cost a no-op `up` over ssh a tenth of a second of start-up.
    code = "import sys, xcompose.engines.ssh; print(sorted({'docker', 'requests', 'urllib3'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# A host's docker for what starting a container runs: each command logged, stdin kept.
LAUNCHING_DOCKER = """#!/bin/sh
echo "$*" >> "$DOCKER_LOG"
case "$1" in --host=*) shift ;; esac
case "$1 $2" in
  "container create") cat > "$DOCKER_LOG.env"; echo "Unable to find image locally"; echo f00d ;;
  "network connect") ;;
  "container cp") [ -z "$FAIL_CP" ] || { echo "Error response from daemon: no space left" >&2; exit 1; }
                  cat > "$DOCKER_LOG.tar" ;;
  "container start") echo "$3" ;;
  "container inspect") cat "$DOCKER_LOG.inspect" ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"""


def launching_host(tmp_path: Path) -> LocalShell:
    (tmp_path / "docker").write_text(LAUNCHING_DOCKER)
    (tmp_path / "docker").chmod(0o755)
    (tmp_path / "log.inspect").write_text(json.dumps([INSPECT]))
    return LocalShell(tmp_path)


def test_files_start_and_first_look_are_one_session(tmp_path: Path) -> None:
    host = launching_host(tmp_path)
    state = host.launch("c1", [UploadFile("/etc/app.conf", b"port 1\n")], inspect=True)
    assert host.sessions == 1
    assert (tmp_path / "log").read_text().splitlines() == [
        "container cp - c1:/", "container start c1", "container inspect c1"]
    assert unpack((tmp_path / "log.tar").read_bytes()) == {"etc/app.conf": b"port 1\n"}
    assert state is not None and state.id == INSPECT["Id"] and state.state == "running"


def test_a_start_without_files_or_look_runs_start_alone(tmp_path: Path) -> None:
    host = launching_host(tmp_path)
    assert host.launch("c1", [], inspect=False) is None
    assert (tmp_path / "log").read_text().splitlines() == ["container start c1"]


def test_a_failed_upload_starts_nothing_and_raises_dockers_message(tmp_path: Path) -> None:
    host = launching_host(tmp_path)
    host.env["FAIL_CP"] = "1"
    with pytest.raises(DockerError, match=r"^no space left$"):
        host.launch("c1", [UploadFile("/etc/app.conf", b"x")], inspect=True)
    assert (tmp_path / "log").read_text().splitlines() == ["container cp - c1:/"]


def test_a_container_on_several_networks_is_created_and_joined_in_one_session(tmp_path: Path) -> None:
    host = launching_host(tmp_path)
    spec = dataclasses.replace(RICH, networks=(*RICH.networks, Endpoint("shop_back", ("db",))))
    assert host.create(spec) == "f00d"
    assert host.sessions == 1
    assert (tmp_path / "log.env").read_bytes() == env_file(spec)  # the environment on stdin, as ever
    calls = (tmp_path / "log").read_text().splitlines()
    assert calls[0].startswith("container create") and calls[1:] == ["network connect --alias db shop_back shop-db"]


def test_through_sudo_each_command_of_the_session_runs_as_run_alone_would(tmp_path: Path) -> None:
    """Every docker of the script goes through `sudo -n`, handed the session's DOCKER_HOST."""
    (tmp_path / "sudo").write_text('#!/bin/sh\n[ "$1" = -n ] && shift\necho sudo >> "$DOCKER_LOG"\nexec "$@"\n')
    (tmp_path / "sudo").chmod(0o755)
    host = launching_host(tmp_path)
    sudoed = LocalShell(tmp_path, sudo=True)
    sudoed.env["DOCKER_HOST"] = "unix:///run/other.sock"
    assert sudoed.launch("c1", [], inspect=True) is not None
    assert host.sessions == 0 and sudoed.sessions == 1
    assert (tmp_path / "log").read_text().splitlines() == [
        "sudo", "--host=unix:///run/other.sock container start c1",
        "sudo", "--host=unix:///run/other.sock container inspect c1"]
