"""Pure parts of the lab (no root, no Docker): naming, addresses, hashing, rendering."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest
import yaml

from xcompose.lab import net, ssh
from xcompose.lab.errors import LabError, LabUsageError
from xcompose.lab.images import (
    SCRIPTS_DIR,
    _deb822_entries,
    all_tags,
    apt_mirrors,
    recipe_hash,
)
from xcompose.lab.render import render_override, render_shell_env, topology_host_names

N = ipaddress.IPv4Network


def test_prefix_validation() -> None:
    assert net.validate_prefix("xlab") == "xlab"
    for bad in ("", "1lab", "x-lab", "Xlab", "abcdefghi"):
        with pytest.raises(LabUsageError):
            net.validate_prefix(bad)


def test_interface_names_fit_the_kernel_limit() -> None:
    prefix = "abcdefgh"
    assert len(net.veth_name(prefix, net.MAX_HOSTS)) <= 15
    assert len(net.bridge_name(prefix)) <= 15


def test_addresses_and_bips() -> None:
    subnet = N("10.251.7.0/24")
    assert str(net.bridge_address(subnet)) == "10.251.7.1"
    assert [str(net.host_address(subnet, i)) for i in (1, 2, 3)] == ["10.251.7.11", "10.251.7.12", "10.251.7.13"]
    bips = {net.docker_bip(i) for i in range(1, net.MAX_HOSTS + 1)}
    assert len(bips) == net.MAX_HOSTS
    nets = [N(b, strict=False) for b in bips]
    assert not any(a.overlaps(b) for a in nets for b in nets if a != b)
    assert not any(n.overlaps(net.LAB_POOL) for n in nets)


def test_pick_subnet_is_deterministic_and_avoids_used_routes() -> None:
    first = net.pick_subnet("xlab", [])
    assert first == net.pick_subnet("xlab", []) and first.subnet_of(net.LAB_POOL)
    assert net.pick_subnet("xlab", [N("0.0.0.0/0")]) == first  # default route is no clash
    second = net.pick_subnet("xlab", [first])
    assert second != first and not second.overlaps(first)
    assert not net.pick_subnet("xlab", [N("10.251.0.0/17")]).overlaps(N("10.251.0.0/17"))
    with pytest.raises(LabUsageError):
        net.pick_subnet("xlab", [net.LAB_POOL])


def test_requested_subnet_is_checked() -> None:
    assert net.pick_subnet("x", [], "192.168.77.0/24") == N("192.168.77.0/24")
    with pytest.raises(LabUsageError, match="clashes"):
        net.pick_subnet("x", [N("192.168.0.0/16")], "192.168.77.0/24")
    with pytest.raises(LabUsageError):
        net.pick_subnet("x", [], "not-a-net")


def test_recipe_hash_is_stable_and_sensitive(tmp_path: Path) -> None:
    mirrors = ["deb http://deb.debian.org/debian bookworm main"]
    h = recipe_hash(mirrors)
    assert h == recipe_hash(list(mirrors)) and len(h) == 16
    assert recipe_hash(["deb http://mirror.example/debian bookworm main"]) != h
    scripts = tmp_path / "rootfs"
    shutil.copytree(SCRIPTS_DIR, scripts)
    assert recipe_hash(mirrors, scripts) == h
    (scripts / "xlab-redis").write_text("#!/bin/sh\nexec \"$@\"\n")
    assert recipe_hash(mirrors, scripts) != h


def test_image_tags_are_the_documented_ones() -> None:
    assert set(all_tags()) == {
        "alpine/socat:latest", "haproxy:2.6", "redis:7", "mysql:8", "postgres:16", "wordpress:6",
        "tirtool/oracle11g:latest", "xcompose/tools:latest", "debian:bookworm", "xcompose/iptables:latest",
    }


def test_apt_mirrors_from_deb822_and_legacy(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(
        "Types: deb\n# comment\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb-src\nURIs: http://src.example\nSuites: bookworm\nComponents: main\n"
    )
    (tmp_path / "sources.list").write_text("deb http://deb.debian.org/debian bookworm main  # x\ndeb http://x/ trixie main\n")
    assert apt_mirrors(tmp_path) == [
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
    ]
    assert _deb822_entries("Types: deb\nEnabled: no\nURIs: u\nSuites: s\n") == []
    assert apt_mirrors(tmp_path / "nowhere") == ["deb http://deb.debian.org/debian bookworm main"]


def test_override_rendering_maps_topology_hosts_in_order() -> None:
    lab_hosts = [("xlab1", "10.251.7.11"), ("xlab2", "10.251.7.12"), ("xlab3", "10.251.7.13")]
    doc = yaml.safe_load(render_override(lab_hosts, ["db1", "web1"]))
    assert list(doc["hosts"]) == ["db1", "web1"]
    assert doc["hosts"]["web1"] == {"address": "10.251.7.12", "docker": "ssh://root@10.251.7.12"}
    as_is = yaml.safe_load(render_override(lab_hosts))
    assert list(as_is["hosts"]) == ["xlab1", "xlab2", "xlab3"]
    with pytest.raises(LabError, match="only 3"):
        render_override(lab_hosts, ["a", "b", "c", "d"])


def test_topology_host_names(tmp_path: Path) -> None:
    f = tmp_path / "t.yml"
    f.write_text("name: shop\nhosts:\n  web1: {address: a}\n  db1: {address: b}\nservices: {}\n")
    assert topology_host_names(f) == ["web1", "db1"]
    f.write_text("services: {}\n")
    with pytest.raises(LabUsageError):
        topology_host_names(f)
    with pytest.raises(LabUsageError):
        topology_host_names(tmp_path / "missing.yml")


def test_ssh_config_and_trust_block() -> None:
    cfg = ssh.render_ssh_config("/k/id", "/k/known_hosts", [("xlab1", "10.0.0.11")])
    assert "Host xlab1 10.0.0.11" in cfg and "StrictHostKeyChecking yes" in cfg
    assert "IdentityFile /k/id" in cfg and "UserKnownHostsFile /k/known_hosts" in cfg
    text = "Host a\n# BEGIN xcompose-lab xlab\nHost b\n# END xcompose-lab xlab\nHost c\n"
    assert ssh.strip_block(text, "xlab") == "Host a\nHost c\n"
    assert ssh.strip_block(text, "other") == text
    sshd = ssh.render_sshd_config(address="10.0.0.11", host_key="/h", authorized_keys="/a",
                                  pid_file="/p", docker_host="unix:///s.sock", home="/lab/homes/xlab1")
    assert "SetEnv DOCKER_HOST=unix:///s.sock HOME=/lab/homes/xlab1" in sshd and "ListenAddress 10.0.0.11" in sshd


def test_shell_env_is_quoted() -> None:
    assert render_shell_env({"A": "x y"}) == "export A='x y'\n"
