"""What a project keeps on its hosts rather than on the machine that runs xcompose: files
in a container that is created and never started (a "state box").

Docker gives what a shared state needs without any extra service: a container name is
unique per engine and its creation atomic (a second create of the name fails), and files go
in and out over the engine connection xcompose already trusts (`put_archive`,
`get_archive`). At rest the files lie in the engine's storage, readable by root on that
host only. The box's image is imported from a tiny tar (no registry needed) and never runs.

A box carries no project label, so `ps`, `down` and orphan removal never see it.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping

from xcompose.engines.base import Executor, is_missing
from xcompose.errors import DockerError
from xcompose.plan.specs import ContainerSpec, UploadFile
from xcompose.tarball import pack

BOX_IMAGE = "xcompose/state:1"
LABEL_BOX = "io.xcompose.state-box"  # what the box holds: pki, lock
LABEL_BOX_PROJECT = "io.xcompose.state-project"
FOLDER = "/xcompose"


def box_name(project: str, kind: str) -> str:
    return f"xcompose-{kind}-{project}"


def files_archive(files: Mapping[str, bytes]) -> bytes:
    """A tar of these files in this order, as put_archive takes it and get_archive gives
    it. Made once, it can be put into the boxes of many hosts."""
    return pack([UploadFile(name, data, 0o600) for name, data in files.items()])


def _one_file(name: str, data: bytes) -> bytes:
    return files_archive({name: data})


def _image_tar() -> bytes:
    # An image needs one layer; the box's only file says what it is to whoever looks.
    return _one_file("xcompose/README", b"xcompose keeps project state in containers of this image; "
                                        b"they are never started.\n")


class StateBox:
    """One box on one host: `kind` (pki, lock) of `project`."""

    def __init__(self, executor: Executor, project: str, kind: str, labels: dict[str, str] | None = None) -> None:
        self.executor = executor
        self.name = box_name(project, kind)
        self.labels = {**(labels or {}), LABEL_BOX: kind, LABEL_BOX_PROJECT: project}

    def create(self, extra_labels: dict[str, str] | None = None) -> str | None:
        """Create the box; its id, or None when a box of that name exists already."""
        spec = ContainerSpec(name=self.name, image=BOX_IMAGE, command=("/xcompose/never-started",),
                             network_mode="none", labels=tuple(sorted({**self.labels, **(extra_labels or {})}.items())))
        try:
            try:
                return self.executor.create(spec)
            except DockerError as error:
                # The image is there but on a host's first run: importing it only when the
                # engine says so spares every other run a round trip per host.
                if "no such image" not in error.message.lower():
                    raise
            self.executor.import_image(BOX_IMAGE, _image_tar())
            return self.executor.create(spec)
        except DockerError as error:
            if "conflict" in error.message.lower() or "already in use" in error.message.lower():
                return None
            raise

    def labels_and_id(self) -> tuple[str, dict[str, str]] | None:
        """The box's id and labels, or None when there is no box."""
        try:
            found = self.executor.inspect(self.name)
        except DockerError as error:
            if is_missing(error.message):
                return None
            raise
        return found.id, found.labels

    def read(self, file: str, box: str | None = None) -> bytes | None:
        """A file of the box (`box`: its id, else its name); None when box or file is missing."""
        return self.look(file, box)[1]

    def look(self, file: str, box: str | None = None) -> tuple[bool, bytes | None]:
        """Whether the box exists, and the file (None when box or file is missing)."""
        sink = io.BytesIO()
        try:
            self.executor.get_archive(box or self.name, f"{FOLDER}/{file}", sink)
        except DockerError as error:
            # Only the engine's own words for a missing container say that the box is
            # missing: any other "missing" may be the file's, and its box must be read again.
            if "no such container" in error.message.lower():
                return False, None
            if is_missing(error.message) or "could not find" in error.message.lower():
                return True, None
            raise
        sink.seek(0)
        # An engine's archive is never compressed: "r:" spares trying gzip, bzip2 and xz on
        # it first (40 ms for a 10,000-service project's PKI copy, on each host).
        with tarfile.open(fileobj=sink, mode="r:") as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            content = tar.extractfile(member) if member is not None else None
            return True, content.read() if content is not None else None

    def write(self, file: str, data: bytes, box: str | None = None) -> None:
        """Replace a file of the box (one tar entry: a reader sees the old file or the new)."""
        self.put(_one_file(file, data), box)

    def put(self, archive: bytes, box: str | None = None) -> None:
        """Replace the files of a `files_archive`, in its order."""
        self.executor.put_archive(box or self.name, FOLDER, archive)

    def remove(self, box: str) -> None:
        """Remove the box by id: a box that another run made since under the same name stays."""
        self.executor.remove(box, force=True)
