"""The executor interface: what running a plan may ask of one host's Docker engine.

Two implementations (`api`: Docker Engine API through docker-py; `ssh`: the docker CLI over
paramiko) are held to the same end-to-end tests. What both share lives here: the reading of
`docker inspect` JSON, which is identical whether it came from the API or from the CLI,
and the archive that carries uploaded files.
"""

from __future__ import annotations

import contextlib
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, TypeAlias

from xcompose.live import EngineInfo, LiveContainer, LiveNetwork, LiveVolume
from xcompose.plan import updatable
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.specs import (
    BuildSpec,
    ContainerSpec,
    ExecOptions,
    HostTarget,
    NetworkSpec,
    UploadFile,
    VolumeSpec,
)
from xcompose.tarball import pack

# How long a single engine operation may take before the host counts as not answering.
# Stop and pull get their own, longer budgets.
DEFAULT_TIMEOUT_S = 120.0
PULL_TIMEOUT_S = 900.0
# A build may stay silent for long (a RUN that compiles): this bounds one wait for output.
BUILD_TIMEOUT_S = 3600.0
# sshd's default MaxSessions is 10: stay below it with room for one interactive session.
MAX_CHANNELS = 8

ProjectObjects: TypeAlias = tuple[list[LiveContainer], list[LiveNetwork], list[LiveVolume]]


