"""The tars xcompose writes and reads back: uploaded files, the state boxes' files, the
project's PKI bundle.

They hold regular files only, with short ASCII names, so nearly every header is a plain
ustar one: written and read here directly, with the bytes `tarfile` would write, because
`tarfile` costs ~55 us an archive and ~20 us a member read (a fresh `up` of 10,000 services
uploads 26,000 archives; its PKI bundle holds 13,400 members). Anything else goes through
`tarfile`, which also judges a tar this module does not recognise.
"""

from __future__ import annotations

import functools
import io
import tarfile
import time
from collections.abc import Sequence

from xcompose.plan.specs import UploadFile

_BLOCK = tarfile.BLOCKSIZE
_END = bytes(_BLOCK)


def pack(files: Sequence[UploadFile]) -> bytes:
    """A tar of the files in this order, each with its mode and numeric owner, its name the
    path without a leading `/` (a tar to extract at `/`). Folders are no entries: Docker
    makes a missing parent (root, 0755, as it makes a mount point) and leaves the image's
    own folders, their owner and mode, as they are; it keeps the tar's uid and gid, through
    the API and through `docker container cp`."""
    now = int(time.time())
    headers = [_ustar_header(f.path.lstrip("/"), len(f.data), f.mode, f.uid, f.gid, now) for f in files]
    if not all(header is not None for header in headers):
        return _tarfile_pack(files, now)
    parts: list[bytes] = []
    for header, file in zip(headers, files, strict=True):
        assert header is not None
        parts += [header, file.data, bytes(-len(file.data) % _BLOCK)]
    size = sum(map(len, parts)) + 2 * _BLOCK  # two empty blocks end it
    return b"".join(parts) + bytes(2 * _BLOCK + -size % tarfile.RECORDSIZE)


def unpack(data: bytes) -> dict[str, bytes]:
    """The regular files of a tar by name (a later file of the same name wins, as when
    extracting). tarfile.TarError for what is not a tar."""
    files = _plain_files(data)
    return files if files is not None else _tarfile_files(data)


def _ustar_header(name: str, size: int, mode: int, uid: int, gid: int, mtime: int) -> bytes | None:
    """A regular file's ustar header as `tarfile` makes it; None when the file needs more
    (a long or non-ASCII name, an owner or size beyond its octal fields)."""
    if max(size, mtime) >= 8 ** 11:
        return None
    fixed = _fixed_parts(name, mode, uid, gid)
    if fixed is None:
        return None
    head, tail, fixed_sum = fixed
    sized = b"%011o\0%011o\0" % (size, mtime)
    # The checksum counts its own field as eight spaces.
    return b"".join((head, sized, b"%06o\0 " % (fixed_sum + sum(sized) + 8 * 32), tail))


@functools.lru_cache(maxsize=1024)
def _fixed_parts(name: str, mode: int, uid: int, gid: int) -> tuple[bytes, bytes, int] | None:
    """The header's bytes before its size field and after its checksum, and their sum: the
    same for every archive that holds a file of this name and owner (an ambassador's
    config, certificate and CA in each of 26,000 uploads), so only the size, the time and
    the checksum are written per file (3.5 -> 1.1 us a header; the sum of 512 bytes was most)."""
    if len(name) > 100 or not name.isascii() or max(uid, gid) >= 8 ** 7:
        return None
    head = b"".join((name.encode().ljust(100, b"\0"), b"%07o\0" % (mode & 0o7777), b"%07o\0" % uid,
                     b"%07o\0" % gid))
    tail = b"".join((
        tarfile.REGTYPE, bytes(100), tarfile.POSIX_MAGIC, bytes(64 + 16),  # no owner names, no device numbers
    )).ljust(_BLOCK - 156, b"\0")
    return head, tail, sum(head) + sum(tail)


def _plain_files(data: bytes) -> dict[str, bytes] | None:
    """The files of a tar of plain ustar headers for regular files, as `pack` writes it;
    None at the first header that is anything else (then `tarfile` reads it all)."""
    files: dict[str, bytes] = {}
    offset = 0
    while offset + _BLOCK <= len(data):
        header = data[offset:offset + _BLOCK]
        if header == _END:
            return files
        if (header[257:265] != tarfile.POSIX_MAGIC or header[156:157] not in (tarfile.REGTYPE, tarfile.AREGTYPE)
                or header[345:500].strip(b"\0")):  # a name split into a prefix: left to tarfile
            return None
        try:
            size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
            checksum = int(header[148:156].rstrip(b"\0 "), 8)
            name = header[:100].split(b"\0", 1)[0].decode("ascii")
        except ValueError:  # UnicodeDecodeError is one
            return None
        start = offset + _BLOCK
        if checksum != sum(header[:148]) + 8 * 32 + sum(header[156:]) or start + size > len(data):
            return None
        files[name] = data[start:start + size]
        offset = start + size + -size % _BLOCK
    return None  # no end: tarfile decides what that is


def _tarfile_pack(files: Sequence[UploadFile], now: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for file in files:
            info = tarfile.TarInfo(file.path.lstrip("/"))
            info.size, info.mode, info.mtime = len(file.data), file.mode, now
            info.uid, info.gid = file.uid, file.gid
            tar.addfile(info, io.BytesIO(file.data))
    return buf.getvalue()


def _tarfile_files(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar.getmembers():
            content = tar.extractfile(member) if member.isfile() else None
            if content is not None:
                files[member.name] = content.read()
    return files
