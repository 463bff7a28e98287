"""Both executors, three ways to reach an engine (API over the unix socket, API over
ssh://, the docker CLI over ssh), held to the same tests against the lab's real hosts."""

from __future__ import annotations

import dataclasses
import io
import re
import tarfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from xcompose.engines import connect
from xcompose.engines.base import Executor
from xcompose.errors import DockerError, HostError
from xcompose.lab import Lab, LabHost
from xcompose.plan.naming import LABEL_CONFIG_HASH, LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE
from xcompose.plan.specs import (
    ContainerSpec,
    Endpoint,
    HealthSpec,
    HostTarget,
    Mount,
    NetworkSpec,
    PortBinding,
    VolumeSpec,
)

FLAVOURS = ["api-unix", "api-ssh", "ssh-cli"]
SECRET = "pa55 w0rd;$(id)"


def target(flavour: str, host: LabHost) -> HostTarget:
    if flavour == "api-unix":
        return HostTarget(host.name, host.address, host.docker_socket, executor="api")
    return HostTarget(host.name, host.address, host.ssh_url, executor="api" if flavour == "api-ssh" else "ssh")


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def project() -> str:
    return f"xt{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def executor(flavour: str, lab_hosts: list[LabHost], project: str) -> Iterator[Executor]:
    ex = connect(target(flavour, lab_hosts[0]))
    ex.preflight()
    try:
        yield ex
    finally:
        _clean(ex, project)
        ex.close()


def _clean(ex: Executor, project: str) -> None:
    for c in ex.containers(project):
        ex.remove(c.id, force=True, volumes=True)
    for n in ex.networks(project):
        ex.remove_network(n.name)
    for v in ex.volumes(project):
        ex.remove_volume(v.name)


def _labels(project: str, service: str) -> tuple[tuple[str, str], ...]:
    return ((LABEL_PROJECT, project), (LABEL_SERVICE, service), (LABEL_ROLE, "service"))


def _redis(project: str, host: LabHost, name: str = "cache") -> ContainerSpec:
    return ContainerSpec(
        name=f"{project}-{name}",
        image="redis:7",
        networks=(Endpoint(f"{project}_default", (name, "kv")),),
        environment=(("REDIS_SECRET", SECRET), ("MODE", "primary")),
        labels=_labels(project, name),
        expose=((6380, "tcp"),),
        ports=(PortBinding(6379, "tcp", None, host.address),),
        mounts=(Mount("volume", f"{project}_data", "/data"), Mount("tmpfs", None, "/scratch")),
        restart="on-failure:2",
        healthcheck=HealthSpec(("CMD-SHELL", "redis-cli ping | grep -q PONG"), interval_s=0.5, timeout_s=2, retries=20),
        hostname=f"{name}-host",
        cap_drop=("MKNOD",),
    )


