"""The PKI on the hosts: every host keeps a copy, any machine reads the same one, reading
writes nothing, and copies that disagree are settled."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.keystore import SEAL, Bundle, write_private
from xcompose.pki import CertificateAuthority
from xcompose.plan.specs import HostTarget
from xcompose.run.hostpki import DIGEST, FILE, HostPki
from xcompose.run.statebox import BOX_IMAGE, FOLDER, StateBox, box_name, files_archive


def fleet(*engines: FakeEngine) -> dict[str, FakeExecutor]:
    return {e.host: FakeExecutor(HostTarget(e.host, None, None), e) for e in engines}


@pytest.fixture
def engines() -> tuple[FakeEngine, FakeEngine]:
    return FakeEngine("db"), FakeEngine("web")


def first_up(engines: tuple[FakeEngine, ...], operator: str = "ann@laptop") -> HostPki:
    store = HostPki(fleet(*engines), "shop", operator)
    store.read()
    credentials = store.ensure_ca()
    credentials.identity("shop-redis-ambassador")
    store.save(credentials)
    return store


def test_reading_a_project_without_a_ca_writes_nothing(engines: tuple[FakeEngine, FakeEngine]) -> None:
    store = HostPki(fleet(*engines), "shop", "ann@laptop")
    assert store.read() is None and store.credentials().ca is None
    assert all(not e.containers and BOX_IMAGE not in e.images for e in engines)


def test_hosts_without_the_box_are_not_asked_for_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A host without the box holds no copy: asking it for one would be a round trip more.
    engines = (FakeEngine("db"), FakeEngine("web"), FakeEngine("cache"))
    asked: list[tuple[str, str]] = []
    original = StateBox.look

    def look(box: StateBox, file: str, name: str | None = None) -> tuple[bool, bytes | None]:
        asked.append((box.executor.target.name, file))
        return original(box, file, name)

    monkeypatch.setattr(StateBox, "look", look)
    assert HostPki(fleet(*engines), "shop", "ann@laptop").read() is None
    # Each host's digest, and the first host's copy, asked beside them before anything was known.
    assert sorted(asked) == [("cache", DIGEST), ("cache", FILE), ("db", DIGEST), ("web", DIGEST)]


def test_every_host_keeps_a_copy_in_a_box_that_is_never_started(engines: tuple[FakeEngine, FakeEngine]) -> None:
    first_up(engines)
    for engine in engines:
        box = engine.named(box_name("shop", "pki"))
        assert box is not None and box.state == "created" and BOX_IMAGE in engine.images
        assert "io.xcompose.project" not in box.labels  # ps, down and orphans never see it


def test_another_machine_reads_the_same_ca_and_certificates(engines: tuple[FakeEngine, FakeEngine]) -> None:
    ann = first_up(engines)
    bob = HostPki(fleet(*engines), "shop", "bob@desk")
    assert bob.credentials().identity("shop-redis-ambassador") == \
        ann.credentials().identity("shop-redis-ambassador")
    assert bob.save(bob.credentials()) == []  # nothing new: nothing written


def test_a_host_that_lost_its_copy_gets_it_back_from_the_others(engines: tuple[FakeEngine, FakeEngine]) -> None:
    first_up(engines)
    db, web = engines
    box = web.named(box_name("shop", "pki"))
    assert box is not None
    del web.containers[box.id]
    store = HostPki(fleet(db, web), "shop", "bob@desk")
    ca = store.read()
    assert store.save() == ["web"]
    assert ca is not None and HostPki(fleet(web), "shop", "x").read().ca == ca.ca  # type: ignore[union-attr]


def test_a_replaced_ca_is_a_generation_later_on_every_host(engines: tuple[FakeEngine, FakeEngine]) -> None:
    first_up(engines)
    store = HostPki(fleet(*engines), "shop", "bob@desk")
    store.read()
    new = CertificateAuthority.new("shop")
    assert store.replace(Bundle("shop", new)) == ["db", "web"]
    for engine in engines:
        found = HostPki(fleet(engine), "shop", "x").read()
        assert found is not None and found.ca == new and found.generation == 2 and not found.issued


def test_importing_the_ca_the_hosts_hold_keeps_its_generation(engines: tuple[FakeEngine, FakeEngine]) -> None:
    ann = first_up(engines)
    assert ann.current is not None
    store = HostPki(fleet(*engines), "shop", "bob@desk")
    store.read()
    store.replace(ann.current)
    assert store.current is not None and store.current.generation == 1


def test_a_host_that_missed_a_rotation_is_outvoted(engines: tuple[FakeEngine, FakeEngine]) -> None:
    db, web = engines
    first_up(engines)
    rotated = HostPki(fleet(db), "shop", "bob@desk")  # web was down during the rotation
    rotated.read()
    new = CertificateAuthority.new("shop")
    rotated.replace(Bundle("shop", new))
    both = HostPki(fleet(db, web), "shop", "cat@ci")
    found = both.read()
    assert found is not None and found.ca == new
    assert both.save() == ["web"]


def test_a_ca_from_the_folder_of_older_versions_moves_to_the_hosts(
        engines: tuple[FakeEngine, FakeEngine], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    ca = CertificateAuthority.new("shop")
    folder = tmp_path / "xcompose" / "pki" / "shop"
    folder.mkdir(parents=True)
    write_private(folder / "ca.pem", ca.cert_pem)
    write_private(folder / "ca.key", ca.key_pem)
    store = HostPki(fleet(*engines), "shop", "ann@laptop")
    assert store.credentials().ca == ca and store.adopted
    assert store.save() == ["db", "web"]


def copies_sent(engines: tuple[FakeEngine, ...]) -> list[str]:
    """The hosts that sent their whole PKI copy, not only its digest."""
    return [e.host for e in engines for call in e.calls if call.endswith(f"{FOLDER}/{FILE}")]


def put_in_box(engine: FakeEngine, files: dict[str, bytes]) -> None:
    """The PKI box holding these files only, as another xcompose left it."""
    box = engine.named(box_name("shop", "pki"))
    assert box is not None
    engine.archives[box.id] = [(FOLDER, files_archive(files))]


def test_hosts_that_hold_the_same_copy_send_it_once_and_it_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    engines = (FakeEngine("db"), FakeEngine("web"), FakeEngine("cache"))
    first_up(engines)
    for engine in engines:
        engine.calls.clear()
    reads: list[str] = []
    original = Bundle.from_tar
    monkeypatch.setattr(Bundle, "from_tar", lambda data, where: reads.append(where) or original(data, where))
    store = HostPki(fleet(*engines), "shop", "bob@desk")
    assert store.read() is not None
    assert copies_sent(engines) == ["cache"] and len(reads) == 1  # the first host by name
    assert store.save(store.credentials()) == []  # one copy, compared once, and current on every host


def test_the_first_hosts_copy_is_asked_while_the_digests_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    engines = (FakeEngine("db"), FakeEngine("web"), FakeEngine("cache"))
    first_up(engines)
    copy_asked = threading.Event()
    digests_answered_after_it: list[bool] = []
    original = StateBox.look

    def look(box: StateBox, file: str, name: str | None = None) -> tuple[bool, bytes | None]:
        if file == FILE:
            copy_asked.set()
        else:  # each digest waits (boundedly) for the copy to be asked
            digests_answered_after_it.append(copy_asked.wait(timeout=5))
        return original(box, file, name)

    monkeypatch.setattr(StateBox, "look", look)
    assert HostPki(fleet(*engines), "shop", "bob@desk").read() is not None
    assert digests_answered_after_it == [True, True, True]


def test_a_copy_kept_without_its_digest_is_read_and_given_one(engines: tuple[FakeEngine, FakeEngine]) -> None:
    ann = first_up(engines)
    db, web = engines
    assert ann.current is not None
    put_in_box(web, {FILE: ann.current.to_tar()})  # as an xcompose before digests wrote it
    store = HostPki(fleet(db, web), "shop", "bob@desk")
    assert store.read() == ann.current
    assert store.save() == ["web"]
    assert StateBox(fleet(web)["web"], "shop", "pki").read(DIGEST) is not None


def test_a_host_whose_digest_does_not_name_the_copy_it_holds_is_not_trusted_for_the_others(
        engines: tuple[FakeEngine, FakeEngine]) -> None:
    ann = first_up(engines)
    db, web = engines
    assert ann.current is not None
    other = Bundle("shop", CertificateAuthority.new("shop"))
    put_in_box(db, {FILE: other.to_tar(), DIGEST: hashlib.sha256(ann.current.to_tar()).hexdigest().encode()})
    store = HostPki(fleet(db, web), "shop", "bob@desk")
    store.read()
    assert store.copies["db"] is not None and store.copies["db"].ca == other.ca
    assert store.copies["web"] is not None and store.copies["web"].ca == ann.current.ca


def unsealed(tar_bytes: bytes) -> bytes:
    """The same copy as an xcompose before seals wrote it: its meta.json without the seal."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as source, tarfile.open(fileobj=out, mode="w") as target:
        for member in source.getmembers():
            content = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "pki/meta.json":
                meta = json.loads(content)
                del meta[SEAL]
                content = json.dumps(meta).encode()
            member.size = len(content)
            target.addfile(member, io.BytesIO(content))
    return out.getvalue()


