"""`xcompose cp`: files between this machine and a container on its host, as `docker cp`
moves them. Both ways travel as a tar over the engine connection; here the local side: a
file or folder packed under the name it gets, and a tar from the container unpacked where
the user said, never outside it."""

from __future__ import annotations

import io
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from xcompose.errors import UsageError


def pack(source: Path, name: str) -> bytes:
    """A tar of the local file or folder `source`, its entries under `name`."""
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(source), arcname=name)
    return buffer.getvalue()


def into_container(destination: str, is_folder: bool, source: Path) -> tuple[str, str]:
    """Where a local file goes in the container: (the folder the tar is put into, the name
    it gets there). Into DESTINATION when it is a folder (or ends with /), else as it."""
    if is_folder or destination.endswith("/"):
        return destination.rstrip("/") or "/", source.name
    folder, name = posixpath.split(destination.rstrip("/"))
    return folder or "/", name


def unpack(tar_file: IO[bytes], destination: Path) -> None:
    """Extract a tar from the container (one root entry: the file or folder asked for)
    into `destination` when it is a folder, else as `destination`."""
    with tarfile.open(fileobj=tar_file, mode="r|*") as stream, tempfile.TemporaryDirectory() as staging:
        for member in stream:
            _check(member, Path(staging))
            if hasattr(tarfile, "tar_filter"):  # 3.11.4 and later: no device files, no set-id bits
                stream.extract(member, staging, set_attrs=True, filter="tar")
            else:
                stream.extract(member, staging, set_attrs=True)
        roots = list(Path(staging).iterdir())
        if len(roots) != 1:
            raise UsageError("the container sent no file")
        target = destination / roots[0].name if destination.is_dir() else destination
        if not target.parent.is_dir():
            raise UsageError(f"{target.parent}: no such folder here")
        if target.is_dir() and roots[0].is_dir():
            shutil.copytree(roots[0], target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.move(str(roots[0]), target)


def _check(member: tarfile.TarInfo, staging: Path) -> None:
    """Nothing from a container may land outside the destination: no absolute or `..`
    names, no hard link out, and no path through a symlink the archive made earlier.
    (Symlinks themselves are copied as they are, as `docker cp` copies them.)"""
    parts = Path(member.name).parts
    if member.name.startswith("/") or ".." in parts:
        raise UsageError(f"refused: the container's archive names {member.name!r}")
    if member.islnk() and (member.linkname.startswith("/") or ".." in Path(member.linkname).parts):
        raise UsageError(f"refused: the container's archive links to {member.linkname!r}")
    parent = (staging / member.name).parent.resolve()
    if parent != staging.resolve() and staging.resolve() not in parent.parents:
        raise UsageError(f"refused: {member.name!r} of the container's archive leads outside the destination")

