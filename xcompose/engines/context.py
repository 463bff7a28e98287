"""A build context as an engine takes it: a tar of the service's folder on this machine,
less what its `.dockerignore` excludes (Docker's pattern rules, `!` exceptions included).

The tar goes to a temporary file, written file by file, so that a large context is never
held in memory; both executors stream it from there. It is a GNU tar with whole-second
times and its first entry a short name: `docker build -` tells a tar from a Dockerfile by
reading its first header alone, which a pax header (Python's default) would hide.

A Dockerfile outside the folder, or written inline, is added under a name of its own, and
that name is appended to the `.dockerignore` sent along, so the engine reads it but leaves
it out of `COPY . .` (what the docker CLI does for a Dockerfile outside the context).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import IO

from xcompose.errors import StepFailed
from xcompose.plan.specs import BuildSpec

IGNORE_FILE = ".dockerignore"


@dataclass(frozen=True)
class Context:
    """What an executor builds from: the spec with `dockerfile` as a path inside the tar
    (or the repository of a URL context), and the tar (None for a URL context)."""

    spec: BuildSpec
    archive: IO[bytes] | None
    size: int = 0


def read_ignore_file(root: str) -> list[str]:
    """The patterns of `ROOT/.dockerignore`: comment lines and blank lines left out."""
    path = os.path.join(root, IGNORE_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as file:
        lines = [line.strip() for line in file.read().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def context_files(root: str, patterns: list[str], dockerfile: str | None) -> list[str]:
    """The paths under `root` (files and folders, relative, `/`-separated) that go into the
    context: all but those the patterns exclude. The Dockerfile and `.dockerignore` always
    go, as with the docker CLI: the engine reads both, then drops those the file names."""
    # Imported here: docker-py whole comes with it, which the ssh executor and every `up`
    # without a build would import for nothing (0.07 s).
    from docker.utils.build import exclude_paths

    keep = [*patterns, f"!{IGNORE_FILE}"]
    return sorted(exclude_paths(root, keep, dockerfile=dockerfile or "Dockerfile"))


def write_archive(root: str, files: list[str], added: list[tuple[str, str]], out: IO[bytes]) -> None:
    """The tar of `files` (paths under `root`) and of `added` (name, text) files."""
    # Short names first, in order: a folder still comes before what it holds.
    files = sorted(files, key=lambda name: (len(name.encode()) > 99, name))
    extra = {name for name, _ in added}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in files:
            if name in extra:
                continue
            info = tar.gettarinfo(os.path.join(root, name), arcname=name)
            if info is None:  # a socket: nothing a build can use
                continue
            info.mtime = int(info.mtime)
            if info.isfile():
                with open(os.path.join(root, name), "rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
        for name, text in added:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def _added_name(text: str) -> str:
    return f".dockerfile.{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _dockerfile(spec: BuildSpec, root: str, patterns: list[str]) -> tuple[str | None, list[tuple[str, str]]]:
    """The Dockerfile's path inside the tar, and the files to add for it."""
    text = spec.dockerfile_inline
    if text is None and spec.dockerfile is not None:
        path = os.path.normpath(os.path.join(root, spec.dockerfile))
        inside = os.path.relpath(path, root)
        if inside != os.pardir and not inside.startswith(os.pardir + os.sep):
            return PurePosixPath(*inside.split(os.sep)).as_posix(), []
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except OSError as error:
            raise StepFailed(f"Dockerfile {path}: {error.strerror or error}") from error
    if text is None:
        return None, []
    name = _added_name(text)
    return name, [(IGNORE_FILE, "\n".join([*patterns, name]) + "\n"), (name, text)]


@contextmanager
def build_context(spec: BuildSpec) -> Iterator[Context]:
    """The context of `spec`, ready to send; the temporary tar is removed afterwards."""
    if spec.remote:
        yield Context(spec, None)
        return
    root = spec.context
    if not os.path.isdir(root):
        raise StepFailed(f"build context {root} is not a folder on this machine")
    patterns = read_ignore_file(root)
    dockerfile, added = _dockerfile(spec, root, patterns)
    with tempfile.TemporaryFile(prefix="xcompose-context-") as archive:
        try:
            write_archive(root, context_files(root, patterns, dockerfile), added, archive)
        except OSError as error:
            raise StepFailed(f"build context {root}: {error}") from error
        size = archive.seek(0, os.SEEK_END)
        archive.seek(0)
        yield Context(replace(spec, dockerfile=dockerfile, dockerfile_inline=None), archive, size)
