"""The project's PKI as one value that can be stored and moved: a `Bundle` (the CA, the
ambassador certificates issued so far, and which generation of the CA it is), written as
a tar. The same tar is what the hosts keep (run/hostpki.py) and what `pki export` gives.

Also the folder where xcompose kept the PKI before it moved to the hosts
($XDG_STATE_HOME/xcompose/pki/PROJECT/): read once, so that an existing project moves to
its hosts without a new CA (which would re-create every ambassador).
"""

from __future__ import annotations

import datetime
import hmac
import json
import os
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from xcompose.errors import UsageError
from xcompose.pki import NAME, CertificateAuthority, Credentials, Identity
from xcompose.plan.specs import UploadFile
from xcompose.tarball import pack, unpack

FORMAT = 1
SEAL = "issued_seal"  # meta.json's key for the CA's seal over the issued certificates


class BadBundle(UsageError):
    """A PKI tar that is not one, or not of this project."""


@dataclass(frozen=True)
class Bundle:
    project: str
    ca: CertificateAuthority
    issued: Mapping[str, Identity] = field(default_factory=dict)
    # Each new CA (rotate, import of another CA) is one generation later: hosts that hold
    # different CAs agree on the newest, whatever the clocks of the machines that wrote them.
    generation: int = 1
    written_by: str = ""
    written_at: str = ""  # UTC, ISO 8601

    def credentials(self) -> Credentials:
        return Credentials(self.project, self.ca, self.issued)

    def with_identities(self, identities: Iterable[Identity]) -> Bundle:
        """The bundle with these certificates of the same CA added (or replacing theirs)."""
        added = {i.name: i for i in identities if i.ca_pem == self.ca.cert_pem}
        return replace(self, issued={**self.issued, **added}) if added else self

    def stamped(self, operator: str) -> Bundle:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return replace(self, written_by=operator, written_at=now)

    def same_content(self, other: Bundle | None) -> bool:
        """Whether `other` holds this CA generation and at least these certificates."""
        if other is None or other.generation != self.generation or other.ca.cert_pem != self.ca.cert_pem:
            return False
        return all(other.issued.get(name) == identity for name, identity in self.issued.items())

    @property
    def sealed(self) -> bool:
        """Whether every certificate is known to be the CA's: read under a matching seal,
        or issued here. A copy that is not gets sealed when it is next written."""
        return all(identity.vouched for identity in self.issued.values())

    def meta(self) -> dict[str, object]:
        return {"format": FORMAT, "project": self.project, "generation": self.generation,
                "ca": self.ca.fingerprint, "written_by": self.written_by, "written_at": self.written_at}

    def checked(self) -> Bundle:
        """The bundle with the certificates the CA signed, each known to be: one that was
        not known yet is checked, and left out if it is not the CA's (it could only be
        issued again, and a seal must vouch for every certificate it covers)."""
        if self.sealed:
            return self
        return replace(self, issued={name: replace(identity, vouched=True) for name, identity in self.issued.items()
                                     if identity.vouched or self.ca.signed(identity.cert_pem)})

    def to_tar(self) -> bytes:
        """The tar, its certificates (`checked`) sealed by the CA (`CertificateAuthority.seal`)."""
        issued = dict(sorted(self.checked().issued.items()))
        meta = {**self.meta(), SEAL: self.ca.seal(issued.values())}
        files = {"meta.json": json.dumps(meta, indent=1).encode(), "ca.pem": self.ca.cert_pem,
                 "ca.key": self.ca.key_pem}
        for name, identity in issued.items():
            files[f"issued/{name}.pem"] = identity.cert_pem
            files[f"issued/{name}.key"] = identity.key_pem
        return pack([UploadFile(f"pki/{path}", data, 0o600) for path, data in files.items()])

    @classmethod
    def from_tar(cls, data: bytes, where: str) -> Bundle:
        """Read a bundle; `where` names its origin in the error."""
        try:
            files = {name.removeprefix("pki/"): content for name, content in unpack(data).items()
                     if name.startswith("pki/")}
            meta = json.loads(files["meta.json"])
            ca = CertificateAuthority(str(meta["project"]), files["ca.pem"], files["ca.key"])
            ca.check()
        except (tarfile.TarError, KeyError, ValueError, TypeError) as error:
            raise BadBundle(f"{where}: not an xcompose PKI bundle ({type(error).__name__}: {error})") from error
        issued: dict[str, Identity] = {}
        for path, cert in files.items():
            if path.startswith("issued/") and path.endswith(".pem"):
                key = files.get(path.removesuffix(".pem") + ".key")
                name = path.removeprefix("issued/").removesuffix(".pem")
                if key is not None and NAME.match(name):
                    issued[name] = Identity(name, cert, key, ca.cert_pem)
        # Sealed by its CA: every certificate is the CA's without checking each signature.
        # Unsealed (an older xcompose wrote it) or not matching: each is checked when used.
        seal = meta.get(SEAL)
        if isinstance(seal, str) and hmac.compare_digest(seal, ca.seal(issued.values())):
            issued = {name: replace(identity, vouched=True) for name, identity in issued.items()}
        return cls(ca.project, ca, issued, int(meta.get("generation", 1)), str(meta.get("written_by", "")),
                   str(meta.get("written_at", "")))


def newest(bundles: Iterable[Bundle]) -> Bundle | None:
    """The bundle that wins when hosts disagree: the latest generation (then the latest
    write); the certificates that any copy of that same CA holds are merged into it."""
    found = list(bundles)
    if not found:
        return None
    best = max(found, key=lambda b: (b.generation, b.written_at, b.ca.fingerprint))
    merged = dict(best.issued)
    for other in sorted(found, key=lambda b: b.written_at):
        if other.ca.cert_pem == best.ca.cert_pem:
            merged = {**{k: v for k, v in other.issued.items() if k not in best.issued}, **merged}
    return replace(best, issued=merged)


def legacy_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "xcompose" / "pki"


def read_legacy(project: str, root: Path | None = None) -> Bundle | None:
    """The PKI an older xcompose kept on this machine, if any (read, never written)."""
    folder = (root or legacy_root()) / project
    if not NAME.match(project) or not (folder / "ca.pem").is_file() or not (folder / "ca.key").is_file():
        return None
    ca = CertificateAuthority(project, (folder / "ca.pem").read_bytes(), (folder / "ca.key").read_bytes())
    issued: dict[str, Identity] = {}
    for cert_path in sorted((folder / "issued").glob("*.pem")) if (folder / "issued").is_dir() else ():
        key_path = cert_path.with_suffix(".key")
        if key_path.is_file():
            issued[cert_path.stem] = Identity(cert_path.stem, cert_path.read_bytes(), key_path.read_bytes(),
                                              ca.cert_pem)
    return Bundle(project, ca, issued, generation=1, written_by=f"this machine's {folder}")


def write_private(path: Path, data: bytes) -> None:
    """Write a 0600 file atomically (never world-readable, not even for a moment)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
