"""Where a project's CA and ambassador certificates are kept on the machine that runs
xcompose:

    $XDG_STATE_HOME/xcompose/pki/PROJECT/      (default ~/.local/state/xcompose/pki/PROJECT/)

readable by the user only (folders 0700, files 0600). `read()` never writes: `plan`,
`config` and `check` use it. `up` calls `ensure_ca()` and, once the plan is made, `save()`
for the certificates the planner issued. `down` (also with `--volumes`) never touches the
folder; `rotate()` (`xcompose pki rotate`) starts a new CA, so the next `up` re-creates
the ambassadors (their certificates' fingerprints are part of their config hash).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from xcompose.pki import NAME, CertificateAuthority, Credentials, Identity


def state_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "xcompose" / "pki"


def _write_private(path: Path, data: bytes) -> None:
    """Write a 0600 file atomically (never world-readable, not even for a moment)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class KeyStore:
    """The PKI folder of one project."""

    def __init__(self, project: str, root: Path | None = None) -> None:
        if not NAME.match(project):
            raise ValueError(f"bad project name for the PKI folder: {project!r}")
        self.project = project
        self.dir = (root or state_root()) / project

    @property
    def exists(self) -> bool:
        return (self.dir / "ca.pem").is_file() and (self.dir / "ca.key").is_file()

    def read(self) -> Credentials:
        """What is on disk, as it is; nothing is created or changed."""
        if not self.exists:
            return Credentials(self.project)
        ca = CertificateAuthority(self.project, (self.dir / "ca.pem").read_bytes(), (self.dir / "ca.key").read_bytes())
        issued: dict[str, Identity] = {}
        folder = self.dir / "issued"
        for cert_path in folder.glob("*.pem") if folder.is_dir() else ():
            key_path = cert_path.with_suffix(".key")
            if key_path.is_file():
                name = cert_path.stem
                issued[name] = Identity(name, cert_path.read_bytes(), key_path.read_bytes(), ca.cert_pem)
        return Credentials(self.project, ca, issued)

    def ensure_ca(self) -> Credentials:
        """The credentials, with a new CA written first when the project has none."""
        if not self.exists:
            self._write_ca(CertificateAuthority.new(self.project))
        return self.read()

    def save(self, identities: Iterable[Identity]) -> None:
        """Keep certificates issued while planning, so the next run reuses them."""
        for identity in identities:
            self._ensure_dir()
            _write_private(self.dir / "issued" / f"{identity.name}.key", identity.key_pem)
            _write_private(self.dir / "issued" / f"{identity.name}.pem", identity.cert_pem)

    def rotate(self) -> None:
        """A new CA; every ambassador certificate is re-issued on its next use."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self._write_ca(CertificateAuthority.new(self.project))

    def _write_ca(self, ca: CertificateAuthority) -> None:
        self._ensure_dir()
        _write_private(self.dir / "ca.key", ca.key_pem)
        _write_private(self.dir / "ca.pem", ca.cert_pem)

    def _ensure_dir(self) -> None:
        if not self.dir.parent.is_dir():  # the pki root: made here, so the user's only
            self.dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.dir.parent, 0o700)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.dir / "issued").mkdir(exist_ok=True, mode=0o700)
        for d in (self.dir, self.dir / "issued"):
            os.chmod(d, 0o700)