class Executor(ABC):
    """One host's Docker engine. Safe to call from several threads at once."""

    target: HostTarget

    @abstractmethod
    def preflight(self) -> EngineInfo:
        """Connect and read the engine version; raises HostError(host, url, msg, hint)."""

    @abstractmethod
    def containers(self, project: str | None) -> list[LiveContainer]:
        """Every container of the project (all states), found by its project label; with
        None, those of every xcompose project on the host."""

    @abstractmethod
    def networks(self, project: str) -> list[LiveNetwork]: ...

    def project_objects(self, project: str) -> ProjectObjects:
        """The project's containers, networks and volumes, read together: an executor
        whose every question is a round trip to a far host asks them all at once."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            containers, networks = pool.submit(self.containers, project), pool.submit(self.networks, project)
            volumes = self.volumes(project)
            return containers.result(), networks.result(), volumes

    @abstractmethod
    def volumes(self, project: str) -> list[LiveVolume]: ...

    @abstractmethod
    def ensure_network(self, spec: NetworkSpec) -> None:
        """Create the network unless one of that name exists (external: must exist)."""

    @abstractmethod
    def ensure_volume(self, spec: VolumeSpec) -> None: ...

    @abstractmethod
    def remove_network(self, name: str) -> None:
        """Remove the network; a missing one is not an error."""

    @abstractmethod
    def remove_volume(self, name: str) -> None: ...

    @abstractmethod
    def image_id(self, image: str) -> str | None:
        """The local image id, or None when the image is not on the host."""

    @abstractmethod
    def image_ports(self, image: str) -> tuple[str, ...] | None:
        """The ports the image's config exposes (`5432/tcp`), or None when the image is
        not on the host."""

    @abstractmethod
    def remove_image(self, image: str) -> None:
        """Remove the image (by name or id); a missing one is not an error."""

    @abstractmethod
    def import_image(self, reference: str, tar_bytes: bytes) -> None:
        """Make an image named `reference` whose one layer is the tar (`docker image
        import`): no registry needed."""

    @abstractmethod
    def pull(self, image: str, platform: str | None = None) -> None:
        """Pull the image (for `platform`, `os[/arch[/variant]]`, when given)."""

    @abstractmethod
    def build(self, spec: BuildSpec, context: IO[bytes] | None, progress: Callable[[str], None]) -> str:
        """Build the image `spec` names on this host and return its id. `context` is the
        tar to build from, with `spec.dockerfile` a path inside it (engines/context.py makes
        both); None when `spec.context` is a URL the engine fetches. Each line of the
        builder's output goes to `progress`; a failed build raises DockerError with the
        builder's own message."""

    @abstractmethod
    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) the container the spec describes; returns its id."""

    @abstractmethod
    def start(self, container_id: str) -> None: ...

    @abstractmethod
    def stop(self, container_id: str, timeout: int | None = None) -> None:
        """Stop the container: its stop signal, then SIGKILL after `timeout` seconds (None:
        the container's own StopTimeout, from its `stop_grace_period`, else Docker's 10)."""

    @abstractmethod
    def remove(self, container_id: str, *, force: bool = True, volumes: bool = False) -> None:
        """Remove the container; a missing one is not an error."""

    @abstractmethod
    def rename(self, container_id: str, name: str) -> None: ...

    @abstractmethod
    def inspect(self, container_id: str) -> LiveContainer:
        """The container's current state; raises DockerError when it is gone."""

    @abstractmethod
    def exec(
        self, container_id: str, argv: Sequence[str], timeout: float = 30, *, options: ExecOptions | None = None
    ) -> tuple[int, str]:
        """Run argv in the container (as `options` say: user, environment, …): (exit code,
        combined output). A command still running after `timeout` seconds gives exit code
        124, as coreutils' timeout does."""

    @abstractmethod
    def attach_exec(
        self, container_id: str, argv: Sequence[str], streams: Streams, *, tty: bool = False,
        options: ExecOptions | None = None,
    ) -> int:
        """Run argv in the container attached to `streams` (stdin forwarded when given, the
        output as it comes; with `tty`, one stream through a terminal): its exit code. No
        time limit: the user's command may run for hours."""

    @abstractmethod
    def start_attached(self, container_id: str, streams: Streams, *, tty: bool = False) -> int:
        """Start a created container attached to `streams` (its input from stdin when
        given, created with stdin_open) until it exits: its exit code."""

    @abstractmethod
    def kill(self, container_id: str, signal: str = "SIGKILL") -> None: ...

    @abstractmethod
    def pause(self, container_id: str) -> None: ...

    @abstractmethod
    def unpause(self, container_id: str) -> None: ...

    @abstractmethod
    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]:
        """The container's processes, as `docker top` shows them: titles and rows."""

    @abstractmethod
    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        """Extract a tar into an existing directory of the container."""

    @abstractmethod
    def get_archive(self, container_id: str, path: str, sink: IO[bytes]) -> None:
        """Write a tar of the container's file or folder `path` (its entries under its own
        name) to `sink`, as it comes."""

    def upload(self, container_id: str, files: Sequence[UploadFile]) -> None:
        """Put files into a created (not yet started) container."""
        self.put_archive(container_id, "/", archive(files))

    def launch(self, container_id: str, files: Sequence[UploadFile], *, inspect: bool) -> LiveContainer | None:
        """Start a created container, its `files` put in first; with `inspect`, what it
        looks like right after (else None). Three requests here; an executor that can make
        them one trip to the host does (the ssh executor: one session, not three)."""
        if files:
            self.upload(container_id, files)
        self.start(container_id)
        return self.inspect(container_id) if inspect else None

    @abstractmethod
    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, window: LogWindow | None = None
    ) -> Iterator[str]:
        """Decoded lines (stdout and stderr), without trailing newline; `window`: which
        stretch of time, and whether each line starts with its timestamp."""

    @abstractmethod
    def events(self, project: str) -> Iterator[dict[str, Any]]:
        """The engine's events about the project's containers as they happen (Docker's
        event objects), until the stream is closed or the host is lost."""

    @abstractmethod
    def close(self) -> None: ...


# --- shared helpers ------------------------------------------------------------------------


def archive(files: Sequence[UploadFile]) -> bytes:
    """A tar to extract at `/` (`tarball.pack`), its files in the order of their paths."""
    return pack(sorted(files, key=lambda f: f.path))


TIMED_OUT = 124  # exit code of an exec that outlived its timeout


