"""A topology deployed on the lab the way a user deploys it: the file, a lab override file
mapping its hosts onto lab hosts, and the real `xcompose` command line."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import yaml

from xcompose.config.load import load_project
from xcompose.engines.fleet import reach
from xcompose.keystore import Bundle
from xcompose.lab import Lab
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.plan.build import build_plan, host_targets
from xcompose.plan.naming import LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE
from xcompose.plan.steps import Plan
from xcompose.run.hostpki import HostPki

EXECUTORS = ("api", "ssh")


def plan_for_up(files: list[Path]) -> Plan:
    """The plan as `xcompose up` makes it: the project's CA as its hosts keep it (made if
    missing) and the certificates issued while planning kept there for the next run."""
    project = load_project([str(f) for f in files])
    with reach(host_targets(project).values()) as fleet:
        store = HostPki(fleet.executors, project.name, "e2e@lab")
        store.read()
        credentials = store.ensure_ca()
        plan = build_plan(project, credentials)
        store.save(credentials)
    return plan


def credentials_of(files: list[Path]) -> Credentials:
    """The project's credentials as its hosts keep them."""
    project = load_project([str(f) for f in files])
    with reach(host_targets(project).values()) as fleet:
        return HostPki(fleet.executors, project.name, "e2e@lab").credentials()


def rotate_ca(files: list[Path]) -> None:
    """`pki rotate`, in-process."""
    project = load_project([str(f) for f in files])
    with reach(host_targets(project).values()) as fleet:
        store = HostPki(fleet.executors, project.name, "e2e@lab")
        store.read()
        store.replace(Bundle(project.name, CertificateAuthority.new(project.name)))


def plan_of(files: list[Path]) -> Plan:
    """The plan as `down` and `ps` make it: no credentials needed."""
    project = load_project([str(f) for f in files])
    return build_plan(project, Credentials.none(project.name))


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Deployment:
    """One project on the lab; `hosts` maps the topology's host names to lab hosts in order."""

    def __init__(self, lab: Lab, folder: Path, project: str, executor: str) -> None:
        self.lab = lab
        self.folder = folder
        self.project = project
        self.executor = executor
        self.files: list[Path] = []
        self.host_names: list[str] = []
        self.host_settings: dict[str, Any] = {}  # added to every host of the lab override
        self._clients: dict[str, docker.DockerClient] = {}

    def use_compose(self, compose: str, placement: str) -> Deployment:
        """A compose file as `docker compose` reads it, and beside it the placement file
        that names the hosts and pins the services: as a user splits an app over hosts."""
        (self.folder / "compose.yaml").write_text(compose)
        self.use(placement)
        self.files.insert(0, self.folder / "compose.yaml")
        return self

    def use(self, topology: str | Path, host_names: list[str] | None = None) -> Deployment:
        """Deploy this topology (text or an example file) with a lab override beside it."""
        if isinstance(topology, Path):
            source = topology
            data = yaml.safe_load(source.read_text())
        else:
            source = self.folder / "topology.yaml"
            source.write_text(topology)
            data = yaml.safe_load(topology)
        names = host_names or list((data.get("hosts") or {}).keys())
        self.host_names = names
        # "tcp": the API executor over the engine's TCP port; "api": over ssh://.
        override = {
            "hosts": {
                name: {
                    "address": self.lab.hosts[index].address,
                    "docker": self.lab.hosts[index].tcp_url if self.executor == "tcp" else self.lab.hosts[index].ssh_url,
                    "executor": "ssh" if self.executor == "ssh" else "api",
                    **self.host_settings,
                }
                for index, name in enumerate(names)
            }
        }
        override_file = self.folder / "lab.override.yaml"
        override_file.write_text(yaml.safe_dump(override))
        self.files = [source, override_file]
        return self

    def move(self, service: str, host: str) -> None:
        """Edit `host:` of a service in a copy of the topology, as a user would."""
        data = yaml.safe_load(self.files[0].read_text())
        data["services"][service]["host"] = host
        edited = self.folder / "topology.yaml"
        edited.write_text(yaml.safe_dump(data, sort_keys=False))
        self.files[0] = edited

    def argv(self, *args: str) -> list[str]:
        argv = [sys.executable, "-m", "xcompose", "-p", self.project]
        for file in self.files:
            argv += ["-f", str(file)]
        return [*argv, *args]

    def xcompose(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> Outcome:
        """`xcompose ARGS`; `env`: the whole environment (another operator, say)."""
        done = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, check=False, env=env)
        return Outcome(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """`xcompose ARGS` running in the background (stop it with `finish`)."""
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def up(self, *args: str) -> Outcome:
        outcome = self.xcompose("up", "--format", "json", *args)
        assert outcome.code == 0, f"xcompose up failed:\n{outcome.output}"
        return outcome

    def lab_host(self, host: str) -> Any:
        return self.lab.hosts[self.host_names.index(host)]

    def client(self, host: str) -> docker.DockerClient:
        if host not in self._clients:
            self._clients[host] = self.lab.docker_client(self.lab_host(host))
        return self._clients[host]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def containers(self, host: str, role: str | None = None, service: str | None = None) -> list[Any]:
        labels = [f"{LABEL_PROJECT}={self.project}"]
        if role:
            labels.append(f"{LABEL_ROLE}={role}")
        if service:
            labels.append(f"{LABEL_SERVICE}={service}")
        return self.client(host).containers.list(all=True, filters={"label": labels}, ignore_removed=True)

    def container(self, service: str, host: str) -> Any:
        found = self.containers(host, role="service", service=service)
        assert len(found) == 1, f"expected one container of {service} on {host}, got {found}"
        return found[0]

    def exec(self, service: str, host: str, command: str, retry_for: float = 0) -> tuple[int, str]:
        """Run a shell command in the service's container; retry while it fails, for up to
        `retry_for` seconds (a database finishing its start, DNS settling)."""
        container = self.container(service, host)
        deadline = time.monotonic() + retry_for
        while True:
            code, output = container.exec_run(["sh", "-c", command])
            text = output.decode(errors="replace")
            if code == 0 or time.monotonic() >= deadline:
                return code, text
            time.sleep(1)

    def env(self, service: str, host: str) -> dict[str, str]:
        values = self.container(service, host).attrs["Config"]["Env"]
        return dict(item.split("=", 1) for item in values)

    def down(self, *args: str) -> Outcome:
        return self.xcompose("down", *args)

    def leftovers(self) -> list[str]:
        """Containers and networks of the project still on any lab host."""
        found: list[str] = []
        for host in self.host_names:
            client = self.client(host)
            label = {"label": f"{LABEL_PROJECT}={self.project}"}
            found += [f"{c.name}@{host}" for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
            found += [f"network {n.name}@{host}" for n in client.networks.list(filters=label)]
        return found


def quoted(*argv: str) -> str:
    return " ".join(shlex.quote(a) for a in argv)
