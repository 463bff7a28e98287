"""The docker CLI's command lines for a container spec: what runs, how it is quoted, and
that environment values never appear on a command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from xcompose.engines.dockercli import (
    connect_argvs,
    create_argv,
    create_network_argv,
    env_file,
    exec_flags,
    go_duration,
    parse_project_objects,
    project_objects_script,
    publish_arg,
)
from xcompose.errors import DockerError
from xcompose.plan.naming import LABEL_CONFIG_HASH, LABEL_PROJECT
from xcompose.plan.specs import (
    ContainerSpec,
    Device,
    Endpoint,
    ExecOptions,
    HealthSpec,
    Mount,
    NetworkSpec,
    PortBinding,
    Ulimit,
)

SECRET = "s3cr3t value; $(rm -rf /) 'quoted'"

RICH = ContainerSpec(
    name="shop-db",
    image="redis:7",
    networks=(Endpoint("shop_default", ("db", "database")),),
    command=("redis-server", "--appendonly", "yes"),
    entrypoint=("docker-entrypoint.sh", "--verbose"),
    environment=(("REDIS_PASSWORD", SECRET), ("MODE", "primary")),
    labels=((LABEL_PROJECT, "shop"), ("io.xcompose.service", "db"), ("note", "a b")),
    expose=((6379, "tcp"), (6380, "udp")),
    ports=(
        PortBinding(6379, "tcp", 16379, "10.0.0.1"),
        PortBinding(6380, "udp", None, None),
        PortBinding(6381, "tcp", None, "::1"),
        PortBinding(6382, "tcp", 6382, None),
    ),
    mounts=(
        Mount("volume", "shop_data", "/data", no_copy=True),
        Mount("bind", "/srv/conf,v2", "/etc/redis", read_only=True, create_host_path=False, propagation="rslave"),
        Mount("tmpfs", None, "/run/cache", tmpfs_size=16 * 2**20, tmpfs_mode=0o1777),
        Mount("bind", "/srv/logs", "/logs", selinux="z"),
        Mount("volume", "shop_certs", "/certs", read_only=True, selinux="Z"),
    ),
    restart="on-failure:3",
    healthcheck=HealthSpec(("CMD", "redis-cli", "ping"), interval_s=1.5, timeout_s=2, retries=5, start_period_s=0.25),
    user="redis:redis",
    working_dir="/data",
    hostname="db-host",
    cap_add=("NET_ADMIN",),
    cap_drop=("MKNOD",),
    privileged=True,
)


def test_create_argv_for_a_rich_spec() -> None:
    digest = RICH.config_hash()
    assert create_argv(RICH) == [
        "container", "create", "--pull", "never", "--name", "shop-db",
        "--label", "io.xcompose.project=shop",
        "--label", "io.xcompose.service=db",
        "--label", "note=a b",
        "--label", f"{LABEL_CONFIG_HASH}={digest}",
        "--network", "shop_default",
        "--network-alias", "db",
        "--network-alias", "database",
        "--env-file", "/dev/stdin",
        "--expose", "6379/tcp",
        "--expose", "6380/udp",
        "--publish", "10.0.0.1:16379:6379/tcp",
        "--publish", "6380/udp",
        "--publish", "[::1]::6381/tcp",
        "--publish", "6382:6382/tcp",
        "--mount", "type=volume,source=shop_data,target=/data,volume-nocopy",
        "--mount", 'type=bind,"source=/srv/conf,v2",target=/etc/redis,readonly,bind-propagation=rslave',
        "--mount", "type=tmpfs,target=/run/cache,tmpfs-size=16777216,tmpfs-mode=1777",
        "--volume", "/srv/logs:/logs:z",
        "--volume", "shop_certs:/certs:ro,Z",
        "--restart", "on-failure:3",
        "--health-cmd", "redis-cli ping",
        "--health-interval", "1500ms",
        "--health-timeout", "2s",
        "--health-retries", "5",
        "--health-start-period", "250ms",
        "--user", "redis:redis",
        "--workdir", "/data",
        "--hostname", "db-host",
        "--cap-add", "NET_ADMIN",
        "--cap-drop", "MKNOD",
        "--privileged",
        "--entrypoint", "docker-entrypoint.sh",
        "redis:7", "--verbose", "redis-server", "--appendonly", "yes",
    ]


OPTIONS = ContainerSpec(
    name="shop-web", image="nginx", networks=(Endpoint("shop_default"),),
    stop_signal="SIGQUIT", stop_timeout=30, stdin_open=True, tty=True, init=True, read_only=True,
    sysctls=(("net.core.somaxconn", "1024"),), ulimits=(Ulimit("nofile", 1024, 2048),), shm_size=67108864,
    tmpfs=(("/run", "size=16m,mode=1777"), ("/tmp", "")), extra_hosts=("db:10.0.0.5", "gw:host-gateway"),
    dns=("9.9.9.9",), dns_search=("x.test",), dns_opt=("ndots:2",), devices=(Device("/dev/zero", "/dev/xzero", "r"),),
    security_opt=("no-new-privileges:true",), mem_limit=67108864, memswap_limit=-1, mem_reservation=33554432,
    nano_cpus=1_500_000_000, cpu_shares=512, cpuset="0-1", pids_limit=100, oom_score_adj=-10,
    log_driver="json-file", log_options=(("max-size", "5m"),), pid="host", ipc="container:shop-db",
    volumes_from=("shop-data:ro",), platform="linux/amd64", runtime="runc", group_add=("123",),
    domainname="example.org", mac_address="02:42:ac:11:00:99", userns_mode="host", cgroup_parent="/xc",
    cgroupns="host",
)


def test_create_argv_for_the_container_options() -> None:
    argv = create_argv(OPTIONS)
    start, end = argv.index("--stop-signal"), argv.index("nginx")
    assert argv[start:end] == [
        "--stop-signal", "SIGQUIT", "--stop-timeout", "30", "--shm-size", "67108864",
        "--memory", "67108864", "--memory-swap", "-1", "--memory-reservation", "33554432",
        "--cpus", "1.5", "--cpu-shares", "512", "--cpuset-cpus", "0-1", "--pids-limit", "100",
        "--oom-score-adj", "-10", "--log-driver", "json-file", "--pid", "host", "--ipc", "container:shop-db",
        "--platform", "linux/amd64", "--runtime", "runc", "--domainname", "example.org",
        "--mac-address", "02:42:ac:11:00:99", "--userns", "host", "--cgroup-parent", "/xc",
        "--cgroupns", "host", "--sysctl", "net.core.somaxconn=1024", "--ulimit", "nofile=1024:2048",
        "--tmpfs", "/run:size=16m,mode=1777", "--tmpfs", "/tmp",
        "--add-host", "db:10.0.0.5", "--add-host", "gw:host-gateway", "--dns", "9.9.9.9", "--dns-search", "x.test",
        "--dns-option", "ndots:2", "--device", "/dev/zero:/dev/xzero:r", "--security-opt", "no-new-privileges:true",
        "--log-opt", "max-size=5m", "--volumes-from", "shop-data:ro", "--group-add", "123",
        "--interactive", "--tty", "--read-only", "--init",
    ]


@pytest.mark.parametrize(("nano", "text"), [(1_500_000_000, "1.5"), (2_000_000_000, "2"), (1, "0.000000001"),
                                            (250_000_000, "0.25")])
def test_cpus_are_written_as_the_exact_decimal(nano: int, text: str) -> None:
    argv = create_argv(ContainerSpec(name="a", image="i", nano_cpus=nano))
    assert argv[argv.index("--cpus") + 1] == text


def test_init_false_is_said_and_an_unset_option_has_no_flag() -> None:
    assert "--init=false" in create_argv(ContainerSpec(name="a", image="i", init=False))
    plain = create_argv(ContainerSpec(name="a", image="i"))
    assert not any(word.startswith(("--init", "--stop", "--memory", "--tty", "--interactive")) for word in plain)


def test_minimal_spec_has_no_optional_flags() -> None:
    spec = ContainerSpec(name="a", image="alpine/socat:latest", networks=(Endpoint("n"),))
    argv = create_argv(spec)
    assert argv[-1] == "alpine/socat:latest"
    assert "--env-file" not in argv and "--entrypoint" not in argv
    assert env_file(spec) is None


def test_entrypoint_reset_and_healthcheck_forms() -> None:
    spec = ContainerSpec(
        name="a", image="i", networks=(Endpoint("n"),), entrypoint=(), command=(),
        healthcheck=HealthSpec(("CMD-SHELL", "nc -z localhost 80 || exit 1")),
    )
    argv = create_argv(spec)
    assert argv[argv.index("--entrypoint") + 1] == ""
    assert argv[argv.index("--health-cmd") + 1] == "nc -z localhost 80 || exit 1"
    assert "--health-start-period" not in argv
    off = ContainerSpec(name="a", image="i", networks=(Endpoint("n"),), healthcheck=HealthSpec(("NONE",)))
    assert "--no-healthcheck" in create_argv(off) and "--health-cmd" not in create_argv(off)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (1.5, "1500ms"), (0.001, "1ms"), (2.0000005, "2000000500ns"), (0, "0s")],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("10.0.0.1", 80, 8080, "tcp"), "10.0.0.1:80:8080/tcp"),
        (("10.0.0.1", None, 8080, "tcp"), "10.0.0.1::8080/tcp"),
        ((None, 80, 8080, "udp"), "80:8080/udp"),
        ((None, None, 8080, "tcp"), "8080/tcp"),
        (("fd00::1", 80, 80, "tcp"), "[fd00::1]:80:80/tcp"),
        ((None, "6005-6015", 80, "tcp"), "6005-6015:80/tcp"),
    ],
)
def test_publish_arg(args: tuple, text: str) -> None:
    assert publish_arg(*args) == text


def test_environment_goes_to_stdin_as_env_file() -> None:
    assert env_file(RICH) == f"REDIS_PASSWORD={SECRET}\nMODE=primary\n".encode()


def test_env_value_with_line_break_is_refused_without_showing_it() -> None:
    spec = ContainerSpec(name="a", image="i", networks=(Endpoint("n"),), environment=(("KEY", "line1\nhidden"),))
    with pytest.raises(DockerError) as info:
        env_file(spec)
    assert "KEY" in str(info.value) and "hidden" not in str(info.value)




def test_a_network_with_its_own_address_plan_and_a_second_network_to_join() -> None:
    spec = NetworkSpec("shop_back", internal=True, ipam_pools=((("gateway", "172.30.0.1"), ("subnet", "172.30.0.0/24"),
                                                              ("dbhost", "172.30.0.5")),))
    assert create_network_argv(spec) == ["network", "create", "--internal", "--gateway", "172.30.0.1", "--subnet",
                                         "172.30.0.0/24", "--aux-address", "dbhost=172.30.0.5", "shop_back"]
    two = ContainerSpec(name="a", image="i", networks=(Endpoint("front", ("a",)),
                                                       Endpoint("back", ("a", "api"), ("db:store",), "172.30.0.9")))
    assert create_argv(two)[6:12] == ["--label", create_argv(two)[7], "--network", "front", "--network-alias", "a"]
    assert connect_argvs(two, "c1") == [["network", "connect", "--alias", "a", "--alias", "api", "--link", "db:store",
                                         "--ip", "172.30.0.9", "back", "c1"]]


def test_a_network_mode_takes_the_place_of_networks() -> None:
    argv = create_argv(ContainerSpec(name="a", image="i", network_mode="container:shop-db"))
    assert argv[argv.index("--network") + 1] == "container:shop-db" and "--network-alias" not in argv


def test_exec_flags_say_how_a_command_runs() -> None:
    options = ExecOptions(user="redis", privileged=True, working_dir="/data", environment=(("A", "1"), ("B", "x y")))
    assert exec_flags(options) == ["--user", "redis", "--privileged", "--workdir", "/data", "--env", "A=1",
                                   "--env", "B=x y"]
    assert exec_flags(ExecOptions()) == []


# A docker CLI for the project-objects script: two containers listed, one of them gone by
# the time it is inspected; one network; no volume. Every call is logged.
FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$DOCKER_LOG"
case "$1 $2" in
  "container ls") printf 'c1\\nc2\\n' ;;
  "container inspect") printf '[\\n  {"Id": "c1"}\\n]\\n'; echo "Error: No such container: c2" >&2; exit 1 ;;
  "network ls") echo n1 ;;
  "network inspect") printf '[{"Id": "n1", "Name": "shop_default"}]\\n' ;;
  "volume ls") ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"""


