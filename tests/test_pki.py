"""The project CA as values: certificates it issues, what it vouches for, and credentials
that issue a missing certificate in memory only."""

from __future__ import annotations

import pytest
from cryptography import x509

from xcompose.pki import CertificateAuthority, Credentials, fingerprint


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.new("shop")


def test_the_certificate_names_the_ambassador_and_is_signed_by_the_ca(ca: CertificateAuthority) -> None:
    ident = ca.issue("shop-db-ambassador-web1")
    cert = x509.load_pem_x509_certificate(ident.cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ident.ca_pem))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["shop-db-ambassador-web1"]
    assert ident.fingerprint == fingerprint(ident.cert_pem) and ident.fingerprint.startswith("sha256:")


def test_a_ca_vouches_for_its_own_certificates_only(ca: CertificateAuthority) -> None:
    other = CertificateAuthority.new("shop")
    assert ca.vouches_for(ca.issue("x").cert_pem)
    assert not ca.vouches_for(other.issue("x").cert_pem)
    assert not ca.vouches_for(b"not a certificate")


def test_credentials_reuse_what_was_issued_and_issue_the_rest_in_memory(ca: CertificateAuthority) -> None:
    kept = ca.issue("shop-db-ambassador")
    credentials = Credentials("shop", ca, {kept.name: kept})
    assert credentials.identity("shop-db-ambassador") == kept
    fresh = credentials.identity("shop-db-ambassador-b")
    assert fresh is not None and credentials.identity("shop-db-ambassador-b") == fresh
    assert list(credentials.new_identities()) == ["shop-db-ambassador-b"]


def test_a_certificate_of_another_ca_is_issued_again(ca: CertificateAuthority) -> None:
    stranger = CertificateAuthority.new("shop").issue("x")
    reissued = Credentials("shop", ca, {"x": stranger}).identity("x")
    assert reissued is not None and reissued != stranger and ca.vouches_for(reissued.cert_pem)


def test_without_a_ca_there_is_no_certificate() -> None:
    credentials = Credentials.none("shop")
    assert credentials.identity("x") is None and not credentials.read
    assert Credentials("shop").read


def test_keys_never_show_in_a_repr(ca: CertificateAuthority) -> None:
    ident = ca.issue("x")
    assert b"PRIVATE" in ident.key_pem
    assert "PRIVATE" not in repr(ident) and "PRIVATE" not in repr(ca)


def test_bad_names_are_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError):
        ca.issue("a/b")
