"""SSH material of a lab: its client key, the hosts' host keys, known_hosts, ssh config,
sshd configs, and the optional `--trust` edit of the user's ~/.ssh.

Two consumers read these files differently:
- OpenSSH and xcompose's SSH executor take explicit paths (XCOMPOSE_SSH_CONFIG,
  XCOMPOSE_KNOWN_HOSTS), so the lab's own files suffice;
- docker-py's paramiko transport only reads ~/.ssh/config and ~/.ssh/known_hosts (of
  $HOME). For it the lab also writes a home directory (`home/.ssh/...`): point HOME at it
  (the test fixture does), or use `lab up --trust` to add the entries to the real ~/.ssh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .state import TrustRecord, state_dir
from .sysutil import run


@dataclass(frozen=True)
class SshPaths:
    root: Path

    @classmethod
    def for_prefix(cls, prefix: str) -> SshPaths:
        return cls(state_dir(prefix) / "ssh")

    @property
    def identity_file(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def host_key(self, host: str) -> Path:
        return self.root / "hostkeys" / f"{host}_ed25519"

    def sshd_config(self, host: str) -> Path:
        return self.root / "sshd" / f"{host}.conf"

    def session_home(self, host: str) -> Path:
        """HOME of the host's SSH sessions (see render_sshd_config)."""
        return self.root / "homes" / host


def _keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        "generate ssh key",
    )


def ensure_client_key(paths: SshPaths, prefix: str) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.root, 0o700)
    _keygen(paths.identity_file, f"xcompose-lab-{prefix}")
    pub = paths.identity_file.with_suffix(".pub").read_text().strip()
    paths.authorized_keys.write_text(pub + "\n")
    os.chmod(paths.authorized_keys, 0o600)


def ensure_host_key(paths: SshPaths, host: str) -> None:
    _keygen(paths.host_key(host), f"xcompose-lab-host-{host}")


def known_hosts_lines(paths: SshPaths, hosts: list[tuple[str, str]]) -> list[str]:
    """One line per host: `ADDR keytype base64` from its host key (no network scan)."""
    lines: list[str] = []
    for name, addr in hosts:
        keytype, b64 = paths.host_key(name).with_suffix(".pub").read_text().split()[:2]
        lines.append(f"{addr} {keytype} {b64}")
    return lines


def render_ssh_config(identity_file: str, known_hosts: str, hosts: list[tuple[str, str]]) -> str:
    """ssh_config for the lab: per host, by name and by address, strict host key checking
    against the lab's known_hosts and the lab key only."""
    out: list[str] = []
    for name, addr in hosts:
        out += [
            f"Host {name} {addr}",
            f"    HostName {addr}",
            "    User root",
            f"    IdentityFile {identity_file}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {known_hosts}",
            "    StrictHostKeyChecking yes",
            "",
        ]
    return "\n".join(out)


def render_sshd_config(
    *, address: str, host_key: str, authorized_keys: str, pid_file: str, docker_host: str, home: str
) -> str:
    # UsePAM no: PAM sessions would pull in the machine's login setup; the lab only needs
    # key logins for root. SetEnv points the session's docker CLI (`docker system
    # dial-stdio`, run by docker-py over ssh) at this host's own dockerd, and gives the
    # sessions a HOME of the lab host's own: Debian's bash reads ~/.bashrc for every command
    # run over SSH, and this machine's root may keep a slow one (a `pyenv init` there cost
    # each command 110 ms) that no real host of the lab's user would run.
    return "\n".join(
        [
            f"ListenAddress {address}",
            "Port 22",
            f"HostKey {host_key}",
            f"PidFile {pid_file}",
            f"AuthorizedKeysFile {authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "X11Forwarding no",
            "PrintMotd no",
            "MaxStartups 100:30:200",
            "MaxSessions 100",
            f"SetEnv DOCKER_HOST={docker_host} HOME={home}",
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
            "",
        ]
    )


def write_client_files(paths: SshPaths, hosts: list[tuple[str, str]]) -> None:
    kh = "\n".join(known_hosts_lines(paths, hosts)) + "\n"
    paths.known_hosts.write_text(kh)
    paths.config.write_text(
        render_ssh_config(str(paths.identity_file), str(paths.known_hosts), hosts)
    )
    # The home used by paramiko (docker-py): the same entries at ~/.ssh of that home.
    dot = paths.home / ".ssh"
    dot.mkdir(parents=True, exist_ok=True)
    os.chmod(dot, 0o700)
    (dot / "known_hosts").write_text(kh)
    (dot / "config").write_text(
        render_ssh_config(str(paths.identity_file), str(dot / "known_hosts"), hosts)
    )


# --- --trust: the user's own ~/.ssh ------------------------------------------------------


def _markers(prefix: str) -> tuple[str, str]:
    return f"# BEGIN xcompose-lab {prefix}", f"# END xcompose-lab {prefix}"


def strip_block(text: str, prefix: str) -> str:
    begin, end = _markers(prefix)
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line.strip() == begin:
            skipping = True
            continue
        if skipping and line.strip() == end:
            skipping = False
            continue
        if not skipping:
            out.append(line)
    return "".join(out)


def trust(paths: SshPaths, prefix: str, hosts: list[tuple[str, str]]) -> TrustRecord:
    """Add the lab's host keys and Host blocks to ~/.ssh between marker lines.

    The config block goes at the *top* of ~/.ssh/config: both OpenSSH and paramiko take
    the first value they find, so a later `Host *` of the user cannot override ours.
    paramiko ignores `Include`, hence full Host blocks rather than an Include line.
    """
    begin, end = _markers(prefix)
    dot = Path.home() / ".ssh"
    dot.mkdir(mode=0o700, exist_ok=True)
    kh_path, cfg_path = dot / "known_hosts", dot / "config"
    kh_old = strip_block(kh_path.read_text(), prefix) if kh_path.exists() else ""
    if kh_old and not kh_old.endswith("\n"):
        kh_old += "\n"
    kh_block = "\n".join([begin, *known_hosts_lines(paths, hosts), end]) + "\n"
    kh_path.write_text(kh_old + kh_block)
    cfg_old = strip_block(cfg_path.read_text(), prefix) if cfg_path.exists() else ""
    cfg_body = render_ssh_config(str(paths.identity_file), str(kh_path), hosts)
    cfg_path.write_text("\n".join([begin, cfg_body, end]) + "\n" + cfg_old)
    os.chmod(cfg_path, 0o600)
    return TrustRecord(known_hosts=str(kh_path), config=str(cfg_path), marker=prefix)


def untrust(rec: TrustRecord) -> None:
    for path in (Path(rec.known_hosts), Path(rec.config)):
        if path.exists():
            path.write_text(strip_block(path.read_text(), rec.marker))
