"""The Python API of the lab: `Lab.up()`, `lab.hosts`, `lab.images()`, `lab.down()`."""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import hosts as hx
from . import net
from . import ssh as sx
from . import state as st
from . import swarm as sw
from .errors import LabError
from .images import ImagesReport, ensure_images, images_present
from .sysutil import (
    UP_PROGRAMS,
    is_alive,
    remove_tree,
    require_kernel,
    require_programs,
    require_root,
    run,
)

if TYPE_CHECKING:
    import docker

Progress = Callable[[str], None]
DOCKERD_TIMEOUT = 90.0  # several dockerds starting at once on two cores take ~5-20 s


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    docker_socket: str  # unix:///run/xcompose-lab/PREFIX/NAME/docker.sock
    ssh_url: str  # ssh://root@ADDR
    netns: str
    index: int = 0

    @property
    def tcp_url(self) -> str:
        """The host's engine over plain TCP on its lab address."""
        return f"tcp://{self.address}:{hx.DOCKER_TCP_PORT}"


@dataclass(frozen=True)
class HostStatus:
    host: LabHost
    dockerd_pid: int | None
    dockerd_alive: bool
    docker_version: str | None
    sshd_alive: bool
    images: tuple[int, int]


class Lab:
    """A running lab, loaded from its state file. Build one with `Lab.up()` or find an
    existing one with `Lab.get()`."""

    def __init__(self, state: st.LabState) -> None:
        self._state = state

    # --- construction ------------------------------------------------------------------

    @classmethod
    def get(cls, prefix: str = "xlab") -> Lab | None:
        net.validate_prefix(prefix)
        state = st.load_state(prefix)
        return cls(state) if state is not None else None

    @classmethod
    def up(
        cls,
        hosts: int = 3,
        prefix: str = "xlab",
        *,
        subnet: str | None = None,
        trust: bool = False,
        progress: Progress = lambda _m: None,
    ) -> Lab:
        """Build the lab, or return the running one of that prefix (same host count).
        On any failure, everything made so far is removed and LabError names the step."""
        net.validate_prefix(prefix)
        net.validate_host_count(hosts)
        require_root()
        require_kernel()
        require_programs(UP_PROGRAMS)
        with st.prefix_lock(prefix):
            existing = st.load_state(prefix)
            if existing is not None and existing.complete:
                lab = cls(existing)
                if len(existing.hosts) != hosts:
                    raise LabError(
                        f"lab {prefix!r} is already running with {len(existing.hosts)} hosts; "
                        f"run `xcompose lab down --name {prefix}` first"
                    )
                return lab
            if existing is not None:  # a crashed `up`: clear it before starting over
                progress(f"removing the incomplete lab {prefix!r} left by an earlier run")
                _teardown(existing)
            state = _plan(prefix, hosts, subnet)
            try:
                _build(state, trust, progress)
            except BaseException:
                # KeyboardInterrupt included: never leave a half-built lab behind.
                progress("failed; removing what was made")
                _teardown(state)
                raise
            return cls(state)

    @staticmethod
    def teardown(prefix: str = "xlab", *, purge: bool = False) -> bool:
        """Remove the lab of that prefix; True if there was one. Safe to repeat."""
        net.validate_prefix(prefix)
        require_root()
        with st.prefix_lock(prefix):
            state = st.load_state(prefix)
            if state is not None:
                _teardown(state)
            else:
                remove_tree(str(st.state_dir(prefix)))
            if purge:
                remove_tree(str(st.CACHE_ROOT))
        _cleanup_lock(prefix)
        return state is not None

    def down(self, *, purge: bool = False) -> None:
        Lab.teardown(self.prefix, purge=purge)

    # --- facts -------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        return self._state.prefix

    @property
    def subnet(self) -> str:
        return self._state.subnet

    @property
    def bridge(self) -> str:
        return self._state.bridge

    @property
    def bridge_address(self) -> str:
        return self._state.bridge_address

    @property
    def hosts(self) -> list[LabHost]:
        return [
            LabHost(h.name, h.address, h.docker_socket, f"ssh://root@{h.address}", h.netns, h.index)
            for h in self._state.hosts
        ]

    def host(self, key: str | int) -> LabHost:
        """A host by name ("xlab2"), or by 1-based index (2)."""
        for h in self.hosts:
            if key == h.name or key == h.index:
                return h
        raise LabError(f"lab {self.prefix!r} has no host {key!r}")

    @property
    def _ssh(self) -> sx.SshPaths:
        return sx.SshPaths.for_prefix(self.prefix)

    @property
    def ssh_config_path(self) -> Path:
        return self._ssh.config

    @property
    def known_hosts_path(self) -> Path:
        return self._ssh.known_hosts

    @property
    def identity_file(self) -> Path:
        return self._ssh.identity_file

    @property
    def ssh_home(self) -> Path:
        """A HOME whose ~/.ssh trusts the lab: for paramiko (docker-py ssh://)."""
        return self._ssh.home

    def env(self) -> dict[str, str]:
        return {
            "XCOMPOSE_SSH_CONFIG": str(self.ssh_config_path),
            "XCOMPOSE_KNOWN_HOSTS": str(self.known_hosts_path),
            "XCOMPOSE_LAB_SSH_HOME": str(self.ssh_home),
        }

    def _record(self, host: LabHost) -> st.HostRecord:
        return next(h for h in self._state.hosts if h.name == host.name)

    # --- actions -----------------------------------------------------------------------

    def images(self, progress: Progress = lambda _m: None) -> ImagesReport:
        with st.prefix_lock(self.prefix):
            return ensure_images([(h.name, h.docker_socket) for h in self.hosts], progress)

    @contextmanager
    def partition(self, host: LabHost | str | int) -> Iterator[None]:
        """Every packet to the host dropped (silently: no reset, no error), as a dead switch
        or a dropping firewall does, until the block ends."""
        h = host if isinstance(host, LabHost) else self.host(host)
        rules = [["INPUT", "-j", "DROP"], ["FORWARD", "-j", "DROP"]]
        for rule in rules:
            self.run_in(h, ["iptables", "-w", "-I", rule[0], "1", *rule[1:]])
        try:
            yield
        finally:
            for rule in rules:
                self.run_in(h, ["iptables", "-w", "-D", *rule], check=False)

    def run_in(
        self, host: LabHost | str | int, argv: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a command of this machine inside a host's network namespace."""
        h = host if isinstance(host, LabHost) else self.host(host)
        inside = ["nsenter", f"--net={hx.netns_path(h.netns)}", *argv]
        return run(inside, f"run in {h.name}", check=check, timeout=timeout)

    def docker_client(
        self, host: LabHost | str | int, via: Literal["unix", "ssh"] = "unix", timeout: int = 120
    ) -> docker.DockerClient:
        """docker-py client for a host. `via="ssh"` uses paramiko, which reads
        ~/.ssh of $HOME: set HOME to `lab.ssh_home` (the e2e fixture does) or use --trust."""
        import docker as dockerpy

        h = host if isinstance(host, LabHost) else self.host(host)
        if via == "unix":
            return dockerpy.DockerClient(base_url=h.docker_socket, timeout=timeout)
        return dockerpy.DockerClient(base_url=h.ssh_url, use_ssh_client=False, timeout=timeout)

    def processes(self) -> dict[str, dict[str, int]]:
        """{host: {"dockerd": pid, "sshd": pid}} of the daemons the lab started."""
        out: dict[str, dict[str, int]] = {}
        for rec in self._state.hosts:
            out[rec.name] = {k: p.pid for k, p in (("dockerd", rec.dockerd), ("sshd", rec.sshd)) if p}
        return out

    def stop_daemon(
        self, host: LabHost | str | int, daemon: Literal["dockerd", "sshd"], *, kill: bool = False
    ) -> None:
        """Take one daemon of a host down (for fault tests): `kill` crashes it with SIGKILL,
        otherwise it stops cleanly. The host's namespace, data and other daemon stay."""
        rec = self._record(host if isinstance(host, LabHost) else self.host(host))
        with st.prefix_lock(self.prefix):
            hx.halt(getattr(rec, daemon), kill=kill)

    def start_daemon(self, host: LabHost | str | int, daemon: Literal["dockerd", "sshd"]) -> None:
        """Start a daemon taken down by `stop_daemon` again and wait until it answers."""
        rec = self._record(host if isinstance(host, LabHost) else self.host(host))
        with st.prefix_lock(self.prefix):
            if is_alive(getattr(rec, daemon)):
                return
            if daemon == "sshd":
                rec.sshd = hx.start_sshd(rec, self._ssh.sshd_config(rec.name))
                st.save_state(self._state)  # teardown must find the new pid
                hx.wait_sshd(rec, time.monotonic() + DOCKERD_TIMEOUT)
                return
            # After a SIGKILL (its containerd dies with it) the first start often gives up
            # waiting for the new containerd, which is busy with the old shims; the next
            # start finds them cleaned up.
            for attempt in range(3):
                rec.dockerd = hx.start_dockerd(rec)
                st.save_state(self._state)
                try:
                    hx.wait_dockerd(rec, time.monotonic() + DOCKERD_TIMEOUT)
                    return
                except LabError:
                    if attempt == 2 or is_alive(rec.dockerd):
                        raise

    def status(self) -> list[HostStatus]:
        out: list[HostStatus] = []
        for h in self.hosts:
            rec = self._record(h)
            alive = is_alive(rec.dockerd)
            version = None
            images = (0, 0)
            if alive and hx.docker_ping(h.docker_socket):
                proc = run(["docker", "-H", h.docker_socket, "version", "--format", "{{.Server.Version}}"],
                           "docker version", check=False, timeout=20)
                version = proc.stdout.decode().strip() or None
                images = images_present(h.docker_socket)
            out.append(HostStatus(h, rec.dockerd.pid if rec.dockerd else None, alive, version,
                                  is_alive(rec.sshd), images))
        return out

    def form_swarm(self, progress: Progress = lambda _m: None) -> list[sw.SwarmNode]:
        """Make the hosts one Docker Swarm (the first host its manager), each node labelled
        `io.xcompose.host=<host name>`; safe to repeat. `down` removes it with the hosts."""
        with st.prefix_lock(self.prefix):
            return sw.form(self.hosts, progress)

    def swarm_nodes(self) -> list[sw.SwarmNode]:
        """The swarm's nodes as the first host manages them; empty when there is no swarm."""
        return sw.nodes(self.hosts)

    def dissolve_swarm(self) -> None:
        """Every host leaves the swarm: the lab is plain Docker engines again."""
        with st.prefix_lock(self.prefix):
            sw.dissolve(self.hosts)

    def override_yaml(self, topology_hosts: Sequence[str] | None = None) -> str:
        from .render import render_override

        return render_override(
            [(h.name, h.address) for h in self.hosts], topology_hosts
        )


# --- internals -------------------------------------------------------------------------


def _plan(prefix: str, count: int, subnet: str | None) -> st.LabState:
    used = hx.used_networks()
    for other in st.all_states():
        if other.prefix != prefix:
            used.append(ipaddress.IPv4Network(other.subnet))
    chosen = net.pick_subnet(prefix, used, subnet)
    state = st.LabState(
        prefix=prefix,
        subnet=str(chosen),
        bridge=net.bridge_name(prefix),
        bridge_address=str(net.bridge_address(chosen)),
    )
    for i in range(1, count + 1):
        name = net.host_name(prefix, i)
        rdir = st.run_dir(prefix) / name
        state.hosts.append(
            st.HostRecord(
                name=name,
                index=i,
                address=str(net.host_address(chosen, i)),
                netns=name,
                veth=net.veth_name(prefix, i),
                bip=net.docker_bip(i),
                data_root=str(st.state_dir(prefix) / "hosts" / name / "docker"),
                run_dir=str(rdir),
                docker_socket=f"unix://{rdir / 'docker.sock'}",
            )
        )
    return state


def _conflicts(state: st.LabState) -> None:
    if hx.link_exists(state.bridge):
        raise LabError(f"create bridge: an interface named {state.bridge} already exists (not ours)")
    for h in state.hosts:
        if Path(hx.netns_path(h.netns)).exists():
            raise LabError(f"create namespace: {h.netns} already exists (not ours)")
        if hx.link_exists(h.veth):
            raise LabError(f"create veth: an interface named {h.veth} already exists (not ours)")


def _build(state: st.LabState, trust: bool, progress: Progress) -> None:
    _conflicts(state)
    st.save_state(state)  # from here on, teardown knows what may exist
    progress(f"bridge {state.bridge} {state.bridge_address} ({state.subnet})")
    hx.create_bridge(state)
    for rule in hx.bridge_rules(state):
        state.iptables.append(rule)
        st.save_state(state)
        hx.add_iptables_rule(rule)
    paths = sx.SshPaths.for_prefix(state.prefix)
    sx.ensure_client_key(paths, state.prefix)
    for h in state.hosts:
        progress(f"namespace {h.name} {h.address}")
        hx.create_netns(state, h)
        sx.ensure_host_key(paths, h.name)
    for h in state.hosts:  # start every dockerd, then wait: they start in parallel
        h.dockerd = hx.start_dockerd(h)
        st.save_state(state)
    for h in state.hosts:
        cfg = paths.sshd_config(h.name)
        cfg.parent.mkdir(parents=True, exist_ok=True)
        home = paths.session_home(h.name)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        cfg.write_text(
            sx.render_sshd_config(
                address=h.address,
                host_key=str(paths.host_key(h.name)),
                authorized_keys=str(paths.authorized_keys),
                pid_file=str(Path(h.run_dir) / "sshd.pid"),
                docker_host=h.docker_socket,
                home=str(home),
            )
        )
        h.sshd = hx.start_sshd(h, cfg)
        st.save_state(state)
    progress("waiting for dockerd and sshd on every host")
    deadline = time.monotonic() + DOCKERD_TIMEOUT
    for h in state.hosts:
        hx.wait_dockerd(h, deadline)
        hx.wait_sshd(h, deadline)
    pairs = [(h.name, h.address) for h in state.hosts]
    sx.write_client_files(paths, pairs)
    if trust:
        state.trust = st.TrustRecord(known_hosts="", config="", marker=state.prefix)
        st.save_state(state)
        state.trust = sx.trust(paths, state.prefix, pairs)
    state.complete = True
    st.save_state(state)


def _teardown(state: st.LabState) -> None:
    """Remove everything the state says may exist; continue past individual failures and
    report the first one at the end (so one stuck piece doesn't strand the rest)."""
    errors: list[str] = []

    def attempt(fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append(str(exc))

    trust = state.trust
    if trust is not None and trust.config:
        attempt(partial(sx.untrust, trust))
    # Hosts in parallel: most of the time is each dockerd's own shutdown.
    with ThreadPoolExecutor(max_workers=max(1, len(state.hosts))) as pool:
        list(pool.map(lambda h: attempt(lambda: hx.teardown_host(h)), state.hosts))
    for rule in state.iptables:
        attempt(partial(hx.remove_iptables_rule, rule))
    attempt(lambda: hx.remove_bridge(state))
    attempt(lambda: remove_tree(str(st.run_dir(state.prefix))))
    attempt(lambda: remove_tree(str(st.state_dir(state.prefix))))
    if errors:
        raise LabError(f"lab down {state.prefix}: {errors[0]}")


def _cleanup_lock(prefix: str) -> None:
    # The lock file is the last thing of this lab in /run; the root dir goes when empty.
    for p in (st.RUN_ROOT / f"{prefix}.lock",):
        p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        st.RUN_ROOT.rmdir()
    with contextlib.suppress(OSError):
        st.STATE_ROOT.rmdir()
