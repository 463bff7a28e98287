"""The project CA as values: certificates it issues, what it vouches for, and credentials
that issue a missing certificate in memory only."""

from __future__ import annotations

import datetime
from dataclasses import replace

import pytest
from cryptography import x509

from xcompose import pki
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


def test_each_certificate_has_its_own_key_serial_and_name_and_both_roles(ca: CertificateAuthority) -> None:
    first, second = (x509.load_pem_x509_certificate(ca.issue(n).cert_pem) for n in ("shop-a", "shop-b"))
    assert first.public_key() != second.public_key() and first.serial_number != second.serial_number
    assert first.subject.rfc4514_string() == "CN=shop-a,OU=shop,O=xcompose"
    assert first.issuer == x509.load_pem_x509_certificate(ca.cert_pem).subject
    usage = first.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not first.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_certificate_is_valid_from_just_before_it_is_issued(ca: CertificateAuthority,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Certificates issued together share what they can; one issued an hour later is not
    dated by the earlier ones."""
    ca.issue("shop-early")
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    monkeypatch.setattr(pki, "_now", lambda: later)
    cert = x509.load_pem_x509_certificate(ca.issue("shop-late").cert_pem)
    assert later - datetime.timedelta(minutes=6) < cert.not_valid_before_utc <= later
    assert cert.not_valid_after_utc > later + datetime.timedelta(days=pki.LEAF_DAYS - 1)


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


def test_a_vouched_certificate_is_used_without_checking_its_signature(
        ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = ca.issue("shop-db-ambassador")
    checked: list[bytes] = []
    monkeypatch.setattr(CertificateAuthority, "signed", lambda self, pem: checked.append(pem) or True)
    credentials = Credentials("shop", ca, {kept.name: kept})
    assert credentials.identity(kept.name) == kept
    assert checked == [] and credentials.new_identities() == {}


def test_an_unvouched_certificate_has_its_signature_checked(ca: CertificateAuthority) -> None:
    kept = replace(ca.issue("shop-db-ambassador"), vouched=False)
    credentials = Credentials("shop", ca, {kept.name: kept})
    assert credentials.identity(kept.name) == kept and credentials.new_identities() == {}


def test_a_vouched_certificate_close_to_expiry_is_issued_again(
        ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = ca.issue("shop-db-ambassador")
    monkeypatch.setattr(pki, "RENEW_BEFORE", datetime.timedelta(days=pki.LEAF_DAYS + 1))
    credentials = Credentials("shop", ca, {kept.name: kept})
    assert credentials.identity(kept.name) != kept and list(credentials.new_identities()) == [kept.name]


def test_a_seal_changes_with_any_certificate_or_key_and_with_the_ca(ca: CertificateAuthority) -> None:
    one, two = ca.issue("a"), ca.issue("b")
    assert ca.seal([one, two]) == ca.seal([two, one])
    assert ca.seal([one, two]) != ca.seal([one, replace(two, key_pem=one.key_pem)])
    assert ca.seal([one, two]) != ca.seal([one])
    assert ca.seal([one, two]) != CertificateAuthority.new("shop").seal([one, two])


def test_the_client_ambassadors_of_one_host_share_a_certificate(ca: CertificateAuthority) -> None:
    credentials = Credentials("shop", ca)
    one, two = credentials.client_identity("shop-db-ambassador-web1", "web1"), \
        credentials.client_identity("shop-cache-ambassador-web1", "web1")
    other = credentials.client_identity("shop-db-ambassador-web2", "web2")
    assert one is not None and one == two and one.name == pki.clients_of("shop", "web1")
    assert other is not None and other != one
    assert sorted(credentials.new_identities()) == [pki.clients_of("shop", "web1"), pki.clients_of("shop", "web2")]


def test_a_client_ambassador_keeps_a_usable_certificate_of_its_own(ca: CertificateAuthority) -> None:
    own = ca.issue("shop-db-ambassador-web1")
    credentials = Credentials("shop", ca, {own.name: own})
    assert credentials.client_identity(own.name, "web1") == own and credentials.new_identities() == {}


def test_a_client_ambassadors_own_certificate_of_another_ca_gives_way_to_its_hosts(ca: CertificateAuthority) -> None:
    stranger = CertificateAuthority.new("shop").issue("shop-db-ambassador-web1")
    credentials = Credentials("shop", ca, {stranger.name: stranger})
    found = credentials.client_identity(stranger.name, "web1")
    assert found is not None and found.name == pki.clients_of("shop", "web1")
    assert list(credentials.new_identities()) == [found.name]


def test_the_name_clients_share_is_no_ambassadors_name() -> None:
    assert not pki.clients_of("shop", "web1").startswith("shop-")
