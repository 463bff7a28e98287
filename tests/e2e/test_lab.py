"""The lab itself: every way of reaching each host's dockerd, cross-host traffic,
images, and a second lab whose teardown leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import docker
import paramiko
import pytest
from click.testing import CliRunner

from xcompose.lab import Lab, LabHost
from xcompose.lab.cli import lab as lab_cli
from xcompose.lab.images import all_tags
from xcompose.lab.state import run_dir, state_dir
from xcompose.lab.sysutil import proc_starttime


def test_dockerd_answers_on_unix_socket(lab: Lab, lab_hosts: list[LabHost]) -> None:
    ids = set()
    for h in lab_hosts:
        client = lab.docker_client(h)
        try:
            assert client.ping()
            assert client.version()["ApiVersion"]
            ids.add(client.info()["ID"])
        finally:
            client.close()
    assert len(ids) == len(lab_hosts), "each host must have its own dockerd"


def test_dockerd_answers_over_ssh_url_with_paramiko(lab: Lab, lab_hosts: list[LabHost]) -> None:
    for h in lab_hosts:
        local = lab.docker_client(h)
        remote = docker.DockerClient(base_url=h.ssh_url, use_ssh_client=False, timeout=60)
        try:
            assert remote.info()["ID"] == local.info()["ID"], f"{h.ssh_url} reached another dockerd"
        finally:
            remote.close()
            local.close()


def test_docker_cli_over_plain_ssh(lab: Lab, lab_hosts: list[LabHost]) -> None:
    for h in lab_hosts:
        ssh = paramiko.SSHClient()
        ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        ssh.load_host_keys(str(lab.known_hosts_path))
        ssh.connect(h.address, username="root", key_filename=str(lab.identity_file),
                    look_for_keys=False, allow_agent=False, timeout=10)
        try:
            _, out, errs = ssh.exec_command("docker version --format json", timeout=30)
            status = out.channel.recv_exit_status()
            assert status == 0, errs.read().decode()
            info = json.loads(out.read())
            assert info["Server"]["Version"]
            _, out, _ = ssh.exec_command("docker info --format '{{.ID}}'", timeout=30)
            local = lab.docker_client(h)
            assert out.read().decode().strip() == local.info()["ID"]
            local.close()
            # Each host's sessions have a home of their own, not this machine's /root.
            _, out, _ = ssh.exec_command("echo $HOME", timeout=30)
            assert out.read().decode().strip().endswith(f"/homes/{h.name}")
        finally:
            ssh.close()


def test_unknown_host_key_is_rejected(lab: Lab, lab_hosts: list[LabHost]) -> None:
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())  # empty known hosts
    with pytest.raises(paramiko.SSHException):
        ssh.connect(lab_hosts[0].address, username="root", key_filename=str(lab.identity_file),
                    look_for_keys=False, allow_agent=False, timeout=10)
    ssh.close()


def test_images_present_on_every_host(lab: Lab, lab_hosts: list[LabHost]) -> None:
    for h in lab_hosts:
        client = lab.docker_client(h)
        try:
            tags = {t for img in client.images.list() for t in img.tags}
        finally:
            client.close()
        missing = set(all_tags()) - tags
        assert not missing, f"{h.name} lacks {sorted(missing)}"


def test_container_on_host2_reaches_port_published_on_host1(lab: Lab, lab_hosts: list[LabHost]) -> None:
    h1, h2 = lab_hosts[0], lab_hosts[1]
    c1, c2 = lab.docker_client(h1), lab.docker_client(h2)
    name = f"e2e-redis-{uuid.uuid4().hex[:6]}"
    server = c1.containers.run("redis:7", name=name, detach=True, ports={"6379/tcp": (h1.address, 6379)})
    try:
        reply = b""
        for _ in range(30):
            reply = c2.containers.run("xcompose/tools:latest", ["redis-cli", "-h", h1.address, "PING"], remove=True)
            if reply.strip() == b"PONG":
                break
            time.sleep(0.5)
        assert reply.strip() == b"PONG"
    finally:
        server.remove(force=True)
        c1.close()
        c2.close()


def test_run_in_uses_the_host_namespace(lab: Lab, lab_hosts: list[LabHost]) -> None:
    out = lab.run_in(lab_hosts[1], ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout.decode()
    assert lab_hosts[1].address in out


def test_cli_status_and_env(lab: Lab, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(lab_cli, ["status", "--name", lab.prefix])
    assert res.exit_code == 0, res.output
    assert lab.hosts[0].name in res.output
    topo = tmp_path / "topo.yml"
    topo.write_text("hosts:\n  db1: {address: 1.2.3.4}\n  web1: {address: 1.2.3.5}\n")
    res = runner.invoke(lab_cli, ["env", "--name", lab.prefix, "--topology", str(topo)])
    assert res.exit_code == 0, res.output
    assert f"docker: ssh://root@{lab.hosts[0].address}" in res.output
    res = runner.invoke(lab_cli, ["env", "--name", lab.prefix, "--shell"])
    assert f"XCOMPOSE_SSH_CONFIG={lab.ssh_config_path}" in res.output
    cfg = lab.ssh_config_path.read_text()
    assert "StrictHostKeyChecking yes" in cfg and str(lab.known_hosts_path) in cfg


def test_second_lab_comes_up_and_leaves_nothing_behind(lab: Lab) -> None:
    prefix = "xctb"
    Lab.teardown(prefix)
    other = Lab.up(hosts=2, prefix=prefix)
    try:
        assert other.subnet != lab.subnet
        procs = {(pid, proc_starttime(pid)) for d in other.processes().values() for pid in d.values()}
        assert len(procs) == 4 and all(start is not None for _, start in procs)
        for h in other.hosts:
            client = other.docker_client(h)
            assert client.ping()
            client.close()
    finally:
        other.down()
    other.down()  # twice is fine
    assert Lab.teardown(prefix) is False
    for h in other.hosts:
        assert not os.path.exists(f"/run/netns/{h.netns}")
    for pid, start in procs:
        assert proc_starttime(pid) != start, f"process {pid} survived lab down"
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"{prefix}br" not in links and f"{prefix}1v" not in links
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert f"xcompose-lab:{prefix}" not in rules
    assert not state_dir(prefix).exists() and not run_dir(prefix).exists()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert f"/{prefix}/" not in mounts and f"/netns/{prefix}" not in mounts
