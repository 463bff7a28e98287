"""One `up`, `down` or PKI change of a project at a time, from any machine.

The lock is a lock box (run/statebox.py) on every host the run touches. Creating the box
is atomic on each engine: whoever creates it holds the lock there. All hosts are tried at
once; a host that is busy is waited for in the order of the host names, holding no host
after it, so that two runs never wait on each other in a circle. The holder
proves it is alive by rewriting a heartbeat file in the box every quarter of its lease; a
waiter that sees the heartbeat unchanged for a whole lease, measured on its own clock (so
clocks of different machines never have to agree), removes that box by its id and takes the
lock; a holder that ran on this same machine and whose process has ended is taken over at
once. A holder whose heartbeat has not reached a host for three quarters of its lease starts
no new step there: by then a waiter may be about to take over.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xcompose.engines.base import Executor, is_missing
from xcompose.errors import DockerError, LockTimeout, XcomposeError
from xcompose.run.statebox import StateBox

LEASE_S = 30.0
# A holder seen for less than this is not announced: two runs that start together may each
# take some hosts, and the one that gives its hosts back does so at once.
TELL_AFTER_S = 0.3
HEARTBEAT = "heartbeat"
_PREFIX = "io.xcompose.lock."


def lease_seconds() -> float:
    """XCOMPOSE_LOCK_LEASE: shorter leases for tests, longer for hosts far away."""
    try:
        return max(1.0, float(os.environ.get("XCOMPOSE_LOCK_LEASE", LEASE_S)))
    except ValueError:
        return LEASE_S


def machine_id() -> str:
    """This machine, as far as a lock needs to know it: its name and this boot of it."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "?"
    return f"{socket.gethostname()}/{boot}"


