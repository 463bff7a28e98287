"""The `ssh` executor: the docker CLI on the host, over one paramiko connection.

For hosts whose engine is reachable only by a login (optionally through `sudo -n`). Every
operation is one `docker …` command on its own SSH channel of a shared transport (a few, in one
`sh -c` script, where a step always runs them together: a session each would cost); output is
read as JSON (`--format '{{json .}}'`, `docker inspect`). Every word is shlex-quoted, and
environment values never appear on a command line (process lists and logs show those): they
travel on the command's stdin (`--env-file /dev/stdin`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import paramiko

from xcompose.engines.base import (
    BUILD_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    PULL_TIMEOUT_S,
    TIMED_OUT,
    Executor,
    LogWindow,
    ProjectObjects,
    Streams,
    archive,
    daemon_message,
    is_missing,
    line_splitter,
    live_container,
    project_filter,
)
from xcompose.engines.dockercli import (
    build_argv,
    build_failure,
    connect_argvs,
    create_argv,
    create_network_argv,
    create_volume_argv,
    env_file,
    exec_flags,
    parse_project_objects,
    project_objects_script,
)
from xcompose.engines.sshsession import Result, SshSession, feed, read_all
from xcompose.errors import DockerError, HostError
from xcompose.live import EngineInfo, LiveContainer, LiveNetwork, LiveVolume
from xcompose.plan.specs import BuildSpec, ContainerSpec, ExecOptions, NetworkSpec, UploadFile, VolumeSpec

# --- the executor ---------------------------------------------------------------------------


def _copy_in(container_id: str, path: str) -> list[str]:
    """`docker cp` of a tar archive on stdin into the container at `path`."""
    return ["container", "cp", "-", f"{container_id}:{path}"]


def _network(found: dict[str, Any]) -> LiveNetwork:
    return LiveNetwork(found["Id"], found["Name"], dict(found.get("Labels") or {}))


def _volume(found: dict[str, Any]) -> LiveVolume:
    return LiveVolume(found["Name"], dict(found.get("Labels") or {}))


class SshExecutor(SshSession, Executor):
    """The docker CLI on the host, one command a channel of the session."""

    # --- engine --------------------------------------------------------------------------

    def preflight(self) -> EngineInfo:
        started = time.perf_counter()
        result = self.run(["version", "--format", "{{json .}}"], check=False)
        latency = (time.perf_counter() - started) * 1000
        err = result.err.decode("utf-8", "replace").strip()
        if result.code != 0:
            hint = "check that the ssh user can run docker on the host"
            if result.code == 127 or "command not found" in err:
                hint = "install the docker CLI on the host"
            elif "password is required" in err or "sudo:" in err:
                hint = "let the ssh user run docker through sudo without a password (sudo -n)"
            elif "permission denied" in err.lower() and not self.target.sudo:
                hint = "add the ssh user to the docker group, or set sudo: true for this host"
            raise HostError(self.target.name, self.url, daemon_message(err), hint)
        server = (json.loads(result.out).get("Server") or {})
        return EngineInfo(
            host=self.target.name,
            url=self.url,
            version=str(server.get("Version", "")),
            api_version=str(server.get("ApiVersion", "")),
            latency_ms=latency,
        )

    def _listed(self, kind: str, project: str | None, *flags: str) -> list[dict[str, Any]]:
        label = f"label={project_filter(project)}"
        ids = self.run([kind, "ls", "-q", *flags, "--filter", label]).text.split()
        return self._json_list([kind, "inspect", *ids]) if ids else []

    def containers(self, project: str | None) -> list[LiveContainer]:
        return [live_container(c) for c in self._listed("container", project, "-a", "--no-trunc")]

    def inspect(self, container_id: str) -> LiveContainer:
        return live_container(json.loads(self.run(["container", "inspect", container_id]).out)[0])

    def networks(self, project: str) -> list[LiveNetwork]:
        return [_network(n) for n in self._listed("network", project, "--no-trunc")]

    def volumes(self, project: str) -> list[LiveVolume]:
        return [_volume(v) for v in self._listed("volume", project)]

    def project_objects(self, project: str) -> ProjectObjects:
        # One session for what would be five, two after one another.
        script = project_objects_script(self.docker, f"label={project_filter(project)}")
        result = self.shell(script, shown="reading the project's objects")
        if result.code != 0:
            raise DockerError(result.message)
        found = parse_project_objects(result.text)
        return ([live_container(c) for c in found["container"]], [_network(n) for n in found["network"]],
                [_volume(v) for v in found["volume"]])

    def _unless_missing(self, argv: Sequence[str]) -> str | None:
        """The command's output, or None when the engine says the object does not exist."""
        result = self.run(argv, check=False)
        if result.code == 0:
            return result.text.strip()
        if is_missing(result.message):
            return None
        raise DockerError(result.message)

    def _exists(self, kind: str, name: str) -> bool:
        # Docker also resolves id prefixes: only the exact name counts.
        return self._unless_missing([kind, "inspect", "--format", "{{.Name}}", name]) == name

    def _ensure(self, kind: str, spec: NetworkSpec | VolumeSpec, argv: list[str]) -> None:
        if self._exists(kind, spec.name):
            return
        if spec.external:
            raise DockerError(f"{kind} {spec.name} is declared external but does not exist")
        try:
            self.run(argv)
        except DockerError:
            if not self._exists(kind, spec.name):  # else: created meanwhile by another run
                raise

    def ensure_network(self, spec: NetworkSpec) -> None:
        self._ensure("network", spec, create_network_argv(spec))

    def ensure_volume(self, spec: VolumeSpec) -> None:
        self._ensure("volume", spec, create_volume_argv(spec))

    def remove_network(self, name: str) -> None:
        self._unless_missing(["network", "rm", name])

    def remove_volume(self, name: str) -> None:
        self._unless_missing(["volume", "rm", name])

    def image_id(self, image: str) -> str | None:
        return self._unless_missing(["image", "inspect", "--format", "{{.Id}}", image])

    def image_ports(self, image: str) -> tuple[str, ...] | None:
        found = self._unless_missing(["image", "inspect", "--format", "{{json .Config.ExposedPorts}}", image])
        return None if found is None else tuple(sorted(json.loads(found or "null") or {}))

    def pull(self, image: str, platform: str | None = None) -> None:
        chosen = [] if platform is None else ["--platform", platform]
        self.run(["pull", "--quiet", *chosen, image], timeout=PULL_TIMEOUT_S)

    def import_image(self, reference: str, tar_bytes: bytes) -> None:
        self.run(["image", "import", "-", reference], stdin=tar_bytes)

    def build(self, spec: BuildSpec, context: IO[bytes] | None, progress: Callable[[str], None]) -> str:
        command = self.command_line(build_argv(spec, spec.context if context is None else "-"))
        errors: deque[str] = deque(maxlen=200)
        with self._slots:
            channel = self._channel(BUILD_TIMEOUT_S)
            try:
                channel.exec_command(command)
                # The tar goes in while the output comes out: neither side may wait for the other.
                feeder = threading.Thread(target=feed, args=(channel, context), daemon=True)
                feeder.start()

                def read_errors() -> None:
                    with contextlib.suppress(paramiko.SSHException, OSError, EOFError):  # stdout reports it
                        for line in line_splitter(iter(lambda: channel.recv_stderr(65536), b"")):
                            errors.append(line)
                            progress(line)

                reader = threading.Thread(target=read_errors, daemon=True)
                reader.start()
                for line in line_splitter(iter(lambda: channel.recv(65536), b"")):
                    if line.strip():
                        progress(line)
                code = channel.recv_exit_status()
                reader.join(BUILD_TIMEOUT_S)
            except TimeoutError as error:
                message = f"docker build of {spec.image} gave no sign of life for {BUILD_TIMEOUT_S:g}s"
                raise HostError(self.target.name, self.url, message) from error
            except (paramiko.SSHException, OSError, EOFError) as error:
                raise self._lost(error) from error
            finally:
                channel.close()
        if code != 0:
            raise DockerError(build_failure(list(errors)))
        image_id = self.image_id(spec.image)
        if image_id is None:
            raise DockerError(f"the build ended without an image named {spec.image}")
        return image_id

    # --- containers ----------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> str:
        create = create_argv(spec)
        connects = connect_argvs(spec, spec.name)  # by name: its id is not known before the session
        if connects:
            # One session for the create and the networks it joins after its first: a session
            # start is the dearest part of a command on a busy host (0.15-0.3 s on the lab).
            lines = [self.command_line(argv) for argv in (create, *connects)]
            result = self._script(lines, stdin=env_file(spec), shown=f"creating {spec.name}")
        else:
            result = self.run(create, stdin=env_file(spec))
        return result.text.strip().splitlines()[-1]  # the id; `network connect` prints nothing

    def start(self, container_id: str) -> None:
        self.run(["container", "start", container_id])

    def launch(self, container_id: str, files: Sequence[UploadFile], *, inspect: bool) -> LiveContainer | None:
        lines = [self.command_line(_copy_in(container_id, "/"))] if files else []
        lines.append(self.command_line(["container", "start", container_id]) + " >/dev/null")
        if inspect:
            lines.append(self.command_line(["container", "inspect", container_id]))
        result = self._script(lines, stdin=archive(files) if files else None, shown=f"starting {container_id}")
        return live_container(json.loads(result.out)[0]) if inspect else None

    def _script(self, lines: Sequence[str], *, stdin: bytes | None, shown: str) -> Result:
        """Commands one after the other in one session, up to the first that fails (whose
        error is raised, as `run` raises it); stdin is the first's."""
        result = self.shell(" && ".join(lines), stdin=stdin, shown=shown)
        if result.code != 0:
            raise DockerError(result.message)
        return result

    def stop(self, container_id: str, timeout: int | None = None) -> None:
        time = [] if timeout is None else ["--time", str(timeout)]
        self.run(["container", "stop", *time, container_id], timeout=DEFAULT_TIMEOUT_S + (timeout or 10))

    def remove(self, container_id: str, *, force: bool = True, volumes: bool = False) -> None:
        flags = (["--force"] if force else []) + (["--volumes"] if volumes else [])
        self._unless_missing(["container", "rm", *flags, container_id])

    def rename(self, container_id: str, name: str) -> None:
        self.run(["container", "rename", container_id, name])

    def remove_image(self, image: str) -> None:
        self._unless_missing(["image", "rm", image])

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        self.run(["container", "kill", "--signal", signal, container_id])

    def pause(self, container_id: str) -> None:
        self.run(["container", "pause", container_id])

    def unpause(self, container_id: str) -> None:
        self.run(["container", "unpause", container_id])

    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]:
        # `docker top` prints ps columns; the API's answer is the same table.
        lines = self.run(["container", "top", container_id]).out.decode(errors="replace").splitlines()
        if not lines:
            return [], []
        titles = lines[0].split()
        return titles, [line.split(None, len(titles) - 1) for line in lines[1:] if line.strip()]

    def attach_exec(
        self, container_id: str, argv: Sequence[str], streams: Streams, *, tty: bool = False,
        options: ExecOptions | None = None,
    ) -> int:
        flags = [*(["--interactive"] if streams.stdin is not None else []), *(["--tty"] if tty else [])]
        return self._attached(["container", "exec", *flags, *exec_flags(options or ExecOptions()), container_id,
                               *argv], streams, tty)

    def start_attached(self, container_id: str, streams: Streams, *, tty: bool = False) -> int:
        flags = ["--attach", *(["--interactive"] if streams.stdin is not None else [])]
        return self._attached(["container", "start", *flags, container_id], streams, tty)

    def exec(
        self, container_id: str, argv: Sequence[str], timeout: float = 30, *, options: ExecOptions | None = None
    ) -> tuple[int, str]:
        # The command's stderr joins its stdout on the remote side, not on the channel: the
        # channel's stderr also carries whatever the user's login shell prints (a noisy
        # ~/.bashrc), which is not the command's output.
        flags = exec_flags(options or ExecOptions())
        command = self.command_line(["container", "exec", *flags, container_id, *argv]) + " 2>&1"
        with self._slots:
            try:
                result = self._execute(command, None, timeout)
            except TimeoutError:
                return TIMED_OUT, f"timed out after {timeout:g}s"
        text = result.text
        if result.code != 0 and text.startswith(("Error response from daemon:", "Error: No such")):
            raise DockerError(daemon_message(text))  # the CLI failed, not the command
        return result.code, text

    def events(self, project: str) -> Iterator[dict[str, Any]]:
        argv = ["events", "--filter", f"label={project_filter(project)}", "--filter", "type=container",
                "--format", "{{json .}}"]
        channel = self._channel(None)  # as long as the user watches; the watchdog bounds silence
        try:
            channel.exec_command(self.command_line(argv))
            channel.shutdown_write()
            for line in line_splitter(iter(lambda: channel.recv(65536), b"")):
                if line.startswith("{"):
                    yield dict(json.loads(line))
            if not channel.get_transport().is_active():
                raise EOFError("the connection closed while events were followed")
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise self._lost(error) from error
        finally:
            channel.close()

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        self.run(_copy_in(container_id, path), stdin=tar_bytes)

    def get_archive(self, container_id: str, path: str, sink: IO[bytes]) -> None:
        channel = self._channel(None)  # a large folder may take long: the watchdog bounds silence
        try:
            channel.exec_command(self.command_line(["container", "cp", f"{container_id}:{path}", "-"]))
            channel.shutdown_write()
            errors: list[bytes] = []
            reader = threading.Thread(target=lambda: errors.append(read_all(channel.recv_stderr)), daemon=True)
            reader.start()
            for chunk in iter(lambda: channel.recv(65536), b""):
                sink.write(chunk)
            code = channel.recv_exit_status()
            reader.join(5)
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise self._lost(error) from error
        finally:
            channel.close()
        if code != 0:
            raise DockerError(daemon_message(b"".join(errors).decode(errors="replace")))

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, window: LogWindow | None = None
    ) -> Iterator[str]:
        argv = ["container", "logs"] + (["--follow"] if follow else []) + (window or LogWindow()).cli_args()
        argv += ["--tail", "all" if tail is None else str(tail), container_id]
        if not follow:
            yield from self.run(argv, combine=True).text.splitlines()
            return
        # A stream cannot tell the CLI's error from a log line: ask first. Not bounded by
        # the slots: a follow stream may last for hours.
        self.run(["container", "inspect", "--format", "{{.Id}}", container_id])
        channel = self._channel(None)
        try:
            channel.set_combine_stderr(True)
            channel.exec_command(self.command_line(argv))
            channel.shutdown_write()
            yield from line_splitter(iter(lambda: channel.recv(65536), b""))
            if not channel.get_transport().is_active():  # ended because the host was lost
                raise EOFError("the connection closed while the log was followed")
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise self._lost(error) from error
        finally:
            channel.close()