def unsealed_on_every_host(engines: tuple[FakeEngine, FakeEngine]) -> HostPki:
    """A first up's PKI, then its copy on every host replaced by one without a seal (as an
    xcompose before seals wrote it); returns the first up's store."""
    ann = first_up(engines)
    assert ann.current is not None
    old = unsealed(ann.current.to_tar())
    for engine in engines:
        put_in_box(engine, {FILE: old, DIGEST: hashlib.sha256(old).hexdigest().encode()})
    return ann


def test_a_copy_kept_without_a_seal_is_written_again_sealed(engines: tuple[FakeEngine, FakeEngine]) -> None:
    ann = unsealed_on_every_host(engines)
    store = HostPki(fleet(*engines), "shop", "bob@desk")
    assert store.read() == ann.current and not store.current.sealed  # type: ignore[union-attr]
    assert store.save() == ["db", "web"]
    again = HostPki(fleet(*engines), "shop", "cat@desk")
    assert again.read() is not None and again.current.sealed  # type: ignore[union-attr]
    assert again.save() == []


def test_a_copy_sealed_by_a_save_is_not_written_again_by_the_next(engines: tuple[FakeEngine, FakeEngine]) -> None:
    unsealed_on_every_host(engines)
    store = HostPki(fleet(*engines), "shop", "bob@desk")
    store.read()
    assert store.save() == ["db", "web"] and store.save() == []
