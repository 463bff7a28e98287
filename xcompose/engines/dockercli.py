"""The docker CLI's command lines for what the plan asks, as pure functions (the ssh
executor runs them; the unit tests read them). They mirror what the API executor sends,
so that both executors make the same containers."""

from __future__ import annotations

import csv
import io
import json
import shlex
from typing import Any

from xcompose.engines.base import daemon_message
from xcompose.errors import DockerError
from xcompose.plan.specs import BuildSpec, ContainerSpec, Endpoint, ExecOptions, Mount, NetworkSpec, VolumeSpec


def go_duration(seconds: float) -> str:
    """Seconds in the form the docker CLI's duration flags parse, exactly (no float drift)."""
    ns = round(seconds * 1_000_000_000)
    if ns % 1_000_000_000 == 0:
        return f"{ns // 1_000_000_000}s"
    if ns % 1_000_000 == 0:
        return f"{ns // 1_000_000}ms"
    return f"{ns}ns"


def _csv_field(*fields: str) -> str:
    """`--mount` is parsed as one CSV record: quote fields holding commas or quotes."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def publish_arg(host_ip: str | None, host_port: int | str | None, port: int, proto: str) -> str:
    ip = f"[{host_ip}]" if host_ip and ":" in host_ip else host_ip
    container = f"{port}/{proto}"
    if ip:
        return f"{ip}:{host_port or ''}:{container}"
    return f"{host_port}:{container}" if host_port else container


def exec_flags(options: ExecOptions) -> list[str]:
    """`docker container exec` flags for how a command runs."""
    flags = ["--user", options.user] if options.user else []
    flags += ["--privileged"] if options.privileged else []
    flags += ["--workdir", options.working_dir] if options.working_dir else []
    for key, value in options.environment:
        flags += ["--env", f"{key}={value}"]
    return flags


def env_file(spec: ContainerSpec) -> bytes | None:
    """The environment as a docker env-file, for the command's stdin. The format has no
    escapes: a value with a line break cannot be passed this way (nor named in the error)."""
    if not spec.environment:
        return None
    lines = []
    for key, value in spec.environment:
        if not key or "=" in key or any(c.isspace() for c in key) or key.startswith("#"):
            raise DockerError(f"environment variable name {key!r} is not valid")
        if "\n" in value or value.endswith("\r"):
            raise DockerError(
                f"the value of environment variable {key} holds a line break, which the ssh "
                "executor cannot pass to the docker CLI; use executor: api for this host"
            )
        lines.append(f"{key}={value}\n")
    return "".join(lines).encode()


def create_argv(spec: ContainerSpec) -> list[str]:
    """`docker container create …` for the spec, mirroring ApiExecutor.create."""
    argv = ["container", "create", "--pull", "never", "--name", spec.name]
    for key, value in spec.labels_with_hash().items():
        argv += ["--label", f"{key}={value}"]
    if spec.network_mode is not None:
        argv += ["--network", spec.network_mode]
    elif spec.networks:
        # One network at create (engines before API 1.44 take no more); connect_argvs joins the others.
        argv += ["--network", spec.networks[0].network, *_endpoint_args(spec.networks[0], "--network-alias")]
    if spec.environment:
        argv += ["--env-file", "/dev/stdin"]
    for port, proto in spec.expose:
        argv += ["--expose", f"{port}/{proto}"]
    for p in spec.ports:
        argv += ["--publish", publish_arg(p.host_ip, p.host_ports, p.container_port, p.protocol)]
    for m in spec.mounts:
        argv += _mount_args(m)
    if spec.restart:
        argv += ["--restart", spec.restart]
    if spec.healthcheck is not None:
        argv += _health_args(spec)
    if spec.user is not None:
        argv += ["--user", spec.user]
    if spec.working_dir is not None:
        argv += ["--workdir", spec.working_dir]
    if spec.hostname is not None:
        argv += ["--hostname", spec.hostname]
    for cap in spec.cap_add:
        argv += ["--cap-add", cap]
    for cap in spec.cap_drop:
        argv += ["--cap-drop", cap]
    if spec.privileged:
        argv.append("--privileged")
    argv += _option_args(spec)
    tail: list[str] = []
    if spec.entrypoint is not None:
        # --entrypoint takes one word; the rest of a longer entrypoint runs as the first
        # words of the command: the same process argv as the API's Entrypoint + Cmd.
        argv += ["--entrypoint", spec.entrypoint[0] if spec.entrypoint else ""]
        tail += list(spec.entrypoint[1:])
    if spec.command is not None:
        tail += list(spec.command)
    return [*argv, spec.image, *tail]


def _mount_args(m: Mount) -> list[str]:
    """`--volume` where the mount needs the Binds form (see Mount.as_bind), else `--mount`."""
    bind = m.as_bind()
    if bind is not None:
        return ["--volume", bind]
    fields = [f"type={m.type}"]
    if m.source and m.type != "tmpfs":
        fields.append(f"source={m.source}")
    fields.append(f"target={m.target}")
    if m.read_only:
        fields.append("readonly")
    if m.propagation:
        fields.append(f"bind-propagation={m.propagation}")
    if m.no_copy:
        fields.append("volume-nocopy")
    if m.tmpfs_size is not None:
        fields.append(f"tmpfs-size={m.tmpfs_size}")
    if m.tmpfs_mode is not None:
        fields.append(f"tmpfs-mode={m.tmpfs_mode:o}")  # the CLI reads it as octal
    return ["--mount", _csv_field(*fields)]


def _cpus(nano: int) -> str:
    """NanoCpus as the decimal `--cpus` reads back exactly (1500000000 -> 1.5)."""
    whole, fraction = divmod(nano, 1_000_000_000)
    return f"{whole}.{fraction:09d}".rstrip("0").rstrip(".")


def _option_args(spec: ContainerSpec) -> list[str]:
    """The flags of Compose's container options, each only when set."""
    args: list[str] = []
    single = [
        ("--stop-signal", spec.stop_signal), ("--stop-timeout", spec.stop_timeout), ("--shm-size", spec.shm_size),
        ("--memory", spec.mem_limit), ("--memory-swap", spec.memswap_limit),
        ("--memory-reservation", spec.mem_reservation),
        ("--cpus", None if spec.nano_cpus is None else _cpus(spec.nano_cpus)), ("--cpu-shares", spec.cpu_shares),
        ("--cpuset-cpus", spec.cpuset), ("--pids-limit", spec.pids_limit), ("--oom-score-adj", spec.oom_score_adj),
        ("--log-driver", spec.log_driver), ("--pid", spec.pid), ("--ipc", spec.ipc), ("--platform", spec.platform),
        ("--runtime", spec.runtime), ("--domainname", spec.domainname), ("--mac-address", spec.mac_address),
        ("--userns", spec.userns_mode), ("--cgroup-parent", spec.cgroup_parent),
        ("--cgroupns", spec.cgroupns),
    ]
    for flag, value in single:
        if value is not None:
            args += [flag, str(value)]
    repeated = [
        ("--sysctl", [f"{k}={v}" for k, v in spec.sysctls]),
        ("--ulimit", [f"{u.name}={u.soft}:{u.hard}" for u in spec.ulimits]),
        ("--tmpfs", [f"{path}:{options}" if options else path for path, options in spec.tmpfs]),
        ("--add-host", spec.extra_hosts), ("--dns", spec.dns), ("--dns-search", spec.dns_search),
        ("--dns-option", spec.dns_opt),
        ("--device", [f"{d.source}:{d.target}:{d.permissions}" for d in spec.devices]),
        ("--security-opt", spec.security_opt), ("--log-opt", [f"{k}={v}" for k, v in spec.log_options]),
        ("--volumes-from", spec.volumes_from), ("--group-add", spec.group_add),
    ]
    for flag, values in repeated:
        for value in values:
            args += [flag, value]
    args += [flag for flag, on in (("--interactive", spec.stdin_open), ("--tty", spec.tty),
                                   ("--read-only", spec.read_only)) if on]
    if spec.init is not None:
        args.append("--init" if spec.init else "--init=false")
    return args


