"""Compose's container options on real engines, through both executors: each key reaches
the container (`docker inspect`), both executors make the same containers, and the
options do what they say where that is cheap to see."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment
from xcompose.lab import Lab


def topology(project: str) -> str:
    """Every option on `app`; `db`, `data` and `peek` share an IPC namespace, volumes and a
    PID namespace with it or each other on the one host they must share."""
    return f"""\
hosts:
  h1: {{}}
  h2: {{}}
services:
  db:
    image: redis:7
    host: h1
    ipc: shareable
    container_name: {project}-the-db
  data:
    image: xcompose/tools:latest
    host: h1
    volumes: ["cache:/data:nocopy"]
  peek:
    image: xcompose/tools:latest
    host: h1
    pid: service:db
  app:
    image: xcompose/tools:latest
    deploy:
      placement: {{constraints: ["node.hostname == h1"]}}
      resources: {{limits: {{cpus: "0.5", pids: 200}}, reservations: {{memory: 32m}}}}
    container_name: {project}-front
    stop_signal: SIGINT
    stop_grace_period: 2500ms
    stdin_open: true
    tty: true
    init: true
    read_only: true
    sysctls: {{net.core.somaxconn: 1024}}
    ulimits: {{nofile: {{soft: 1000, hard: 2000}}, nproc: 4096}}
    shm_size: 64m
    tmpfs: ["/run:size=16m", /tmp]
    extra_hosts: ["db.example=10.1.2.3", "gw:host-gateway"]
    dns: 9.9.9.9
    dns_search: [x.test]
    dns_opt: ["ndots:2"]
    devices: ["/dev/zero:/dev/xzero:rw"]
    security_opt: ["no-new-privileges:true"]
    mem_limit: 256m
    memswap_limit: 512m
    cpu_shares: 512
    cpuset: "0"
    oom_score_adj: 100
    logging: {{driver: json-file, options: {{max-size: 1m, max-file: "2"}}}}
    ipc: service:db
    volumes_from: ["data:ro"]
    platform: linux/amd64
    runtime: runc
    group_add: [123]
    domainname: example.org
    userns_mode: host
    cgroup_parent: /docker
    cgroup: host
    attach: false
    volumes:
      - ./made-by-docker:/made:ro,z
      - {{type: bind, source: ./exists, target: /exists, bind: {{create_host_path: false, propagation: rprivate}}}}
      - {{type: tmpfs, target: /scratch, tmpfs: {{size: 8m, mode: 0o1770}}}}
volumes:
  cache: {{}}
