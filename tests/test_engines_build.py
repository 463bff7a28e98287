"""Building on a host: the context tar (`.dockerignore`, a Dockerfile outside the folder
or inline), `docker build`'s command line, and how both executors stream the build and
report the builder's own message."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xcompose.engines.context import build_context
from xcompose.engines.dockerapi import ApiExecutor
from xcompose.engines.dockercli import SUDO_DOCKER, build_argv, build_failure
from xcompose.engines.ssh import SshExecutor
from xcompose.errors import DockerError, StepFailed
from xcompose.plan.specs import BuildSpec, HostTarget


def names_in(archive: io.BufferedIOBase | Any) -> dict[str, bytes]:
    with tarfile.open(fileobj=archive, mode="r") as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else b"") for m in tar}  # type: ignore[union-attr]


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    for path, text in {
        "Dockerfile": "FROM debian:bookworm\n",
        "app/main.py": "print(1)\n",
        "app/main.pyc": "x",
        "secret.env": "TOKEN=1\n",
        "node_modules/left-pad/index.js": "x",
        "docs/keep.md": "kept by an exception",
        "docs/drop.md": "dropped",
        ".dockerignore": "# comment\n\n**/*.pyc\nsecret.env\n/node_modules\ndocs\n!docs/keep.md\nDockerfile\n.dockerignore\n",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_the_context_leaves_out_what_dockerignore_excludes_and_keeps_the_dockerfile(context: Path) -> None:
    with build_context(BuildSpec("shop-web", str(context))) as built:
        assert built.archive is not None and built.spec.dockerfile is None
        files = names_in(built.archive)
        assert built.size > 0
    assert {n for n, data in files.items() if data} == {"Dockerfile", "app/main.py", "docs/keep.md", ".dockerignore"}
    assert not any(n.startswith("node_modules") or n.endswith(".pyc") for n in files)


def test_the_first_header_alone_says_tar_as_docker_build_minus_reads_it(tmp_path: Path) -> None:
    root = tmp_path / "web"
    deep = root / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "long.txt").write_text("x")
    (root / "Dockerfile").write_text("FROM debian:bookworm\n")
    os.utime(root / "Dockerfile", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    with build_context(BuildSpec("shop-web", str(root))) as built:
        assert built.archive is not None
        first = tarfile.TarInfo.frombuf(built.archive.read(512), "utf-8", "surrogateescape")
        built.archive.seek(0)
        with tarfile.open(fileobj=built.archive, mode="r") as tar:
            members = {m.name: m for m in tar}
    assert first.type in (tarfile.REGTYPE, tarfile.DIRTYPE) and first.name == "Dockerfile"
    assert members["Dockerfile"].mtime == 1_700_000_000
    assert f"{'d' * 60}/{'e' * 60}/long.txt" in members


def test_a_dockerfile_in_a_subfolder_is_named_by_its_path_inside(context: Path) -> None:
    (context / "docker").mkdir()
    (context / "docker" / "prod.Dockerfile").write_text("FROM debian:bookworm\n")
    with build_context(BuildSpec("shop-web", str(context), dockerfile="docker/prod.Dockerfile")) as built:
        assert built.spec.dockerfile == "docker/prod.Dockerfile"
        assert "docker/prod.Dockerfile" in names_in(built.archive)


def test_a_dockerfile_outside_the_context_is_added_and_ignored_by_the_engine_after_reading(
    context: Path, tmp_path: Path
) -> None:
    (tmp_path / "web.Dockerfile").write_text("FROM debian:bookworm\nCOPY app /app\n")
    with build_context(BuildSpec("shop-web", str(context), dockerfile="../web.Dockerfile")) as built:
        name = built.spec.dockerfile
        files = names_in(built.archive)
    assert name is not None and name.startswith(".dockerfile.")
    assert files[name] == b"FROM debian:bookworm\nCOPY app /app\n"
    assert files[".dockerignore"].decode().splitlines()[-1] == name
    assert "secret.env" in files[".dockerignore"].decode()


def test_an_inline_dockerfile_is_written_into_the_context(context: Path) -> None:
    spec = BuildSpec("shop-web", str(context), dockerfile_inline="FROM debian:bookworm\nRUN true\n")
    with build_context(spec) as built:
        assert built.spec.dockerfile_inline is None
        assert names_in(built.archive)[built.spec.dockerfile or ""] == b"FROM debian:bookworm\nRUN true\n"


def test_a_missing_context_or_dockerfile_is_named(tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match=f"build context {tmp_path}/nowhere is not a folder"), \
            build_context(BuildSpec("x", str(tmp_path / "nowhere"))):
        pass
    (tmp_path / "web").mkdir()
    with pytest.raises(StepFailed, match=f"Dockerfile {tmp_path}/other/Dockerfile: No such file"), \
            build_context(BuildSpec("x", str(tmp_path / "web"), dockerfile="../other/Dockerfile")):
        pass


def test_a_url_context_is_left_to_the_engine() -> None:
    spec = BuildSpec("shop-web", "https://github.com/shop/web.git#main", remote=True, dockerfile="Dockerfile.prod")
    with build_context(spec) as built:
        assert (built.archive, built.spec) == (None, spec)


RICH = BuildSpec(
    image="shop/web:1", context="/srv/web", dockerfile="docker/Dockerfile", args=(("VERSION", "1 2"),),
    target="run", labels=(("team", "shop"),), network="host", shm_size=1024, extra_hosts=("db:10.0.0.5",),
    no_cache=True, pull=True, cache_from=("shop/web:cache",), platform="linux/amd64", tags=("shop/web:latest",),
    isolation="default",
)


def test_build_argv_mirrors_every_option() -> None:
    assert build_argv(RICH, "-") == [
        "build", "--tag", "shop/web:1", "--tag", "shop/web:latest", "--file", "docker/Dockerfile",
        "--build-arg", "VERSION=1 2", "--target", "run", "--label", "team=shop", "--network", "host",
        "--shm-size", "1024", "--add-host", "db:10.0.0.5", "--no-cache", "--pull", "--cache-from", "shop/web:cache",
        "--platform", "linux/amd64", "--isolation", "default", "-",
    ]
    assert build_argv(BuildSpec("shop-web", "/srv/web"), "-") == ["build", "--tag", "shop-web", "-"]


def test_the_failure_message_is_the_builders_without_the_cli_notice() -> None:
    stderr = [
        "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.",
        "            Install the buildx component to build images with BuildKit:",
        "            https://docs.docker.com/go/buildx/",
        "",
        "The command '/bin/sh -c false' returned a non-zero code: 1",
    ]
    assert build_failure(stderr) == "The command '/bin/sh -c false' returned a non-zero code: 1"
    assert build_failure(["Error response from daemon: dockerfile parse error line 1"]) == \
        "dockerfile parse error line 1"


# --- the ssh executor: the tar streamed into the channel while the output is read -------------


class FakeChannel:
    """One SSH channel running `docker build`: takes stdin, answers with scripted output."""

    def __init__(self, out: bytes, err: bytes, code: int) -> None:
        self.out, self.err, self.code = io.BytesIO(out), io.BytesIO(err), code
        self.command = ""
        self.sent: list[bytes] = []
        self.input_done = threading.Event()

    def settimeout(self, timeout: float | None) -> None:
        pass

    def exec_command(self, command: str) -> None:
        self.command = command

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)

    def shutdown_write(self) -> None:
        self.input_done.set()

    def recv(self, size: int) -> bytes:
        self.input_done.wait(5)  # like docker: the output ends after the input did
        return self.out.read(size)

    def recv_stderr(self, size: int) -> bytes:
        return self.err.read(size)

    def recv_exit_status(self) -> int:
        return self.code

    def close(self) -> None:
        pass


class BuildHost(SshExecutor):
    def __init__(self, channel: FakeChannel, sudo: bool = False) -> None:
        super().__init__(HostTarget("h1", "10.0.0.1", "ssh://root@10.0.0.1", executor="ssh", sudo=sudo))
        self.fake = channel
        self.ids = {"shop/web:1": "sha256:abc"}

    def _channel(self, timeout: float | None) -> Any:
        return self.fake

    def image_id(self, image: str) -> str | None:
        return self.ids.get(image)


def test_ssh_build_streams_the_context_on_stdin_and_passes_each_line_on() -> None:
    channel = FakeChannel(b"Step 1/2 : FROM debian:bookworm\n ---> 1234\nSuccessfully built 5678\n",
                          b"DEPRECATED: The legacy builder\n", 0)
    host = BuildHost(channel)
    context = io.BytesIO(b"x" * 200_000)
    lines: list[str] = []
    assert host.build(RICH, context, lines.append) == "sha256:abc"
    assert channel.command.startswith("docker build --tag shop/web:1 ") and channel.command.endswith(" -")
    assert b"".join(channel.sent) == b"x" * 200_000 and len(channel.sent) > 1  # in chunks, as read
    assert "Step 1/2 : FROM debian:bookworm" in lines and "DEPRECATED: The legacy builder" in lines


def test_ssh_build_with_sudo_and_a_url_context_sends_nothing() -> None:
    channel = FakeChannel(b"", b"", 0)
    host = BuildHost(channel, sudo=True)
    host.ids["shop-web"] = "sha256:def"
    assert host.build(BuildSpec("shop-web", "https://github.com/shop/web.git", remote=True), None, print) == \
        "sha256:def"
    assert channel.command == f"{SUDO_DOCKER} build --tag shop-web https://github.com/shop/web.git"
    assert channel.sent == []


def test_ssh_build_failure_raises_the_builders_message() -> None:
    channel = FakeChannel(b"Step 2/2 : RUN false\n", b"The command '/bin/sh -c false' returned a non-zero code: 1\n", 1)
    with pytest.raises(DockerError, match=r"^The command '/bin/sh -c false' returned a non-zero code: 1$"):
        BuildHost(channel).build(RICH, io.BytesIO(b"tar"), lambda line: None)


# --- the api executor: docker-py's build stream ------------------------------------------------


class FakeAPI:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.kwargs: dict[str, Any] = {}
        self.tags: list[tuple[str, str, str]] = []

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.kwargs = kwargs
        return iter(self.events)

    def tag(self, image: str, repository: str, tag: str) -> None:
        self.tags.append((image, repository, tag))

    def inspect_image(self, image: str) -> dict[str, Any]:
        return {"Id": "sha256:abc"}


def api_executor(events: list[dict[str, Any]]) -> tuple[ApiExecutor, FakeAPI]:
    executor = ApiExecutor(HostTarget("h1", "10.0.0.1", "unix:///a.sock"))
    fake = FakeAPI(events)
    executor._api = fake  # type: ignore[assignment]
    return executor, fake


def test_api_build_sends_the_tar_as_a_custom_context_with_every_option() -> None:
    executor, fake = api_executor([{"stream": "Step 1/1 : FROM debian\n"}, {"aux": {"ID": "sha256:abc"}},
                                   {"stream": "Successfully built abc\n"}])
    context = io.BytesIO(b"tar")
    lines: list[str] = []
    assert executor.build(RICH, context, lines.append) == "sha256:abc"
    assert lines == ["Step 1/1 : FROM debian", "Successfully built abc"]
    kwargs = fake.kwargs
    assert (kwargs["fileobj"], kwargs["custom_context"], kwargs["tag"]) == (context, True, "shop/web:1")
    assert kwargs["buildargs"] == {"VERSION": "1 2"} and kwargs["extra_hosts"] == ["db:10.0.0.5"]
    assert (kwargs["nocache"], kwargs["pull"], kwargs["shmsize"], kwargs["network_mode"]) == (True, True, 1024, "host")
    assert fake.tags == [("shop/web:1", "shop/web", "latest")]


def test_api_build_of_a_url_passes_the_url_as_the_path() -> None:
    executor, fake = api_executor([])
    executor.build(BuildSpec("shop/web:1", "git@github.com:shop/web.git", remote=True), None, print)
    assert fake.kwargs["path"] == "git@github.com:shop/web.git" and "fileobj" not in fake.kwargs


def test_api_build_error_inside_the_stream_is_the_builders_message() -> None:
    executor, _ = api_executor([{"stream": "Step 2/2 : RUN false\n"},
                                {"errorDetail": {"code": 1, "message": "returned a non-zero code: 1"},
                                 "error": "The command '/bin/sh -c false' returned a non-zero code: 1"}])
    with pytest.raises(DockerError, match=r"^The command '/bin/sh -c false' returned a non-zero code: 1$"):
        executor.build(RICH, io.BytesIO(b"tar"), lambda line: None)