def process_start(pid: int) -> str | None:
    """When the process started (clock ticks since boot), or None when it is gone: a pid
    with another start time is another process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


@dataclass(frozen=True)
class Holder:
    """Who holds a lock box: its labels, for the message a waiter prints."""

    operator: str
    pid: int
    since: str  # UTC, ISO 8601
    lease: float
    machine: str = ""  # machine_id() of the holder
    started: str = ""  # process_start() of the holder

    def labels(self) -> dict[str, str]:
        return {f"{_PREFIX}operator": self.operator, f"{_PREFIX}pid": str(self.pid), f"{_PREFIX}since": self.since,
                f"{_PREFIX}lease": f"{self.lease:g}", f"{_PREFIX}machine": self.machine,
                f"{_PREFIX}started": self.started}

    def gone_from(self, machine: str) -> bool:
        """Whether this holder ran on `machine` and its process has ended there: no need to
        wait for its lease to lapse (a run killed here, or one that lost a host)."""
        return bool(self.machine) and self.machine == machine and process_start(self.pid) != self.started

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> Holder:
        try:
            lease = float(labels.get(f"{_PREFIX}lease", LEASE_S))
        except ValueError:
            lease = LEASE_S
        pid = labels.get(f"{_PREFIX}pid", "")
        return cls(labels.get(f"{_PREFIX}operator", "another xcompose run"), int(pid) if pid.isdigit() else 0,
                   labels.get(f"{_PREFIX}since", "?"), lease, labels.get(f"{_PREFIX}machine", ""),
                   labels.get(f"{_PREFIX}started", ""))

    def __str__(self) -> str:
        return f"{self.operator} (pid {self.pid}) since {self.since}"


class ProjectLock:
    """The lock boxes of one run, and the thread that keeps their heartbeats going."""

    def __init__(self, executors: Mapping[str, Executor], project: str, operator: str,
                 lease: float | None = None) -> None:
        self.project = project
        self.lease = lease if lease is not None else lease_seconds()
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.machine = machine_id()
        self.holder = Holder(operator, os.getpid(), now, self.lease, self.machine, process_start(os.getpid()) or "")
        self.boxes = {host: StateBox(executor, project, "lock") for host, executor in executors.items()}
        self._held: dict[str, str] = {}  # host -> our box's id
        self._renewed: dict[str, float] = {}  # host -> monotonic time of the last heartbeat that arrived
        self._lost: set[str] = set()  # hosts where our box was removed by another run
        self._silent: set[str] = set()  # hosts whose last heartbeat did not arrive
        self._beats = 0
        self._counting = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.broken: list[str] = []  # stale locks taken over, said once
        self._dead: set[Holder] = set()  # holders found dead: their boxes on other hosts go at once

    def acquire(self, wait: float, on_wait: Callable[[str], None] = lambda _holder: None) -> None:
        deadline = time.monotonic() + wait
        try:
            for host in self._take_free_hosts():
                self._acquire_one(host, deadline, wait, on_wait)
        except BaseException:
            self.release()
            raise

    def _take_free_hosts(self) -> list[str]:
        """Try every host at once (the usual case: nobody else runs this project, and a
        far host costs one round trip for all, not one each); the hosts still to take, in
        order. Only the hosts before the first one that was not free are kept: a run waits
        for a host only while it holds none after it, so two runs never wait in a circle."""
        hosts = sorted(self.boxes)
        if len(hosts) < 2:
            return hosts
        labels = self.holder.labels()
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            tries = {host: pool.submit(self.boxes[host].create, labels) for host in hosts}
        created: dict[str, str] = {}
        failure: BaseException | None = None
        for host in hosts:
            try:
                box_id = tries[host].result()
            except BaseException as error:  # noqa: BLE001 - raised below, once what was made is settled
                failure = failure or error
                continue
            if box_id is not None:
                created[host] = box_id
        first_taken = next((i for i, host in enumerate(hosts) if host not in created), len(hosts))
        for host in hosts[:first_taken]:
            self._hold(host, created[host])
        for host in hosts[first_taken:]:
            if host in created:  # given back: it is taken again in order, after the busy one
                with contextlib.suppress(XcomposeError):
                    self.boxes[host].remove(created[host])
        if failure is not None:
            raise failure
        return hosts[first_taken:]

    def _hold(self, host: str, box_id: str) -> None:
        """Our box on `host` was created: from now on its heartbeat goes on, on a thread of
        its own (a host that stops answering must not delay the others' heartbeats), while
        later hosts are taken."""
        self._held[host] = box_id
        self._renewed[host] = time.monotonic()
        thread = threading.Thread(target=self._keep_alive, args=(host,), name=f"lock-heartbeat-{host}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _acquire_one(self, host: str, deadline: float, wait: float, on_wait: Callable[[str], None]) -> None:
        box = self.boxes[host]
        watched: tuple[str, bytes | None] | None = None
        watched_since = 0.0
        first_seen: float | None = None
        told = False
        while True:
            box_id = box.create(self.holder.labels())
            if box_id is not None:
                self._hold(host, box_id)
                return
            found = box.labels_and_id()
            if found is None:
                continue  # released between our create and our look: try again at once
            other_id, labels = found
            other = Holder.from_labels(labels)
            seen = (other_id, box.read(HEARTBEAT, other_id))
            now = time.monotonic()
            if seen != watched:
                watched, watched_since = seen, now
            gone = other.gone_from(self.machine)
            if gone or other in self._dead or now - watched_since > other.lease:
                # By id: if the holder's box was replaced meanwhile, the new one stays.
                with contextlib.suppress(DockerError):
                    box.remove(other_id)
                why = ("its process on this machine has ended" if gone else
                       "found dead on another host" if other in self._dead else
                       f"no heartbeat for {now - watched_since:.0f}s")
                self.broken.append(f"took over the lock on host {host} from {other}: {why}")
                self._dead.add(other)
                watched = None
                continue
            first_seen = now if first_seen is None else first_seen
            if not told and now - first_seen >= TELL_AFTER_S:
                on_wait(f"{other} on host {host}")
                told = True
            if now >= deadline:
                raise LockTimeout(f"project {self.project} is locked by {other} on host {host}; "
                                  f"gave up after {wait:g}s")
            # Soon again at first: a box given back is gone within a round trip.
            pause = min(1.0, other.lease / 10) if told else TELL_AFTER_S / 3
            time.sleep(max(0.05, min(pause, deadline - now)))

    def _beat(self) -> bytes:
        with self._counting:
            self._beats += 1
            return f"{self.holder.operator} {self.holder.pid} {self._beats}\n".encode()

    def _keep_alive(self, host: str) -> None:
        box_id = self._held[host]
        # The box's creation is the first sign of life (held() counts from it): a waiter
        # watches the heartbeat for a change, and a box without one yet is a state it
        # watches like any other. A run shorter than a quarter lease (a no-op `up`) so
        # writes none, which spares each host a file copy while it is being read.
        while not self._stop.wait(self.lease / 4) and host not in self._lost:
            try:
                self.boxes[host].write(HEARTBEAT, self._beat(), box_id)
                self._renewed[host] = time.monotonic()
                self._silent.discard(host)
            except DockerError as error:
                if is_missing(error.message):
                    self._lost.add(host)
            except XcomposeError:
                self._silent.add(host)  # not answering: held() says when to stop using it

    def held(self, host: str) -> bool:
        """Whether this run may still start work on the host."""
        if host not in self._held:
            return host not in self.boxes  # a host the lock does not cover
        if host in self._lost:
            return False
        return time.monotonic() - self._renewed.get(host, 0.0) < 0.75 * self.lease

    def release(self) -> None:
        """Remove our boxes, all hosts at once; one on a host that stopped answering (or
        that another run took over) is left to its lease, so a lost host never holds the
        end of a run up."""
        self._stop.set()
        for thread in self._threads:
            thread.join(0.2)

        def remove(item: tuple[str, str]) -> None:
            with contextlib.suppress(XcomposeError):
                self.boxes[item[0]].remove(item[1])

        reachable = [(h, b) for h, b in sorted(self._held.items()) if h not in self._silent | self._lost]
        if reachable:
            with ThreadPoolExecutor(max_workers=len(reachable)) as pool:
                list(pool.map(remove, reachable))
        self._held.clear()


@contextmanager
def project_lock(executors: Mapping[str, Executor], project: str, operator: str, wait: float = 300.0,
                 on_wait: Callable[[str], None] = lambda _holder: None) -> Iterator[ProjectLock]:
    lock = ProjectLock(executors, project, operator)
    lock.acquire(wait, on_wait)
    try:
        yield lock
    finally:
        lock.release()
