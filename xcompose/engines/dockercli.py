"""The docker CLI's command lines for what the plan asks, as pure functions (the ssh
executor runs them; the unit tests read them). They mirror what the API executor sends,
so that both executors make the same containers."""

from __future__ import annotations

import csv
import io
import shlex

from xcompose.errors import DockerError
from xcompose.plan.specs import ContainerSpec


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


def publish_arg(host_ip: str | None, host_port: int | None, port: int, proto: str) -> str:
    ip = f"[{host_ip}]" if host_ip and ":" in host_ip else host_ip
    container = f"{port}/{proto}"
    if ip:
        return f"{ip}:{host_port or ''}:{container}"
    return f"{host_port}:{container}" if host_port else container


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
    argv += ["--network", spec.network]
    for alias in spec.aliases:
        argv += ["--network-alias", alias]
    if spec.environment:
        argv += ["--env-file", "/dev/stdin"]
    for port, proto in spec.expose:
        argv += ["--expose", f"{port}/{proto}"]
    for p in spec.ports:
        argv += ["--publish", publish_arg(p.host_ip, p.host_port, p.container_port, p.protocol)]
    for m in spec.mounts:
        fields = [f"type={m.type}"]
        if m.source and m.type != "tmpfs":
            fields.append(f"source={m.source}")
        fields.append(f"target={m.target}")
        if m.read_only:
            fields.append("readonly")
        argv += ["--mount", _csv_field(*fields)]
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
    tail: list[str] = []
    if spec.entrypoint is not None:
        # --entrypoint takes one word; the rest of a longer entrypoint runs as the first
        # words of the command: the same process argv as the API's Entrypoint + Cmd.
        argv += ["--entrypoint", spec.entrypoint[0] if spec.entrypoint else ""]
        tail += list(spec.entrypoint[1:])
    if spec.command is not None:
        tail += list(spec.command)
    return [*argv, spec.image, *tail]


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