"""


@pytest.fixture(scope="module")
def deployed(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Deployment]]:
    """The topology up on the lab once per executor, each its own project."""
    made: dict[str, Deployment] = {}
    try:
        for executor in EXECUTORS:
            folder = tmp_path_factory.mktemp(f"options-{executor}")
            (folder / "exists").mkdir()
            project = f"opts-{executor}"
            made[executor] = Deployment(lab, folder, project, executor).use(topology(project))
            made[executor].up()
        yield made
    finally:
        for deployment in made.values():
            deployment.down("--volumes", "--remove-orphans")
            deployment.close()


def inspect(app: Deployment, service: str) -> dict[str, Any]:
    data: dict[str, Any] = app.container(service, "h1").attrs
    return data


@pytest.mark.parametrize("executor", EXECUTORS)
def test_every_option_reaches_the_container(deployed: dict[str, Deployment], executor: str) -> None:
    app = deployed[executor]
    data = inspect(app, "app")
    config, host = data["Config"], data["HostConfig"]
    assert data["Name"] == f"/{app.project}-front"
    assert (config["StopSignal"], config["StopTimeout"]) == ("SIGINT", 3)  # 2.5 s, rounded up
    assert (config["OpenStdin"], config["Tty"], config["Domainname"]) == (True, True, "example.org")
    assert (host["Init"], host["ReadonlyRootfs"]) == (True, True)
    assert host["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert sorted((u["Name"], u["Soft"], u["Hard"]) for u in host["Ulimits"]) == [
        ("nofile", 1000, 2000), ("nproc", 4096, 4096)]
    assert (host["ShmSize"], host["Tmpfs"]) == (64 * 2**20, {"/run": "size=16m", "/tmp": ""})
    assert host["ExtraHosts"] == ["db.example:10.1.2.3", "gw:host-gateway"]
    assert (host["Dns"], host["DnsSearch"], host["DnsOptions"]) == (["9.9.9.9"], ["x.test"], ["ndots:2"])
    assert host["Devices"] == [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/xzero", "CgroupPermissions": "rw"}]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert (host["Memory"], host["MemorySwap"], host["MemoryReservation"]) == (256 * 2**20, 512 * 2**20, 32 * 2**20)
    assert (host["NanoCpus"], host["PidsLimit"]) == (500_000_000, 200)  # from deploy.resources
    assert (host["CpuShares"], host["CpusetCpus"], host["OomScoreAdj"]) == (512, "0", 100)
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}
    db = inspect(app, "db")
    assert host["IpcMode"] == f"container:{db['Id']}"  # Docker keeps the id of the container named
    assert host["VolumesFrom"] == [f"{app.project}-data:ro"]
    assert (host["Runtime"], host["GroupAdd"], host["UsernsMode"], host["CgroupParent"], host["CgroupnsMode"]) == (
        "runc", ["123"], "host", "/docker", "host")
    assert data["Platform"] == "linux"
    assert host["Binds"] == [f"{app.folder}/made-by-docker:/made:ro,z"]
    exists, scratch = sorted(host["Mounts"], key=lambda m: m["Target"])
    assert (exists["Type"], exists["BindOptions"]) == ("bind", {"Propagation": "rprivate"})
    assert (scratch["Type"], scratch["TmpfsOptions"]) == ("tmpfs", {"SizeBytes": 8 * 2**20, "Mode": 0o1770})
    assert inspect(app, "data")["HostConfig"]["Mounts"][0]["VolumeOptions"]["NoCopy"] is True
    assert inspect(app, "peek")["HostConfig"]["PidMode"] == f"container:{db['Id']}"
    assert db["HostConfig"]["IpcMode"] == "shareable"


def _same_shape(app: Deployment, service: str) -> dict[str, Any]:
    """What must not depend on the executor: Config and HostConfig without what names the
    project, its folder or the instance (ids, hostname, labels with the config hash). An
    empty list or mapping and null are the same to Docker (the CLI sends one, docker-py the
    other)."""
    data = inspect(app, service)
    config = {k: v for k, v in data["Config"].items() if k not in ("Hostname", "Labels")}
    text = json.dumps({"Config": config, "HostConfig": data["HostConfig"], "Platform": data["Platform"],
                       "Name": data["Name"]}, sort_keys=True)
    for other in ("db", "data", "peek", "app"):
        text = text.replace(inspect(app, other)["Id"], other.upper())
    text = text.replace(str(app.folder), "FOLDER").replace(app.project, "PROJECT")
    found: dict[str, Any] = _without_empties(json.loads(text))
    return found


def _without_empties(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _without_empties(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_without_empties(v) for v in value]
    return value


def test_both_executors_make_the_same_containers(deployed: dict[str, Deployment]) -> None:
    first, this = (deployed[executor] for executor in EXECUTORS)
    for service in ("app", "db", "data", "peek"):
        want, got = _same_shape(first, service), _same_shape(this, service)
        differ = {(part, key): (want[part].get(key), got[part].get(key))
                  for part in ("Config", "HostConfig") for key in want[part].keys() | got[part].keys()
                  if want[part].get(key) != got[part].get(key)}
        assert differ == {} and want == got, (service, differ)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_options_take_effect(deployed: dict[str, Deployment], executor: str) -> None:
    app = deployed[executor]

    def run(command: str) -> str:
        code, out = app.exec("app", "h1", command)
        assert code == 0, f"{command}: {out}"
        return out

    assert "Read-only file system" in app.exec("app", "h1", "touch /not-here")[1]
    assert run("cat /proc/1/comm").strip() in ("docker-init", "tini")
    mounts = run("cat /proc/mounts")
    assert re.search(r"^tmpfs /run tmpfs .*size=16384k", mounts, re.M), mounts
    assert re.search(r"^tmpfs /scratch tmpfs .*size=8192k,mode=1770", mounts, re.M), mounts
    assert re.search(r"^\S+ /made \S+ ro,", mounts, re.M), mounts
    assert (app.folder / "made-by-docker").is_dir()  # created by Docker, as Compose's short syntax does
    hosts = run("cat /etc/hosts")
    assert re.search(r"^10\.1\.2\.3\s+db\.example$", hosts, re.M) and re.search(r"\sgw$", hosts, re.M), hosts
    assert run("cat /proc/sys/net/core/somaxconn").strip() == "1024"
    # as PID 1 got them (what an exec'd shell reports varied from run to run)
    assert re.search(r"^Max open files\s+1000\s+2000\s", run("cat /proc/1/limits"), re.M)
    assert "123" in run("id -G").split()
    resolv = run("cat /etc/resolv.conf")
    assert "search x.test" in resolv and "ndots:2" in resolv, resolv
    assert run("test -c /dev/xzero && echo device").strip() == "device"
    assert run("cat /sys/fs/cgroup/memory/memory.limit_in_bytes").strip() == str(256 * 2**20)
    assert "Read-only file system" in app.exec("app", "h1", "touch /data/x")[1]  # volumes_from data:ro
    ipc = {service: app.exec(service, "h1", "readlink /proc/self/ns/ipc")[1] for service in ("app", "db")}
    assert ipc["app"] == ipc["db"], ipc
    assert "redis-server" in app.exec("peek", "h1", "ps -e -o comm")[1]  # pid: service:db


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_second_up_keeps_every_container(deployed: dict[str, Deployment], executor: str) -> None:
    outcome = deployed[executor].xcompose("plan", "--format", "json")
    assert outcome.code == 0, outcome.output
    changed = [s["id"] for s in json.loads(outcome.stdout)["steps"] if s["action"] != "keep"]
    assert changed == []


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_mac_address_reaches_the_container_or_the_cli_says_why(deploy: Any, executor: str) -> None:
    """The docker CLI 25+ sets a MAC address per network, which engines before API 1.44
    refuse: through the ssh executor the step fails with Docker's own words there."""
    app = deploy(f"opts-mac-{executor}", executor).use(
        "services:\n  app:\n    image: xcompose/tools:latest\n    mac_address: 02:42:ac:11:00:99\n", ["h1"])
    outcome = app.xcompose("up")
    if outcome.code == 0:
        assert inspect(app, "app")["Config"]["MacAddress"] == "02:42:ac:11:00:99"
        assert "02:42:ac:11:00:99" in app.exec("app", "h1", "cat /sys/class/net/eth0/address")[1]
    else:
        assert executor == "ssh" and "requires API version 1.44" in outcome.output, outcome.output
