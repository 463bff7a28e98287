"""The tar that carries uploaded files into a container: the bytes `tarfile` would write,
and what only `tarfile` writes (long names, large owners) read back as given."""

from __future__ import annotations

import io
import tarfile

import pytest

from xcompose.engines import base
from xcompose.engines.base import archive
from xcompose.plan.specs import UploadFile

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
    monkeypatch.setattr(base.time, "time", lambda: float(NOW))


@pytest.mark.parametrize("files", [
    [],
    [UploadFile("/etc/xcompose/ca.pem", b"-----BEGIN CERTIFICATE-----\n", 0o644)],
    [UploadFile("/usr/local/etc/haproxy/haproxy.cfg", b"x" * 10_000, 0o644),
     UploadFile("/usr/local/etc/haproxy/xcompose/ambassador.pem", b"k" * 512, 0o600, 99, 1000),
     UploadFile("/run/secrets/empty", b"", 0o4440)],
], ids=["none", "one", "several"])
def test_an_archive_is_the_bytes_tarfile_writes(files: list[UploadFile]) -> None:
    assert archive(files) == tarfile_archive(files)


@pytest.mark.parametrize("file", [
    UploadFile("/" + "long/" * 30 + "name.pem", b"data", 0o600),
    UploadFile("/run/secrets/token", b"data", 0o400, 3_000_000, 3_000_000),
], ids=["long name", "large owner"])
def test_a_file_plain_headers_cannot_describe_reads_back_as_given(file: UploadFile) -> None:
    assert archive([file]) == tarfile_archive([file])
    with tarfile.open(fileobj=io.BytesIO(archive([file]))) as tar:
        member = tar.getmembers()[0]
        assert (member.name, member.mode, member.uid, member.gid) == (file.path[1:], file.mode, file.uid, file.gid)
