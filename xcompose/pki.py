"""The project's own certificate authority, for mutual TLS between ambassador pairs.

One CA per project and one certificate per ambassador (its identity is its container
name), ECDSA P-256, made with `cryptography` on the machine that runs xcompose and kept in

    $XDG_STATE_HOME/xcompose/pki/PROJECT/      (default ~/.local/state/xcompose/pki/PROJECT/)

readable by the user only (folders 0700, files 0600). Reused across runs: `down` (also with
`--volumes`) never touches it; `rotate()` (`xcompose pki rotate`) re-issues everything, and
the next `up` re-creates the ambassadors because the certificates' fingerprints are part of
their config hash. Only fingerprints (of public certificates) ever leave this module in
labels or output; private keys reach a container only as a file in an archive upload.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)  # a leaf this close to expiry is re-issued
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_lock = threading.Lock()  # `up` issues certificates from several threads


def state_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "xcompose" / "pki"


@dataclass(frozen=True)
class Identity:
    """One ambassador's credentials, as PEM bytes."""

    name: str
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert_pem)

    @property
    def ca_fingerprint(self) -> str:
        return fingerprint(self.ca_pem)


def fingerprint(cert_pem: bytes) -> str:
    """`sha256:HEX` of the certificate's DER form (public: safe for labels and output)."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    """Write a 0600 file atomically (never world-readable, not even for a moment)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class ProjectPki:
    """The CA and the ambassador certificates of one project."""

    def __init__(self, project: str, root: Path | None = None) -> None:
        if not _NAME.match(project):
            raise ValueError(f"bad project name for the PKI folder: {project!r}")
        self.project = project
        self.dir = (root or state_root()) / project

    # --- the folder ------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        if not self.dir.parent.is_dir():  # the pki root: made here, so the user's only
            self.dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.dir.parent, 0o700)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.dir / "issued").mkdir(exist_ok=True, mode=0o700)
        for d in (self.dir, self.dir / "issued"):
            os.chmod(d, 0o700)

    @property
    def exists(self) -> bool:
        return (self.dir / "ca.pem").is_file() and (self.dir / "ca.key").is_file()

    # --- the CA ----------------------------------------------------------------------

    def _ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        self._ensure_dir()
        cert_path, key_path = self.dir / "ca.pem", self.dir / "ca.key"
        if cert_path.is_file() and key_path.is_file():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return cert, key
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xcompose"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"xcompose {self.project} ambassador CA"),
        ])
        now = _now()
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(key))
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return cert, key

    def ca_pem(self) -> bytes:
        with _lock:
            cert, _ = self._ca()
            return cert.public_bytes(serialization.Encoding.PEM)

    # --- ambassador certificates -----------------------------------------------------

    def identity(self, name: str) -> Identity:
        """The certificate of one ambassador (issued on first use, then reused). It serves
        both roles: a server ambassador presents it to clients, a client ambassador to the
        server; the name is in the subject and as a DNS subjectAltName."""
        if not _NAME.match(name):
            raise ValueError(f"bad ambassador name: {name!r}")
        with _lock:
            ca_cert, ca_key = self._ca()
            ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
            cert_path = self.dir / "issued" / f"{name}.pem"
            key_path = self.dir / "issued" / f"{name}.key"
            if cert_path.is_file() and key_path.is_file():
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                fresh = cert.not_valid_after_utc - _now() > RENEW_BEFORE
                if fresh and cert.issuer == ca_cert.subject and self._signed_by(cert, ca_cert):
                    return Identity(name, cert_path.read_bytes(), key_path.read_bytes(), ca_pem)
            key = ec.generate_private_key(ec.SECP256R1())
            now = _now()
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xcompose"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.project),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256())
            )
            key_pem = _key_pem(key)
            cert_pem = cert.public_bytes(serialization.Encoding.PEM)
            _write_private(key_path, key_pem)
            _write_private(cert_path, cert_pem)
            return Identity(name, cert_pem, key_pem, ca_pem)

    @staticmethod
    def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, Exception):  # noqa: BLE001 - any failure: re-issue
            return False
        return True

    def rotate(self) -> None:
        """A new CA; every ambassador certificate is re-issued on its next use."""
        with _lock:
            if self.dir.exists():
                shutil.rmtree(self.dir)
            self._ca()