def _health_args(spec: ContainerSpec) -> list[str]:
    h = spec.healthcheck
    assert h is not None
    test = list(h.test)
    if test[:1] == ["NONE"]:
        return ["--no-healthcheck"]
    args: list[str] = []
    if test[:1] == ["CMD-SHELL"]:
        args += ["--health-cmd", " ".join(test[1:])]
    elif test[:1] == ["CMD"]:
        # The CLI has no exec form: the same words through the shell (needs /bin/sh).
        args += ["--health-cmd", shlex.join(test[1:])]
    args += [
        "--health-interval", go_duration(h.interval_s),
        "--health-timeout", go_duration(h.timeout_s),
        "--health-retries", str(h.retries),
    ]
    if h.start_period_s:
        args += ["--health-start-period", go_duration(h.start_period_s)]
    return args


SUDO_DOCKER = 'sudo -n docker ${DOCKER_HOST:+--host="$DOCKER_HOST"}'


def _endpoint_args(endpoint: Endpoint, alias_flag: str) -> list[str]:
    args: list[str] = []
    for alias in endpoint.aliases:
        args += [alias_flag, alias]
    for link in endpoint.links:
        args += ["--link", link]
    if endpoint.ipv4_address:
        args += ["--ip", endpoint.ipv4_address]
    if endpoint.ipv6_address:
        args += ["--ip6", endpoint.ipv6_address]
    return args


