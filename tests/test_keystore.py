"""The PKI as one value: the tar the hosts keep and `pki export` writes, which copy wins
when hosts disagree, and the folder older versions kept on the operator's machine."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from xcompose.keystore import SEAL, BadBundle, Bundle, newest, read_legacy, write_private
from xcompose.pki import CertificateAuthority


def bundle(generation: int = 1, at: str = "2026-01-01T00:00:00+00:00") -> Bundle:
    return Bundle("shop", CertificateAuthority.new("shop"), generation=generation, written_at=at)


def test_a_bundle_comes_back_from_its_tar_with_its_certificates() -> None:
    original = bundle()
    credentials = original.credentials()
    issued = credentials.identity("shop-db-ambassador")
    assert issued is not None
    again = Bundle.from_tar(original.with_identities([issued]).stamped("ann@laptop").to_tar(), "test")
    assert again.ca == original.ca and again.generation == 1 and again.written_by == "ann@laptop"
    assert again.credentials().identity("shop-db-ambassador") == issued  # reused, not issued anew


def test_every_file_in_the_tar_is_the_owners_only() -> None:
    with tarfile.open(fileobj=io.BytesIO(bundle().to_tar())) as tar:
        assert {m.mode for m in tar.getmembers()} == {0o600}


def test_a_tar_that_is_no_bundle_is_a_located_error() -> None:
    with pytest.raises(BadBundle, match=r"backup\.tar: not an xcompose PKI bundle"):
        Bundle.from_tar(b"hello", "backup.tar")


def test_a_ca_key_that_is_not_the_certificates_is_refused() -> None:
    good, other = bundle(), bundle()
    forged = replace(good, ca=CertificateAuthority("shop", good.ca.cert_pem, other.ca.key_pem))
    with pytest.raises(BadBundle, match="does not belong"):
        Bundle.from_tar(forged.to_tar(), "forged.tar")


def test_the_latest_generation_wins_whatever_was_written_last() -> None:
    rotated = bundle(generation=2, at="2026-01-01T00:00:00+00:00")
    stale = bundle(generation=1, at="2026-06-01T00:00:00+00:00")  # a clock ahead, or an old copy
    assert newest([stale, rotated]) is not None
    assert newest([stale, rotated]).ca == rotated.ca  # type: ignore[union-attr]


def test_certificates_held_by_any_copy_of_the_winning_ca_are_merged() -> None:
    base = bundle()
    one = base.credentials().identity("a")
    two = base.credentials().identity("b")
    assert one is not None and two is not None
    merged = newest([base.with_identities([one]), replace(base.with_identities([two]), written_at="2026-02-01")])
    assert merged is not None and set(merged.issued) == {"a", "b"}


def test_no_copy_gives_no_bundle() -> None:
    assert newest([]) is None


def test_same_content_needs_the_same_generation_ca_and_certificates() -> None:
    base = bundle()
    issued = base.credentials().identity("a")
    assert issued is not None
    assert base.same_content(base) and not base.same_content(None)
    assert not base.with_identities([issued]).same_content(base)
    assert base.same_content(base.with_identities([issued]))  # a copy may hold more
    assert not base.same_content(replace(base, generation=2))


def test_the_folder_of_older_versions_is_read_as_generation_one(tmp_path: Path) -> None:
    ca = CertificateAuthority.new("shop")
    folder = tmp_path / "shop"
    (folder / "issued").mkdir(parents=True)
    write_private(folder / "ca.pem", ca.cert_pem)
    write_private(folder / "ca.key", ca.key_pem)
    leaf = ca.issue("shop-db-ambassador")
    write_private(folder / "issued" / "shop-db-ambassador.pem", leaf.cert_pem)
    write_private(folder / "issued" / "shop-db-ambassador.key", leaf.key_pem)
    found = read_legacy("shop", tmp_path)
    assert found is not None and found.ca == ca and found.generation == 1
    assert found.credentials().identity("shop-db-ambassador") == leaf
    assert read_legacy("other", tmp_path) is None and read_legacy("../etc", tmp_path) is None


def with_file_replaced(tar_bytes: bytes, path: str, data: bytes) -> bytes:
    """The tar with one file's content swapped, everything else (its meta.json too) kept."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as source, tarfile.open(fileobj=out, mode="w") as target:
        for member in source.getmembers():
            content = data if member.name == path else source.extractfile(member).read()  # type: ignore[union-attr]
            member.size = len(content)
            target.addfile(member, io.BytesIO(content))
    return out.getvalue()


def sealed_with(name: str) -> tuple[Bundle, bytes]:
    base = bundle()
    issued = base.credentials().identity(name)
    assert issued is not None
    written = base.with_identities([issued])
    return written, written.to_tar()


def test_a_bundle_read_from_its_tar_holds_certificates_vouched_by_the_seal(monkeypatch: pytest.MonkeyPatch) -> None:
    written, data = sealed_with("a")
    checked: list[bytes] = []
    monkeypatch.setattr(CertificateAuthority, "signed", lambda self, pem: checked.append(pem) or True)
    again = Bundle.from_tar(data, "test")
    assert again.issued["a"].vouched
    credentials = again.credentials()
    assert credentials.identity("a") == written.issued["a"] and credentials.new_identities() == {}
    assert checked == []


def test_a_certificate_swapped_in_the_tar_breaks_the_seal_and_is_issued_again() -> None:
    _, data = sealed_with("a")
    stranger = CertificateAuthority.new("shop").issue("a")
    again = Bundle.from_tar(with_file_replaced(data, "pki/issued/a.pem", stranger.cert_pem), "test")
    assert not again.issued["a"].vouched
    credentials = again.credentials()
    reissued = credentials.identity("a")
    assert reissued is not None and reissued.cert_pem != stranger.cert_pem and list(credentials.new_identities()) == ["a"]


def test_an_unsealed_tar_has_each_certificate_checked_and_reused_when_it_is_the_cas() -> None:
    written, data = sealed_with("a")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        meta = json.loads(tar.extractfile("pki/meta.json").read())  # type: ignore[union-attr]
    del meta[SEAL]  # as an xcompose before seals wrote it
    again = Bundle.from_tar(with_file_replaced(data, "pki/meta.json", json.dumps(meta).encode()), "test")
    assert not again.issued["a"].vouched
    credentials = again.credentials()
    assert credentials.identity("a") == written.issued["a"] and credentials.new_identities() == {}


def test_a_certificate_of_another_ca_is_not_written() -> None:
    base = bundle()
    stranger = replace(CertificateAuthority.new("shop").issue("a"), ca_pem=base.ca.cert_pem, vouched=False)
    again = Bundle.from_tar(replace(base, issued={"a": stranger}).to_tar(), "test")
    assert again.issued == {}