@dataclass(frozen=True)
class LogWindow:
    """`logs --since/--until/--timestamps`: Unix times (None: no bound)."""

    since: float | None = None
    until: float | None = None
    timestamps: bool = False

    def cli_args(self) -> list[str]:
        """The `docker container logs` flags."""
        args = ["--since", f"{self.since:.3f}"] if self.since is not None else []
        args += ["--until", f"{self.until:.3f}"] if self.until is not None else []
        return [*args, "--timestamps"] if self.timestamps else args


@dataclass(frozen=True)
class Streams:
    """Where an attached command's input comes from and its output goes (binary files)."""

    stdout: IO[bytes]
    stderr: IO[bytes]
    stdin: IO[bytes] | None = None


def pump(source: IO[bytes], send: Callable[[bytes], object], done: Callable[[], object]) -> threading.Thread:
    """Copy `source` to `send` on a thread of its own, then call `done` (end of input).
    Reads what is there (read1), so an interactive line goes through without waiting for
    a full buffer."""

    def run() -> None:
        with contextlib.suppress(OSError, EOFError, ValueError):
            read = getattr(source, "read1", source.read)
            for chunk in iter(lambda: read(65536), b""):
                send(chunk)
        with contextlib.suppress(OSError, EOFError, ValueError):
            done()

    thread = threading.Thread(target=run, name="stdin", daemon=True)
    thread.start()
    return thread


def project_filter(project: str | None) -> str:
    """The label filter of a project's objects (None: of any project)."""
    return LABEL_PROJECT if project is None else f"{LABEL_PROJECT}={project}"


def format_ports(ports: Mapping[str, Any] | None) -> tuple[str, ...]:
    """`NetworkSettings.Ports` in the human form `docker ps` prints."""
    out: list[str] = []
    for key, bindings in (ports or {}).items():
        if not bindings:
            out.append(key)  # exposed, not published
            continue
        for binding in bindings:
            ip = binding.get("HostIp") or "0.0.0.0"
            if ":" in ip:
                ip = f"[{ip}]"
            out.append(f"{ip}:{binding.get('HostPort', '')}->{key}")
    return tuple(sorted(dict.fromkeys(out)))


def live_container(data: Mapping[str, Any]) -> LiveContainer:
    """A LiveContainer from one `docker inspect` object (the API's and the CLI's agree)."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    health = state.get("Health")
    status = str(state.get("Status", ""))
    settings = data.get("NetworkSettings") or {}
    return LiveContainer(
        id=str(data["Id"]),
        name=str(data.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        image_id=str(data.get("Image", "")),
        labels=dict(config.get("Labels") or {}),
        state=status,
        health=str(health["Status"]) if health and health.get("Status") else None,
        ports=format_ports(settings.get("Ports")),
        exit_code=int(state.get("ExitCode", 0)) if status in ("exited", "dead") else None,
        stop_timeout=int(config["StopTimeout"]) if config.get("StopTimeout") is not None else None,
        networks=tuple(sorted(settings.get("Networks") or {})),
        updatable=updatable.read(data.get("HostConfig") or {}),
    )


_DAEMON_PREFIX = re.compile(r"^(Error response from daemon: |Error: )")


def daemon_message(text: str) -> str:
    """The engine's own words from CLI stderr, without the CLI's 'Error response from
    daemon:' wrapper, so that both executors raise DockerError with the same text."""
    lines = [_DAEMON_PREFIX.sub("", line).strip() for line in text.strip().splitlines()]
    return "\n".join(line for line in lines if line) or "docker failed without a message"


def is_missing(message: str) -> bool:
    """Whether an engine message means 'no such object' (removal of a missing object is
    not an error)."""
    lowered = message.lower()
    return "no such" in lowered or "not found" in lowered


def line_splitter(chunks: Iterator[bytes]) -> Iterator[str]:
    """Decoded lines out of byte chunks that do not respect line boundaries."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace").rstrip("\r")
    if pending:
        yield pending.decode("utf-8", "replace").rstrip("\r")
