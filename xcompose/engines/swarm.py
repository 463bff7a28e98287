"""A swarm's manager through docker-py: its nodes, and the project's overlay networks,
secrets, configs and services. It carries out what run/swarm_up.py and run/swarm_down.py
decided; the connection is the manager host's own (engines/dockerapi.py), so its URL,
TLS, SSH and timeouts are those of `hosts:`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from xcompose.engines.dockerapi import ApiExecutor
from xcompose.engines.swarm_args import service_args
from xcompose.errors import DockerError
from xcompose.plan.naming import LABEL_CONFIG_HASH, LABEL_PROJECT
from xcompose.plan.swarm_converge import LABEL_OVERLAY_DIGEST, LiveService, LiveSwarm, overlay_digest
from xcompose.plan.swarm_nodes import LabelChange, NodeFacts, node_facts
from xcompose.plan.swarm_steps import OverlaySpec, SwarmObjectSpec, SwarmServiceSpec


@dataclass(frozen=True)
class SwarmState:
    """What the manager's engine says of its swarm (`docker info`)."""

    node_id: str
    local_state: str  # inactive, pending, active, error, locked
    is_manager: bool


@dataclass(frozen=True)
class TaskFacts:
    """One task of a service, as the manager lists it."""

    id: str
    service: str  # the Swarm service's name
    slot: int | None
    node_id: str
    state: str  # new … running, complete, failed, rejected, shutdown
    desired: str
    message: str  # Status.Err, else Status.Message
    container_id: str | None
    digest: str | None  # of the service spec the task was made from
    force_update: int = 0  # the service's ForceUpdate counter when the task was made


def _message(error: docker.errors.APIError) -> str:
    explanation = error.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or error).strip()


class SwarmManager:
    def __init__(self, executor: ApiExecutor) -> None:
        self.executor = executor
        self.host = executor.target.name

    @property
    def api(self) -> Any:
        # types-docker leaves most Swarm calls untyped: they are read as plain JSON here.
        return self.executor.api

    @contextmanager
    def _call(self, what: str) -> Iterator[None]:
        try:
            yield
        except docker.errors.APIError as error:
            raise DockerError(f"{what}: {_message(error)}", f"the swarm manager {self.host}") from error

    # -- the swarm and its nodes -----------------------------------------------------------

    def state(self) -> SwarmState:
        with self._call("docker info"):
            swarm = self.api.info().get("Swarm") or {}
        return SwarmState(str(swarm.get("NodeID") or ""), str(swarm.get("LocalNodeState") or "inactive"),
                          bool(swarm.get("ControlAvailable")))

    def nodes(self) -> list[NodeFacts]:
        with self._call("list the nodes"):
            return [node_facts(data) for data in self.api.nodes()]

    def relabel(self, change: LabelChange) -> None:
        spec = {**change.node.spec, "Labels": dict(change.labels)}
        with self._call(f"label node {change.node.id[:12]}"):
            self.api.update_node(change.node.id, change.node.version, spec)

    # -- what the project has on the swarm -------------------------------------------------

    def read_live(self, project: str) -> LiveSwarm:
        mine = {"label": f"{LABEL_PROJECT}={project}"}
        with self._call("list the project's services, networks, secrets and configs"):
            services = {s["Spec"]["Name"]: LiveService(
                s["ID"], int(s["Version"]["Index"]), s["Spec"].get("Labels") or {},
                int((s["Spec"].get("TaskTemplate") or {}).get("ForceUpdate") or 0))
                for s in self.api.services(filters=mine)}
            overlays = self.api.networks(filters={**mine, "driver": "overlay"})
            networks = {n["Name"]: n.get("Labels") or {} for n in overlays}
            secrets = {s["Spec"]["Name"]: s["ID"] for s in self.api.secrets(filters=mine)}
            configs = {c["Spec"]["Name"]: c["ID"] for c in self.api.configs(filters=mine)}
        return LiveSwarm(services, networks, secrets, configs)

    def find_objects(self, wanted: set[tuple[str, str]]) -> dict[str, str]:
        """Docker name -> id of these secrets and configs ((kind, name)), whoever made them."""
        found: dict[str, str] = {}
        for kind in sorted({kind for kind, _ in wanted}):
            names = sorted(name for k, name in wanted if k == kind)
            listing = self.api.secrets if kind == "secret" else self.api.configs
            with self._call(f"look up the {kind}s {', '.join(names)}"):
                # The name filter matches prefixes too: only exact names count.
                found.update({o["Spec"]["Name"]: o["ID"] for o in listing(filters={"name": names})
                              if o["Spec"]["Name"] in names})
        return found

    def tasks(self, service: str | None = None, project: str | None = None) -> list[TaskFacts]:
        """The tasks of one Swarm service (by name), or of every service of a project."""
        filters: dict[str, Any] = {}
        if service is not None:
            filters["service"] = service
        names: dict[str, str] = {}
        with self._call("list the tasks"):
            if project is not None:
                names = {s["ID"]: s["Spec"]["Name"]
                         for s in self.api.services(filters={"label": f"{LABEL_PROJECT}={project}"})}
                if not names:
                    return []
            found = self.api.tasks(filters=filters)
        out = []
        for task in found:
            if project is not None and task.get("ServiceID") not in names:
                continue
            status = task.get("Status") or {}
            container = (status.get("ContainerStatus") or {}).get("ContainerID")
            labels = ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Labels") or {}
            out.append(TaskFacts(
                id=task["ID"], service=names.get(task.get("ServiceID", ""), service or ""), slot=task.get("Slot"),
                node_id=task.get("NodeID", ""), state=status.get("State", ""), desired=task.get("DesiredState", ""),
                message=status.get("Err") or status.get("Message") or "", container_id=container,
                digest=labels.get(LABEL_CONFIG_HASH),
                force_update=int((task.get("Spec") or {}).get("ForceUpdate") or 0)))
        return out

    # -- making and removing ---------------------------------------------------------------

    def create_overlay(self, spec: OverlaySpec) -> None:
        options = dict(spec.driver_opts)
        if spec.encrypted:
            options["encrypted"] = ""
        labels = {**dict(spec.labels), LABEL_OVERLAY_DIGEST: overlay_digest(spec)}
        with self._call(f"create network {spec.name}"):
            self.api.create_network(spec.name, driver="overlay", options=options, attachable=True,
                                    internal=spec.internal, labels=labels, check_duplicate=True)

    def create_object(self, spec: SwarmObjectSpec) -> None:
        with self._call(f"create {spec.kind} {spec.name}"):
            if spec.kind == "secret":
                self.api.create_secret(spec.name, spec.data, labels=dict(spec.labels))
            else:
                self.api.create_config(spec.name, spec.data, labels=dict(spec.labels))

    def object_ids(self, project: str) -> dict[str, str]:
        live = self.read_live(project)
        return {**live.secrets, **live.configs}

    def create_service(self, spec: SwarmServiceSpec, project: str, object_ids: dict[str, str]) -> None:
        with self._call(f"create service {spec.name}"):
            self.api.create_service(**service_args(spec, project, object_ids))

    def update_service(self, live: LiveService, spec: SwarmServiceSpec, project: str,
                       object_ids: dict[str, str], force_update: int = 0) -> None:
        args = service_args(spec, project, object_ids)
        args["task_template"]["ForceUpdate"] = force_update
        with self._call(f"update service {spec.name}"):
            self.api.update_service(live.id, live.version, **args)

    def remove_service(self, name: str) -> None:
        with self._call(f"remove service {name}"):
            self.api.remove_service(name)

    def remove_network(self, name: str) -> None:
        with self._call(f"remove network {name}"):
            self.api.remove_network(name)

    def remove_object(self, kind: str, name: str) -> None:
        with self._call(f"remove {kind} {name}"):
            if kind == "secret":
                self.api.remove_secret(name)
            else:
                self.api.remove_config(name)


