"""The PKI folder: where it lives, its permissions, reading without writing, reuse and
rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from xcompose.keystore import KeyStore, state_root


def test_state_root_follows_xdg_state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_root() == tmp_path / "xcompose" / "pki"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_root() == tmp_path / "home" / ".local" / "state" / "xcompose" / "pki"


def test_reading_a_project_without_a_ca_writes_nothing(tmp_path: Path) -> None:
    credentials = KeyStore("shop", tmp_path).read()
    assert credentials.ca is None and credentials.read
    assert list(tmp_path.iterdir()) == []


def test_files_are_the_users_only(tmp_path: Path) -> None:
    store = KeyStore("shop", tmp_path)
    credentials = store.ensure_ca()
    credentials.identity("shop-db-ambassador")
    store.save(credentials.new_identities().values())
    for path in [store.dir, *store.dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_saved_certificates_are_reused_until_rotated(tmp_path: Path) -> None:
    store = KeyStore("shop", tmp_path)
    credentials = store.ensure_ca()
    first = credentials.identity("shop-db-ambassador")
    store.save(credentials.new_identities().values())
    assert KeyStore("shop", tmp_path).read().identity("shop-db-ambassador") == first
    store.rotate()
    rotated = store.read().identity("shop-db-ambassador")
    assert first is not None and rotated is not None
    assert rotated.fingerprint != first.fingerprint and rotated.ca_fingerprint != first.ca_fingerprint


def test_another_project_has_another_ca(tmp_path: Path) -> None:
    a = KeyStore("a", tmp_path).ensure_ca().identity("x")
    b = KeyStore("b", tmp_path).ensure_ca().identity("x")
    assert a is not None and b is not None and a.ca_pem != b.ca_pem


def test_bad_project_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        KeyStore("../etc", tmp_path)
