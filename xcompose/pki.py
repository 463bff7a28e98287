"""The project's own certificate authority, for mutual TLS between ambassador pairs: pure
values, no files (keystore.py keeps them).

One CA per project, ECDSA P-256. Each server ambassador has a certificate of its own, whose
identity is its container name: the client ambassador checks that name, so a connection
turned to another server ambassador is refused. A server ambassador checks only that its
client holds a certificate of the project's CA, so the client ambassadors of one host share
one (`clients_of`): one per ambassador would authenticate nothing more, and a project of
10,000 services would issue, keep and ship 20,000 more. `Credentials` is what the planner
sees: the CA (when there is one) and the certificates already issued. It issues a missing
certificate in memory; only `up` saves what was issued, so a preview never writes key
material. Only fingerprints (of public certificates) ever leave this module in labels or
output; a private key reaches a container only as a file uploaded into it.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)  # a leaf this close to expiry is re-issued
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def fingerprint(cert_pem: bytes) -> str:
    """`sha256:HEX` of the certificate's DER form (public: safe for labels and output)."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def clients_of(project: str, host: str) -> str:
    """The identity the client ambassadors on `host` share. Every ambassador's own identity
    is `PROJECT-…` and a project name has no dot: the two never meet."""
    return f"{project}.clients.{host}"


@functools.lru_cache(maxsize=8)
def _ca_fingerprint(ca_pem: bytes) -> str:
    """Every ambassador of a project names the same CA: its fingerprint is worked out once."""
    return fingerprint(ca_pem)


def _lasts(cert: x509.Certificate) -> bool:
    """Whether a certificate is further from its expiry than RENEW_BEFORE."""
    return cert.not_valid_after_utc - _now() > RENEW_BEFORE