def run_script(tmp_path: Path, docker: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    (tmp_path / "docker").write_text(docker)
    (tmp_path / "docker").chmod(0o755)
    log = tmp_path / "log"
    log.touch()
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "DOCKER_LOG": str(log),
           "TMPDIR": str(tmp_path)}
    script = project_objects_script("docker", "label=io.xcompose.project=shop")
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30, check=False)
    return done, log.read_text().splitlines()


def test_one_script_reads_every_kind_and_leaves_out_what_went_meanwhile(tmp_path: Path) -> None:
    done, calls = run_script(tmp_path, FAKE_DOCKER)
    assert done.returncode == 0, done.stderr
    found = parse_project_objects(done.stdout)
    assert found == {"container": [{"Id": "c1"}], "network": [{"Id": "n1", "Name": "shop_default"}], "volume": []}
    assert sorted(calls) == [  # the kinds at once: in any order between them
        "container inspect c1 c2", "container ls -q -a --no-trunc --filter label=io.xcompose.project=shop",
        "network inspect n1", "network ls -q --no-trunc --filter label=io.xcompose.project=shop",
        "volume ls -q --filter label=io.xcompose.project=shop",
    ]
    assert calls.index("container inspect c1 c2") > calls.index(
        "container ls -q -a --no-trunc --filter label=io.xcompose.project=shop")
    assert not list(tmp_path.glob("tmp*")), "the script's temporary folder is left behind"


def test_the_script_stops_with_dockers_message_when_a_listing_fails(tmp_path: Path) -> None:
    broken = "#!/bin/sh\necho \"$*\" >> \"$DOCKER_LOG\"\necho 'permission denied on the socket' >&2\nexit 1\n"
    done, calls = run_script(tmp_path, broken)
    assert done.returncode == 3 and "permission denied on the socket" in done.stderr
    assert len(calls) == 3 and done.stdout == ""  # each kind's listing failed; nothing half-read is printed


def test_output_cut_short_is_an_error_not_an_empty_project() -> None:
    with pytest.raises(DockerError, match="1 of 3"):
        parse_project_objects("[]\n@@xcompose-end@@\n[]\n")
