"""The project's CA and ambassador certificates, kept on the project's hosts.

Every host of the project holds a copy (a file in its PKI state box, run/statebox.py), so
any machine that has the file and reaches the hosts uses the same CA, and losing a host
loses nothing while another one answers. Copies that disagree (a host that was down when
the CA was rotated) are settled by `keystore.newest`; `save` brings every host the winner.
Only `up`, `pki rotate` and `pki import` write, and they do so under the project lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from xcompose.engines.base import Executor
from xcompose.errors import DockerError
from xcompose.keystore import BadBundle, Bundle, newest, read_legacy
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.run.statebox import StateBox

FILE = "pki.tar"


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

    def read(self) -> Bundle | None:
        """What the hosts hold (nothing is written); with no copy anywhere, the folder an
        older xcompose kept on this machine."""

        with ThreadPoolExecutor(max_workers=max(1, len(self.boxes))) as pool:
            tars = dict(zip(self.boxes, pool.map(lambda host: self.boxes[host].read(FILE), self.boxes), strict=True))
        # The hosts nearly always hold the same bytes (`save` writes one tar to all): each
        # distinct copy is read once, not once per host (a copy of a 10,000-service
        # project holds 60,000 files).
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

    def credentials(self) -> Credentials:
        current = self.read() if not self.copies else self.current
        return current.credentials() if current is not None else Credentials(self.project)

    def ensure_ca(self) -> Credentials:
        """The credentials, with a new CA (not yet saved) when the project has none."""
        if self.current is None:
            self.current = Bundle(self.project, CertificateAuthority.new(self.project))
        return self.current.credentials()

    def save(self, credentials: Credentials | None = None) -> list[str]:
        """Bring every host the current bundle with the certificates issued while planning;
        the hosts written to (none when every copy is current already)."""
        if self.current is None:
            return []
        if credentials is not None:
            self.current = self.current.with_identities(credentials.new_identities().values())
        bundle = self.current
        # Copies read from the same bytes are one object: each is compared once.
        current: dict[int, bool] = {}
        for copy in self.copies.values():
            if copy is not None and id(copy) not in current:
                current[id(copy)] = bundle.same_content(copy)
        stale = [host for host in sorted(self.boxes)
                 if self.copies.get(host) is None or not current[id(self.copies[host])]]
        if not stale:
            return []
        stamped = bundle.stamped(self.operator)
        data = stamped.to_tar()

        def one(host: str) -> None:
            box = self.boxes[host]
            box.create()
            try:
                box.write(FILE, data)
            except DockerError as error:
                raise error.at(f"host {host}: keeping the project's PKI") from error

        with ThreadPoolExecutor(max_workers=len(stale)) as pool:
            list(pool.map(one, stale))
        for host in stale:
            self.copies[host] = stamped
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
