"""The project's CA and ambassador certificates, kept on the project's hosts.

Every host of the project holds a copy (a file in its PKI state box, run/statebox.py), so
any machine that has the file and reaches the hosts uses the same CA, and losing a host
loses nothing while another one answers. Copies that disagree (a host that was down when
the CA was rotated) are settled by `keystore.newest`; `save` brings every host the winner.
Only `up`, `pki rotate` and `pki import` write, and they do so under the project lock.
Beside the copy lies its SHA-256: a reader asks every host for that, and for the copy
itself only one host per digest (a project's copy grows with its ambassadors: 70 MB for
10,000 services, which 100 hosts would otherwise each send on every `up`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from xcompose.alloc import paused_gc
from xcompose.engines.base import Executor
from xcompose.errors import DockerError
from xcompose.keystore import BadBundle, Bundle, newest, read_legacy
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.run.statebox import StateBox, files_archive

FILE = "pki.tar"
DIGEST = "pki.sha256"  # the copy's SHA-256 in hex: read from every host, the copy from one per digest


class HostPki:
    """The PKI copies of one project on the hosts that answered."""

    def __init__(self, executors: Mapping[str, Executor], project: str, operator: str) -> None:
        self.project = project
        self.operator = operator
        self.boxes = {host: StateBox(executor, project, "pki") for host, executor in executors.items()}
        self.copies: dict[str, Bundle | None] = {}
        self.notes: list[str] = []  # copies that could not be used, said once
        self.current: Bundle | None = None
        self.adopted = False  # the CA came from this machine's old folder, not from a host
        self._digested: set[str] = set()  # hosts whose digest names the copy they hold

    @paused_gc()  # a copy of 10,000 services is 52,000 files: see alloc.py
    def read(self) -> Bundle | None:
        """What the hosts hold (nothing is written); with no copy anywhere, the folder an
        older xcompose kept on this machine."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.boxes) + 1)) as pool:
            # The first host's copy is fetched whatever the digests say (see _fetch): asked
            # beside them, it costs no round trip of its own.
            ahead = {host: pool.submit(self.boxes[host].read, FILE) for host in sorted(self.boxes)[:1]}
            looked = dict(zip(self.boxes, pool.map(lambda host: self.boxes[host].look(DIGEST), self.boxes),
                              strict=True))
            # A host without the box holds no copy: nothing more to ask it.
            held = {host: d.strip() if d is not None else None for host, (box, d) in looked.items() if box}
            tars: dict[str, bytes | None] = dict.fromkeys(self.boxes)
            tars.update(self._fetch(pool, held, {host: copy for host, copy in ahead.items() if host in held}))
        # Each distinct copy is parsed once, and hosts that hold the same bytes share the
        # Bundle, which `save` then compares once.
        parsed: dict[bytes, Bundle] = {}
        self.copies = {}
        for host, data in tars.items():
            if data is None:
                self.copies[host] = None
                continue
            if data not in parsed:
                try:
                    parsed[data] = Bundle.from_tar(data, f"the PKI copy on host {host}")
                except BadBundle as error:
                    self.notes.append(f"{error}; it will be replaced")
                    self.copies[host] = None
                    continue
            self.copies[host] = parsed[data]
        self.current = newest(b for b in self.copies.values() if b is not None)
        if self.current is None:
            self.current = read_legacy(self.project)
            self.adopted = self.current is not None
        return self.current

    def _fetch(self, pool: ThreadPoolExecutor, digests: Mapping[str, bytes | None],
               ahead: Mapping[str, Future[bytes | None]]) -> dict[str, bytes | None]:
        """Each host's copy. The hosts nearly always hold the same one (`save` writes one
        tar to all), and a copy of 10,000 services is 70 MB: it is fetched from one host
        per digest, and on its own from a host that keeps no digest (written by an older
        xcompose) or whose digest does not name what the first host of it holds. `ahead`:
        copies asked already; the first host in order is always among those wanted (the
        first of its digest, or one without)."""
        first: dict[bytes, str] = {}
        for host in sorted(digests):
            digest = digests[host]
            if digest is not None:
                first.setdefault(digest, host)
        wanted = sorted({*first.values(), *(host for host, digest in digests.items() if digest is None)})
        asked = {host: ahead[host] if host in ahead else pool.submit(self.boxes[host].read, FILE) for host in wanted}
        fetched = {host: reading.result() for host, reading in asked.items()}
        verified: dict[bytes, bytes] = {}
        for digest, host in first.items():
            data = fetched[host]
            if data is not None and _digest(data) == digest:
                verified[digest] = data
                self._digested.add(host)
        copies: dict[str, bytes | None] = {}
        again: list[str] = []
        for host, digest in digests.items():
            if digest is not None and digest in verified:
                copies[host] = verified[digest]
                self._digested.add(host)
            elif host in fetched:
                copies[host] = fetched[host]
            else:
                again.append(host)
        copies.update(zip(again, pool.map(lambda host: self.boxes[host].read(FILE), again), strict=True))
        return copies

    def credentials(self) -> Credentials:
        current = self.read() if not self.copies else self.current
        return current.credentials() if current is not None else Credentials(self.project)

    def ensure_ca(self) -> Credentials:
        """The credentials, with a new CA (not yet saved) when the project has none."""
        if self.current is None:
            self.current = Bundle(self.project, CertificateAuthority.new(self.project))
        return self.current.credentials()

    @paused_gc()
    def save(self, credentials: Credentials | None = None) -> list[str]:
        """Bring every host the current bundle with the certificates issued while planning;
        the hosts written to (none when every copy is current already)."""
        if self.current is None:
            return []
        if credentials is not None:
            self.current = self.current.with_identities(credentials.new_identities().values())
        bundle = self.current
        # Copies read from the same bytes are one object: each is compared once. One that
        # an xcompose before seals wrote is written again, sealed, so that readers need not
        # check each certificate's signature.
        current: dict[int, bool] = {}
        for copy in self.copies.values():
            if copy is not None and id(copy) not in current:
                current[id(copy)] = bundle.same_content(copy) and copy.sealed
        stale = [host for host in sorted(self.boxes)  # a copy without its digest gets one
                 if self.copies.get(host) is None or not current[id(self.copies[host])] or host not in self._digested]
        if not stale:
            return []
        stamped = bundle.checked().stamped(self.operator)  # as written: sealed
        data = stamped.to_tar()
        # Made once for every host: the copy, then its digest (a reader that finds the
        # digest finds the copy it names).
        archive = files_archive({FILE: data, DIGEST: _digest(data)})

        def one(host: str) -> None:
            box = self.boxes[host]
            box.create()
            try:
                box.put(archive)
            except DockerError as error:
                raise error.at(f"host {host}: keeping the project's PKI") from error

        with ThreadPoolExecutor(max_workers=len(stale)) as pool:
            list(pool.map(one, stale))
        for host in stale:
            self.copies[host] = stamped
        self._digested.update(stale)
        self.current = stamped
        return stale

    def replace(self, bundle: Bundle) -> list[str]:
        """Make `bundle`'s CA the project's (a rotation, an import): one generation later
        than any copy, unless it is the CA the hosts hold already."""
        generations = [b.generation for b in self.copies.values() if b is not None]
        if self.current is not None and self.current.ca.cert_pem == bundle.ca.cert_pem:
            self.current = self.current.with_identities(bundle.issued.values())
        else:
            self.current = Bundle(self.project, bundle.ca, bundle.issued, max(generations, default=0) + 1)
        return self.save()


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode()