def connect_argvs(spec: ContainerSpec, container: str) -> list[list[str]]:
    """`docker network connect …` for each network of the spec after the first."""
    return [["network", "connect", *_endpoint_args(e, "--alias"), e.network, container] for e in spec.networks[1:]]


def _options(spec: NetworkSpec | VolumeSpec) -> list[str]:
    argv = ["--driver", spec.driver] if spec.driver else []
    for flag, pairs in (("--opt", spec.driver_opts), ("--label", spec.labels)):
        for key, value in pairs:
            argv += [flag, f"{key}={value}"]
    return argv


def create_network_argv(spec: NetworkSpec) -> list[str]:
    argv = ["network", "create", *_options(spec)]
    argv += [flag for flag, on in (("--internal", spec.internal), ("--attachable", spec.attachable),
                                   ("--ipv6", spec.enable_ipv6)) if on]
    if spec.ipam_driver:
        argv += ["--ipam-driver", spec.ipam_driver]
    flags = {"subnet": "--subnet", "ip_range": "--ip-range", "gateway": "--gateway"}
    for pool in spec.ipam_pools:
        for key, value in pool:
            argv += [flags[key], value] if key in flags else ["--aux-address", f"{key}={value}"]
    return [*argv, spec.name]


def create_volume_argv(spec: VolumeSpec) -> list[str]:
    return ["volume", "create", *_options(spec), spec.name]


def build_argv(spec: BuildSpec, context: str) -> list[str]:
    """`docker build …` for the spec, mirroring ApiExecutor.build; `context` is `-` for a
    tar on stdin, or the URL the engine fetches. Build arguments are words of the command
    line here, as with `docker build` itself: Docker keeps them in the image's history
    anyway, and says they are not for secrets."""
    argv = ["build", "--tag", spec.image]
    for tag in spec.tags:
        argv += ["--tag", tag]
    if spec.dockerfile is not None:
        argv += ["--file", spec.dockerfile]
    for key, value in spec.args:
        argv += ["--build-arg", f"{key}={value}"]
    if spec.target is not None:
        argv += ["--target", spec.target]
    for key, value in spec.labels:
        argv += ["--label", f"{key}={value}"]
    if spec.network is not None:
        argv += ["--network", spec.network]
    if spec.shm_size is not None:
        argv += ["--shm-size", str(spec.shm_size)]
    for entry in spec.extra_hosts:
        argv += ["--add-host", entry]
    if spec.no_cache:
        argv.append("--no-cache")
    if spec.pull:
        argv.append("--pull")
    for image in spec.cache_from:
        argv += ["--cache-from", image]
    if spec.platform is not None:
        argv += ["--platform", spec.platform]
    if spec.isolation is not None:
        argv += ["--isolation", spec.isolation]
    return [*argv, context]