@dataclass(frozen=True)
class Identity:
    """One ambassador's credentials, as PEM bytes. `vouched`: known to be signed by the CA
    of `ca_pem` (issued here, or read from a bundle that CA sealed), so that its signature
    need not be checked again."""

    name: str
    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    ca_pem: bytes
    vouched: bool = field(default=False, compare=False, repr=False)

    @cached_property
    def fingerprint(self) -> str:
        return "sha256:" + self._cert.fingerprint(hashes.SHA256()).hex()

    def lasts(self) -> bool:
        """Whether the certificate reads as one, further from its expiry than RENEW_BEFORE."""
        try:
            return _lasts(self._cert)
        except ValueError:
            return False

    @cached_property
    def _cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def ca_fingerprint(self) -> str:
        return _ca_fingerprint(self.ca_pem)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class CertificateAuthority:
    project: str
    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @classmethod
    def new(cls, project: str) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xcompose"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"xcompose {project} ambassador CA"),
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
        return cls(project, cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert_pem)

    @cached_property
    def _cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @cached_property
    def _key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the project CA key is not an EC key")
        return key

    def check(self) -> None:
        """Raise ValueError unless the key is the certificate's (a CA read from elsewhere)."""
        if self._key.public_key() != self._cert.public_key():
            raise ValueError("the CA key does not belong to the CA certificate")

    def signed(self, cert_pem: bytes) -> bool:
        """Whether a certificate was issued by this CA (its signature checked: ~65 us)."""
        try:
            x509.load_pem_x509_certificate(cert_pem).verify_directly_issued_by(self._cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def vouches_for(self, cert_pem: bytes) -> bool:
        """Whether a certificate was issued by this CA and is not close to expiry."""
        return self.signed(cert_pem) and _lasts(x509.load_pem_x509_certificate(cert_pem))

    def seal(self, identities: Iterable[Identity]) -> str:
        """A MAC over these certificates and their keys, keyed by the CA's private key.
        Only a holder of that key makes it, as only such a holder signs certificates: a
        bundle whose seal matches holds certificates this CA issued, and 26,000 signatures
        need not be checked one by one (a few microseconds each instead of 65)."""
        mac = hmac.new(self._seal_key, digestmod=hashlib.sha256)
        for identity in sorted(identities, key=lambda i: i.name):
            mac.update(identity.name.encode() + b"\0" + hashlib.sha256(identity.cert_pem).digest()
                       + hashlib.sha256(identity.key_pem).digest())
        return mac.hexdigest()

    @cached_property
    def _seal_key(self) -> bytes:
        # From the private scalar, not the PEM text: the same key always gives the same seal.
        scalar = self._key.private_numbers().private_value.to_bytes(32, "big")
        return hashlib.sha256(b"xcompose sealed certificates\0" + scalar).digest()

    def issue(self, name: str) -> Identity:
        """A certificate for one ambassador. It serves both roles: a server ambassador
        presents it to clients, a client ambassador to the server; the name is in the
        subject and as a DNS subjectAltName."""
        if not NAME.match(name):
            raise ValueError(f"bad ambassador name: {name!r}")
        key = ec.generate_private_key(ec.SECP256R1())
        common = self._leaf_common()
        cert = (
            common.builder
            .subject_name(x509.Name([*common.subject, x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(common.usage, critical=False)
            .add_extension(common.authority, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        identity = Identity(name, cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), self.cert_pem,
                            vouched=True)
        identity.__dict__["_cert"] = cert  # as cached_property keeps it: its fingerprint needs no parse of the PEM
        return identity

    def _leaf_common(self) -> _LeafCommon:
        """What this CA's certificates issued within the same minute have in common: built
        once, not for each (a fresh `up` of 10,000 services issues 6,700; a quarter of each
        one's cost was building these again)."""
        now = _now()
        common: _LeafCommon | None = self.__dict__.get("_leaf_common_cache")
        if common is None or now - common.since > datetime.timedelta(minutes=1):
            common = _LeafCommon(
                since=now,
                builder=x509.CertificateBuilder()
                .issuer_name(self._cert.subject)
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True),
                subject=(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xcompose"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.project)),
                usage=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                authority=x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
            )
            self.__dict__["_leaf_common_cache"] = common  # a frozen dataclass: as cached_property does
        return common


@dataclass(frozen=True)
class _LeafCommon:
    since: datetime.datetime
    builder: x509.CertificateBuilder  # issuer, validity, basic constraints
    subject: tuple[x509.NameAttribute[str], ...]  # all but the common name
    usage: x509.ExtendedKeyUsage
    authority: x509.AuthorityKeyIdentifier


class Credentials:
    """The project CA and the ambassador certificates known before planning.

    Without a CA (`none()`, or a project that never ran `up`) ambassadors are planned
    without certificates; for a project that has none, the plan says a new CA will be made. With one, a certificate
    that is missing or stale is issued in memory; `up` saves `new_identities()` before it
    carries the plan out."""

    def __init__(self, project: str, ca: CertificateAuthority | None = None,
                 issued: Mapping[str, Identity] | None = None, *, read: bool = True) -> None:
        self.project = project
        self.ca = ca
        # False: nobody looked (an offline preview), so no CA does not mean a new one.
        self.read = read
        self._issued = dict(issued or {})
        self._usable: dict[str, Identity] = {}  # checked against the CA, or issued here
        self._new: dict[str, Identity] = {}

    @classmethod
    def none(cls, project: str) -> Credentials:
        """Credentials that were not read: ambassadors are planned without certificates."""
        return cls(project, read=False)

    def identity(self, name: str) -> Identity | None:
        """The ambassador's certificate; None when there is no CA to vouch for one."""
        if name in self._usable or self.ca is None:
            return self._usable.get(name)
        found = self._issued.get(name)
        if found is None or found.ca_pem != self.ca.cert_pem or not self._usable_as_is(found):
            found = self._new[name] = self.ca.issue(name)
        self._usable[name] = found
        return found

    def client_identity(self, name: str, host: str) -> Identity | None:
        """A client ambassador's certificate: the one of its own that an earlier xcompose
        issued, while it is usable (so that its container is not re-created for a new one),
        else the one the client ambassadors of its host share."""
        if self.ca is not None and name not in self._usable:
            own = self._issued.get(name)
            if own is not None and own.ca_pem == self.ca.cert_pem and self._usable_as_is(own):
                self._usable[name] = own
        return self._usable.get(name) or self.identity(clients_of(self.project, host))

    def _usable_as_is(self, identity: Identity) -> bool:
        assert self.ca is not None
        return identity.lasts() if identity.vouched else self.ca.vouches_for(identity.cert_pem)

    def new_identities(self) -> dict[str, Identity]:
        return dict(self._new)