def _run_once(executor: ApiExecutor, image: str, argv: list[str], timeout_s: float,
              cap_add: list[str] | None = None) -> tuple[int, str] | None:
    """Exit code and output of `argv` run once in a container of `image` (one already on the
    host) with no network of its own but loopback; None when it could not run."""
    api: Any = executor.api
    try:
        api.inspect_image(image)
    except docker.errors.APIError:  # ImageNotFound included
        return None
    container = None
    try:
        # The command is given whole, so that the image's own CMD is not appended to it.
        created = api.create_container(image, entrypoint=argv[:1], command=argv[1:],
                                       host_config=api.create_host_config(network_mode="none", cap_add=cap_add),
                                       labels={"io.xcompose.role": "probe"})
        container = created["Id"]
        api.start(container)
        code = int(api.wait(container, timeout=timeout_s).get("StatusCode", -1))
        output = api.logs(container, stdout=True, stderr=True).decode(errors="replace")
    except (docker.errors.DockerException, requests.exceptions.RequestException, ValueError, OSError):
        return None
    finally:
        if container is not None:
            with suppress(docker.errors.APIError):
                api.remove_container(container, force=True)
    return code, output


def carries_ipvs(executor: ApiExecutor, image: str, timeout_s: float = 15.0) -> bool | None:
    """Whether the host's kernel has IPVS, which Swarm's virtual IPs need: a container of
    `image` (one already on the host) reads /proc/net/ip_vs, which exists in every network
    namespace once the kernel's ip_vs module is in (Docker loads it where it can). None
    when it cannot tell: the image is not there, or has no `cat`."""
    ran = _run_once(executor, image, ["cat", "/proc/net/ip_vs"], timeout_s)
    if ran is None:
        return None
    # cat ran and found no such file (1); 126/127: no cat in the image, so nothing is known.
    return True if ran[0] == 0 else False if ran[0] == 1 else None


# An ESP security association as Docker's encrypted overlays make them (AES-GCM), added in
# the probe container's own network namespace, which is thrown away with it.
_ESP_STATE = ["ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp",
              "spi", "0x100", "reqid", "1", "mode", "transport",
              "aead", "rfc4106(gcm(aes))", "0x" + "00" * 20, "128"]
# What iproute2 says when the kernel has no ESP, or not the cipher Docker uses.
_NO_ESP = ("Requested type not found", "Requested AEAD algorithm not found")


def carries_esp(executor: ApiExecutor, image: str, timeout_s: float = 15.0) -> bool | None:
    """Whether the host's kernel can carry ESP (IPsec), without which an encrypted overlay is
    made and then drops the traffic between nodes: a container of `image` adds an ESP
    state in its own network namespace. None when it cannot tell (no image there, no `ip`
    in it, or an answer other than the kernel's)."""
    ran = _run_once(executor, image, _ESP_STATE, timeout_s, cap_add=["NET_ADMIN"])
    if ran is None:
        return None
    code, output = ran
    if code == 0:
        return True
    return False if any(message in output for message in _NO_ESP) else None