def build_failure(stderr_lines: list[str]) -> str:
    """The builder's own message from `docker build`'s stderr, without the notice a CLI
    without buildx prints before every build (the engine's builder is used all the same)."""
    kept: list[str] = []
    notice = False
    for line in stderr_lines:
        if line.startswith("DEPRECATED: The legacy builder is deprecated"):
            notice = True
        elif notice and not line.strip():
            notice = False
        elif not notice:
            kept.append(line)
    return daemon_message("\n".join(kept[-20:]))


# Ends each kind's JSON in the output of `project_objects_script`; no line of `docker
# inspect`'s indented JSON can be this.
OBJECTS_END = "@@xcompose-end@@"
OBJECT_KINDS = ("container", "network", "volume")


def project_objects_script(docker: str, label_filter: str) -> str:
    """A POSIX shell script that lists the project's containers, networks and volumes by
    label and inspects them, so that a host is read in one SSH session, not five in two
    rounds. The three kinds are read at once (each docker CLI start costs the host a
    moment), into files of a temporary folder; then, for each kind, it prints `docker
    inspect`'s JSON (`[]` for none) and the line OBJECTS_END. It exits 3 when docker
    fails (stderr says why, once: of the first kind that failed). An object removed
    between listing and inspecting is left out: the CLI prints the others and exits 1.
    `docker` is how the docker CLI is called (`docker`, or through sudo)."""
    kinds = " ".join(OBJECT_KINDS)
    return "\n".join([
        f'D() {{ {docker} "$@"; }}',
        f"L={shlex.quote(label_filter)}",
        "read_kind() {",
        '  case $1 in container) flags="-a --no-trunc";; network) flags=--no-trunc;; *) flags=;; esac',
        '  ids=$(D "$1" ls -q $flags --filter "$L") || return 3',
        '  if [ -z "$ids" ]; then echo "[]"; return 0; fi',
        '  out=$(D "$1" inspect $ids) || [ -n "$out" ] || return 3',
        '  printf "%s\\n" "$out"',
        "}",
        "t=$(mktemp -d) || exit 3",
        "trap 'rm -rf \"$t\"' EXIT",
        f"for kind in {kinds}; do",
        '  { read_kind "$kind" > "$t/$kind" 2> "$t/$kind.err"; echo $? > "$t/$kind.code"; } &',
        "done",
        "wait",
        f"for kind in {kinds}; do",
        '  [ "$(cat "$t/$kind.code")" = 0 ] || { cat "$t/$kind.err" >&2; exit 3; }',
        '  cat "$t/$kind"',
        f"  echo {OBJECTS_END}",
        "done",
    ])


def parse_project_objects(out: str) -> dict[str, list[dict[str, Any]]]:
    """The inspected objects of each kind from `project_objects_script`'s output."""
    parts: list[str] = []
    current: list[str] = []
    for line in out.splitlines():
        if line == OBJECTS_END:
            parts.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if len(parts) != len(OBJECT_KINDS):
        raise DockerError(f"the host's shell printed {len(parts)} of {len(OBJECT_KINDS)} lists of objects")
    return {kind: list(json.loads(text or "[]")) for kind, text in zip(OBJECT_KINDS, parts, strict=True)}
