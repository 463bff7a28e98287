"""The project CA: where it lives, its permissions, reuse and rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from xcompose.pki import ProjectPki, fingerprint, state_root


def test_state_root_follows_xdg_state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_root() == tmp_path / "xcompose" / "pki"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_root() == tmp_path / "home" / ".local" / "state" / "xcompose" / "pki"


def test_files_are_the_users_only(tmp_path: Path) -> None:
    pki = ProjectPki("shop", tmp_path)
    pki.identity("shop-db-ambassador")
    for path in [pki.dir, *pki.dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_certificates_are_reused_until_rotated(tmp_path: Path) -> None:
    pki = ProjectPki("shop", tmp_path)
    first = pki.identity("shop-db-ambassador")
    again = ProjectPki("shop", tmp_path).identity("shop-db-ambassador")
    assert again == first
    pki.rotate()
    rotated = pki.identity("shop-db-ambassador")
    assert rotated.fingerprint != first.fingerprint
    assert rotated.ca_fingerprint != first.ca_fingerprint


def test_the_certificate_names_the_ambassador_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    ident = ProjectPki("shop", tmp_path).identity("shop-db-ambassador-web1")
    cert = x509.load_pem_x509_certificate(ident.cert_pem)
    ca = x509.load_pem_x509_certificate(ident.ca_pem)
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["shop-db-ambassador-web1"]
    assert ident.fingerprint == fingerprint(ident.cert_pem) and ident.fingerprint.startswith("sha256:")


def test_another_project_has_another_ca(tmp_path: Path) -> None:
    a = ProjectPki("a", tmp_path).identity("x")
    b = ProjectPki("b", tmp_path).identity("x")
    assert a.ca_pem != b.ca_pem


def test_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ProjectPki("../etc", tmp_path)
    with pytest.raises(ValueError):
        ProjectPki("shop", tmp_path).identity("a/b")
