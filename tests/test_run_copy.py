"""The local side of `xcompose cp`: what a file or folder is packed as, where a tar from a
container lands, and that nothing in it lands outside."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from xcompose.errors import UsageError
from xcompose.run.copy import into_container, pack, unpack


def tar_of(*members: tuple[str, bytes | None, str | None]) -> io.BytesIO:
    """(name, content or None for a folder, symlink target) entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def test_a_file_from_the_container_lands_in_a_folder_or_as_the_name_given(tmp_path: Path) -> None:
    unpack(tar_of(("app.conf", b"x=1\n", None)), tmp_path)
    assert (tmp_path / "app.conf").read_bytes() == b"x=1\n"
    unpack(tar_of(("app.conf", b"x=2\n", None)), tmp_path / "renamed.conf")
    assert (tmp_path / "renamed.conf").read_bytes() == b"x=2\n"


def test_a_folder_from_the_container_lands_whole_with_its_symlinks(tmp_path: Path) -> None:
    unpack(tar_of(("etc", None, None), ("etc/a", b"a", None), ("etc/abs", None, "/etc/passwd")), tmp_path / "copy")
    assert (tmp_path / "copy" / "a").read_bytes() == b"a"
    assert (tmp_path / "copy" / "abs").readlink() == Path("/etc/passwd")


@pytest.mark.parametrize("members", [
    [("../evil", b"x", None)],
    [("/etc/evil", b"x", None)],
    [("d", None, None), ("d/link", None, "/tmp"), ("d/link/evil", b"x", None)],
])
def test_nothing_from_a_container_lands_outside_the_destination(
    tmp_path: Path, members: list[tuple[str, bytes | None, str | None]]
) -> None:
    with pytest.raises(UsageError, match="refused"):
        unpack(tar_of(*members), tmp_path / "dest")


def test_a_local_file_is_packed_under_the_name_it_gets_in_the_container(tmp_path: Path) -> None:
    (tmp_path / "local.txt").write_text("hi")
    with tarfile.open(fileobj=io.BytesIO(pack(tmp_path / "local.txt", "remote.txt"))) as tar:
        assert tar.getnames() == ["remote.txt"]


@pytest.mark.parametrize(("destination", "is_folder", "wanted"), [
    ("/srv", True, ("/srv", "data.txt")), ("/srv/", False, ("/srv", "data.txt")),
    ("/srv/new.txt", False, ("/srv", "new.txt")), ("top.txt", False, ("/", "top.txt")),
])
def test_where_a_local_file_goes_in_the_container(destination: str, is_folder: bool, wanted: tuple[str, str]) -> None:
    assert into_container(destination, is_folder, Path("data.txt")) == wanted
