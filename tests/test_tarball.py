"""The tars xcompose writes: the bytes `tarfile` would write, and what only `tarfile` writes
(long names, large owners) read back as given; and the files read back from any tar."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable

import pytest

from xcompose import tarball
from xcompose.engines.base import archive
from xcompose.plan.specs import UploadFile
from xcompose.tarball import pack, unpack

NOW = 1_790_000_000


def tarfile_archive(files: list[UploadFile]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for file in sorted(files, key=lambda f: f.path):
            info = tarfile.TarInfo(file.path.lstrip("/"))
            info.size, info.mode, info.mtime, info.uid, info.gid = len(file.data), file.mode, NOW, file.uid, file.gid
            tar.addfile(info, io.BytesIO(file.data))
    return buf.getvalue()


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tarball.time, "time", lambda: float(NOW))


@pytest.mark.parametrize("files", [
    [],
    [UploadFile("/etc/xcompose/ca.pem", b"-----BEGIN CERTIFICATE-----\n", 0o644)],
    [UploadFile("/usr/local/etc/haproxy/haproxy.cfg", b"x" * 10_000, 0o644),
     UploadFile("/usr/local/etc/haproxy/xcompose/ambassador.pem", b"k" * 512, 0o600, 99, 1000),
     UploadFile("/run/secrets/empty", b"", 0o4440)],
], ids=["none", "one", "several"])
def test_an_archive_is_the_bytes_tarfile_writes(files: list[UploadFile]) -> None:
    assert archive(files) == tarfile_archive(files)


def test_a_file_name_met_again_gets_its_own_size_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # What is written once per name and owner must not carry one file's size or time to the next.
    for clock, size in ((NOW, 970), (NOW + 1, 966), (NOW + 1, 0), (NOW + 86_400, 70_000)):
        monkeypatch.setattr(tarball.time, "time", lambda clock=clock: float(clock))
        files = [UploadFile("/usr/local/etc/haproxy/xcompose/ambassador.pem", b"k" * size, 0o600)]
        with tarfile.open(fileobj=io.BytesIO(archive(files))) as tar:
            member = tar.getmembers()[0]
        assert (member.size, member.mtime) == (size, clock)


@pytest.mark.parametrize("file", [
    UploadFile("/" + "long/" * 30 + "name.pem", b"data", 0o600),
    UploadFile("/run/secrets/token", b"data", 0o400, 3_000_000, 3_000_000),
], ids=["long name", "large owner"])
def test_a_file_plain_headers_cannot_describe_reads_back_as_given(file: UploadFile) -> None:
    assert archive([file]) == tarfile_archive([file])
    with tarfile.open(fileobj=io.BytesIO(archive([file]))) as tar:
        member = tar.getmembers()[0]
        assert (member.name, member.mode, member.uid, member.gid) == (file.path[1:], file.mode, file.uid, file.gid)


SEVERAL = [UploadFile("pki/meta.json", b"{}", 0o600), UploadFile("pki/issued/a.pem", b"c" * 700, 0o600),
           UploadFile("pki/empty", b"", 0o600)]


def test_a_packed_tar_keeps_its_files_in_the_order_given() -> None:
    with tarfile.open(fileobj=io.BytesIO(pack(SEVERAL))) as tar:
        assert tar.getnames() == ["pki/meta.json", "pki/issued/a.pem", "pki/empty"]


def test_unpack_gives_back_every_file_packed() -> None:
    assert unpack(pack(SEVERAL)) == {f.path: f.data for f in SEVERAL}


def test_unpack_reads_what_tarfile_writes_beyond_plain_headers() -> None:
    """Folders, a long name, a pax header: read through tarfile, files only."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folder = tarfile.TarInfo("pki")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in (("pki/" + "n" * 120, b"long"), ("pki/é.pem", b"accent"), ("pki/a", b"a")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert unpack(buf.getvalue()) == {"pki/" + "n" * 120: b"long", "pki/é.pem": b"accent", "pki/a": b"a"}


@pytest.mark.parametrize("damage", [
    lambda data: data[:100],  # cut inside the first header
    lambda data: data[:148] + b"7" + data[149:],  # a checksum that does not add up
    lambda data: b"not a tar at all" * 64,
], ids=["cut", "checksum", "garbage"])
def test_unpack_refuses_what_is_not_a_tar(damage: Callable[[bytes], bytes]) -> None:
    with pytest.raises(tarfile.TarError):
        unpack(damage(pack(SEVERAL)))


def test_unpack_reads_the_tars_pack_writes_without_tarfile(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_tarfile(data: bytes) -> dict[str, bytes]:
        raise AssertionError("read through tarfile")

    monkeypatch.setattr(tarball, "_tarfile_files", no_tarfile)
    assert unpack(pack(SEVERAL)) == {f.path: f.data for f in SEVERAL}