def _wait(ex: Executor, cid: str, want: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = ex.inspect(cid)
        if want in (live.state, live.health):
            return
        time.sleep(0.2)
    raise AssertionError(f"{cid} never became {want}: {ex.inspect(cid)}")


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --- the same tests for every flavour -------------------------------------------------------


def test_preflight_gives_a_version(executor: Executor) -> None:
    info = executor.preflight()
    assert re.match(r"\d+\.\d+", info.version) and re.match(r"1\.\d+", info.api_version)
    assert info.latency_ms > 0


@pytest.mark.parametrize("ssh_flavour", [f for f in FLAVOURS if f != "api-unix"])
def test_unknown_host_key_is_refused_with_the_hint(
    ssh_flavour: str, lab: Lab, lab_hosts: list[LabHost], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flavour = ssh_flavour  # a unix socket has no host key to refuse
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = tmp_path / "ssh_config"
    # The lab's own config, but trusting only the empty file.
    config.write_text(
        re.sub(r"UserKnownHostsFile .*", f"UserKnownHostsFile {empty}", lab.ssh_config_path.read_text())
    )
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XCOMPOSE_KNOWN_HOSTS", str(empty))
    monkeypatch.setenv("XCOMPOSE_SSH_CONFIG", str(config))
    host = lab_hosts[0]
    ex = connect(target(flavour, host))
    try:
        with pytest.raises(HostError) as info:
            ex.preflight()
    finally:
        ex.close()
    assert info.value.host == host.name and info.value.url == host.ssh_url
    assert "not known" in info.value.message
    assert f"ssh-keyscan -H {host.address} >> ~/.ssh/known_hosts" in info.value.hint
    assert empty.read_text() == ""


def test_networks_and_volumes_are_idempotent_and_found_by_label(executor: Executor, project: str) -> None:
    labels = ((LABEL_PROJECT, project),)
    net, vol = NetworkSpec(f"{project}_default", labels=labels), VolumeSpec(f"{project}_data", labels=labels)
    for _ in range(2):
        executor.ensure_network(net)
        executor.ensure_volume(vol)
    assert [(n.name, n.labels) for n in executor.networks(project)] == [(net.name, dict(labels))]
    assert [(v.name, v.labels) for v in executor.volumes(project)] == [(vol.name, dict(labels))]
    assert executor.networks("someotherproject") == []
    with pytest.raises(DockerError, match="external"):
        executor.ensure_network(NetworkSpec(f"{project}_nope", external=True))
    for _ in range(2):
        executor.remove_network(net.name)
        executor.remove_volume(vol.name)
    assert executor.networks(project) == [] and executor.volumes(project) == []


def test_container_lifecycle(executor: Executor, project: str, lab_hosts: list[LabHost]) -> None:
    host = lab_hosts[0]
    labels = ((LABEL_PROJECT, project),)
    executor.ensure_network(NetworkSpec(f"{project}_default", labels=labels))
    executor.ensure_volume(VolumeSpec(f"{project}_data", labels=labels))
    spec = _redis(project, host)
    cid = executor.create(spec)
    created = executor.inspect(cid)
    assert created.state == "created" and created.name == spec.name and created.image == "redis:7"
    assert created.labels[LABEL_CONFIG_HASH] == spec.config_hash()
    assert created.image_id == executor.image_id("redis:7")
    executor.start(cid)
    _wait(executor, cid, "healthy")
    live = executor.inspect(cid)
    assert live.state == "running" and live.health == "healthy" and live.exit_code is None
    assert any(p.startswith(f"{host.address}:") and p.endswith("->6379/tcp") for p in live.ports), live.ports
    assert [c.id for c in executor.containers(project)] == [cid]

    code, out = executor.exec(cid, ["redis-cli", "set", "greeting", "hello"])
    assert (code, out.strip()) == (0, "OK")
    code, out = executor.exec(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (code, sorted(out.splitlines())) == (3, ["err", "out"])  # two pipes: any order
    code, env = executor.exec(cid, ["env"])
    assert f"REDIS_SECRET={SECRET}" in env.splitlines() and "MODE=primary" in env.splitlines()

    # A second container on the same network reaches the first by its alias.
    client = ContainerSpec(
        name=f"{project}-client", image="xcompose/tools:latest", networks=(Endpoint(spec.networks[0].network),),
        labels=_labels(project, "client"),
    )
    other = executor.create(client)
    executor.start(other)
    for alias in ("cache", "kv"):
        code, out = executor.exec(other, ["redis-cli", "-h", alias, "get", "greeting"])
        assert (code, out.strip()) == (0, "hello"), out

    # (not into the tmpfs: Docker extracts archives below tmpfs mounts, invisibly)
    executor.put_archive(cid, "/tmp", _tar("note.txt", b"from the test\n"))
    assert executor.exec(cid, ["cat", "/tmp/note.txt"]) == (0, "from the test\n")
    assert any("Ready to accept connections" in line for line in executor.logs(cid))
    assert len(list(executor.logs(cid, tail=1))) == 1
    assert all(not line.endswith("\n") for line in executor.logs(cid))

    executor.rename(cid, f"{spec.name}_old")
    assert executor.inspect(cid).name == f"{spec.name}_old"
    executor.stop(cid, timeout=5)
    stopped = executor.inspect(cid)
    assert stopped.state == "exited" and stopped.exit_code is not None
    executor.remove(cid)
    executor.remove(cid)  # a missing container is not an error
    with pytest.raises(DockerError, match=r"(?i)no such"):
        executor.inspect(cid)
    assert [c.id for c in executor.containers(project)] == [other]


def test_follow_logs_streams_until_closed(executor: Executor, project: str) -> None:
    executor.ensure_network(NetworkSpec(f"{project}_default", labels=((LABEL_PROJECT, project),)))
    spec = ContainerSpec(
        name=f"{project}-ticker", image="xcompose/tools:latest", networks=(Endpoint(f"{project}_default"),),
        command=("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"),
        labels=_labels(project, "ticker"),
    )
    cid = executor.create(spec)
    executor.start(cid)
    stream = executor.logs(cid, follow=True)
    lines = [next(stream) for _ in range(5)]
    stream.close()  # type: ignore[attr-defined]
    assert lines == [f"tick {i}" for i in range(5)]


def test_exec_timeout_gives_124(executor: Executor, project: str) -> None:
    executor.ensure_network(NetworkSpec(f"{project}_default", labels=((LABEL_PROJECT, project),)))
    spec = ContainerSpec(name=f"{project}-sleeper", image="xcompose/tools:latest", networks=(Endpoint(f"{project}_default"),), labels=_labels(project, "sleeper"))
    cid = executor.create(spec)
    executor.start(cid)
    started = time.monotonic()
    assert executor.exec(cid, ["sleep", "30"], timeout=1)[0] == 124
    assert time.monotonic() - started < 10


def test_one_executor_serves_many_threads_at_once(executor: Executor, project: str) -> None:
    executor.ensure_network(NetworkSpec(f"{project}_default", labels=((LABEL_PROJECT, project),)))
    spec = ContainerSpec(name=f"{project}-busy", image="xcompose/tools:latest", networks=(Endpoint(f"{project}_default"),), labels=_labels(project, "busy"))
    cid = executor.create(spec)
    executor.start(cid)

    def work(i: int) -> object:
        """None when the call answered right, else what it answered."""
        if i % 4 == 0:
            ids = [c.id for c in executor.containers(project)]
            return None if ids == [cid] else ("containers", ids)
        if i % 4 == 1:
            return None if executor.image_id("redis:7") is not None else ("image_id", None)
        if i % 4 == 2:
            answer = executor.exec(cid, ["echo", str(i)])
            return None if answer == (0, f"{i}\n") else ("exec", i, answer)
        state = executor.inspect(cid).state
        return None if state == "running" else ("inspect", state)

    with ThreadPoolExecutor(max_workers=8) as pool:
        wrong = [answer for answer in pool.map(work, range(32)) if answer is not None]
    assert wrong == []


def test_images(executor: Executor) -> None:
    assert (executor.image_id("redis:7") or "").startswith("sha256:")
    assert executor.image_id("xcompose/not-there:1") is None
    with pytest.raises(DockerError) as info:
        executor.pull("xcompose/not-there:1")
    message = str(info.value)
    assert message and not message.startswith("Error response from daemon")
    assert re.search(r"(?i)registry|dial|lookup|network|connect|not found|denied", message), message


def test_failures_carry_dockers_message(executor: Executor, project: str) -> None:
    spec = ContainerSpec(name=f"{project}-x", image="redis:7", networks=(Endpoint(f"{project}_missing"),), labels=_labels(project, "x"))
    cid = executor.create(spec)  # the engine checks networks when it starts a container
    with pytest.raises(DockerError, match=r"(?i)network.*not found|no such network"):
        executor.start(cid)


# --- the same container either way ------------------------------------------------------------


def _essentials(data: dict[str, Any], network: str) -> dict[str, Any]:
    """What must be identical, whichever executor created the container."""
    config, host = data["Config"], data["HostConfig"]
    short = data["Id"][:12]
    aliases = data["NetworkSettings"]["Networks"][network].get("Aliases") or []
    labels = {k: v for k, v in (config.get("Labels") or {}).items() if k != LABEL_CONFIG_HASH}
    return {
        "image": config["Image"],
        "argv": (config.get("Entrypoint") or []) + (config.get("Cmd") or []),
        "env": sorted(e for e in config.get("Env") or [] if not e.startswith("PATH=")),
        "labels": labels,
        "exposed": sorted(config.get("ExposedPorts") or {}),
        "health": config.get("Healthcheck"),
        "user": config.get("User"),
        "workdir": config.get("WorkingDir"),
        "hostname": config.get("Hostname"),
        "ports": host.get("PortBindings"),
        "mounts": sorted((m["Type"], m.get("Source") or "", m["Target"], m.get("ReadOnly", False)) for m in host.get("Mounts") or []),
        "restart": host.get("RestartPolicy"),
        "cap_add": sorted(host.get("CapAdd") or []),
        "cap_drop": sorted(host.get("CapDrop") or []),
        "privileged": host.get("Privileged"),
        "network_mode": host.get("NetworkMode"),
        "aliases": sorted(a for a in aliases if a != short),
    }


def test_the_same_spec_gives_the_same_container_with_every_executor(lab: Lab, lab_hosts: list[LabHost]) -> None:
    host = lab_hosts[1]
    project = f"xt{uuid.uuid4().hex[:8]}"
    network = f"{project}_default"
    base = ContainerSpec(
        name="",
        image="redis:7",
        networks=(Endpoint(network, ("db", "database")),),
        entrypoint=("/usr/local/bin/xlab-redis", "redis-server"),
        command=("--port", "6379", "--bind", "0.0.0.0"),
        environment=(("A", "1"), ("SECRET", SECRET), ("SPACED", "  leading and trailing  ")),
        labels=_labels(project, "db"),
        expose=((7000, "tcp"), (7001, "udp")),
        ports=(PortBinding(6379, "tcp", None, host.address), PortBinding(7001, "udp", None, None)),
        mounts=(Mount("volume", f"{project}_data", "/data"), Mount("bind", "/etc", "/host-etc", read_only=True), Mount("tmpfs", None, "/scratch")),
        restart="on-failure:3",
        healthcheck=HealthSpec(("CMD-SHELL", "redis-cli ping"), interval_s=1.5, timeout_s=2, retries=4, start_period_s=0.5),
        user="0:0",
        working_dir="/data",
        hostname="dbhost",
        cap_add=("NET_ADMIN",),
        cap_drop=("MKNOD",),
        privileged=False,
    )
    seen: dict[str, dict[str, Any]] = {}
    docker = lab.docker_client(host)
    executors = {f: connect(target(f, host)) for f in FLAVOURS}
    try:
        for flavour, ex in executors.items():
            ex.preflight()
            ex.ensure_network(NetworkSpec(network, labels=((LABEL_PROJECT, project),)))
            ex.ensure_volume(VolumeSpec(f"{project}_data", labels=((LABEL_PROJECT, project),)))
            spec = dataclasses.replace(base, name=f"{project}-{flavour}")
            cid = ex.create(spec)
            seen[flavour] = _essentials(docker.api.inspect_container(cid), network)
        first = seen["api-unix"]
        assert first["argv"] == ["/usr/local/bin/xlab-redis", "redis-server", "--port", "6379", "--bind", "0.0.0.0"]
        assert f"SECRET={SECRET}" in first["env"] and "SPACED=  leading and trailing  " in first["env"]
        assert first["aliases"] == ["database", "db"]
        assert first["health"]["Interval"] == 1_500_000_000
        for flavour in FLAVOURS[1:]:
            assert seen[flavour] == first, flavour
    finally:
        _clean(executors["api-unix"], project)
        for ex in executors.values():
            ex.close()
        docker.close()
