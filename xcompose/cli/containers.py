"""Compose's commands on the project's containers, each routed to the host its service runs
on: `exec`, `run`, `start`, `stop`, `restart`, `kill`, `rm`, `pause`, `unpause`, `top`, `port`,
`pull`, `images`, `cp`, `events`, `ls`, `version`. The user names services, never hosts or container names."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from xcompose import __version__
from xcompose.cli.commands import known_services, load, make_plan, reached, report_unreached
from xcompose.cli.main import Options, cli, complete_services, err, fail, handles_errors, out, pass_options
from xcompose.errors import DockerError, HostError, UsageError, XcomposeError
from xcompose.plan.naming import LABEL_PROJECT, LABEL_REPLICA, LABEL_SERVICE, role_of, step_id_of
from xcompose.plan.steps import StepId

if TYPE_CHECKING:
    from xcompose.engines.base import Executor
    from xcompose.live import LiveContainer
    from xcompose.plan.specs import ContainerSpec
    from xcompose.plan.steps import ServiceStep

@dataclass(frozen=True)
class Target:
    """One container of the project, where it runs and how to reach that host."""

    host: str
    container: LiveContainer
    executor: Executor

    @property
    def service(self) -> str:
        return self.container.labels.get(LABEL_SERVICE, "?")

    @property
    def number(self) -> int:
        return int(self.container.labels.get(LABEL_REPLICA, "1"))

    @property
    def shown(self) -> str:
        return f"{self.container.name} on {self.host}"


@contextlib.contextmanager
def targets(options: Options, services: tuple[str, ...], *, ambassadors: bool = False) -> Iterator[list[Target]]:
    """The project's containers of `services` (all of them by default; with `ambassadors`,
    xcompose's relays too when no service is named), in the order the plan starts them.
    Hosts that do not answer are named on stderr; the command goes on with the others."""
    the_plan = make_plan(load(options))
    known_services(the_plan, services)
    with reached(the_plan, options, all_needed=False) as fleet:
        live, failures = fleet.read_live(the_plan.project)
        for problem in [*fleet.errors, *failures]:
            err.print(f"error: {problem}", markup=False)
        order = {step.id: index for index, step in enumerate(the_plan.steps())}
        found = []
        for placed in live.placed():
            role = role_of(placed.container.labels)
            wanted = placed.container.labels.get(LABEL_SERVICE) in services if services else (
                role == "service" or ambassadors)
            if role is not None and wanted and (role == "service" or not services):
                found.append(Target(placed.host, placed.container, fleet.executors[placed.host]))
        found.sort(key=lambda t: (_rank(t, order), t.service, t.number))
        yield found
    if fleet.errors or failures:
        sys.exit(1)


def _rank(target: Target, order: dict[StepId, int]) -> int:
    step_id = step_id_of(target.container.labels)
    return order.get(step_id, len(order)) if step_id is not None else len(order)


def each(found: list[Target], act: Callable[[Target], object], verb: str, *, reverse: bool = False) -> None:
    """`act` on every target, in plan order (or reversed, for stopping); each result said."""
    failed = []
    for target in reversed(found) if reverse else found:
        try:
            act(target)
        except (DockerError, HostError) as error:
            failed.append(f"error: {verb} {target.shown}: {error}")
            continue
        err.print(f"{verb} {target.shown}", markup=False)
    if failed:
        fail(1, failed)


def one(found: list[Target], service: str, index: int) -> Target:
    """Replica `index` (from 1) of a service: the container `exec` and `port` act on."""
    chosen = [t for t in found if t.service == service and t.number == index]
    if not chosen:
        where = "" if index == 1 else f" number {index}"
        fail(1, [f"error: service {service} has no container{where} running on any host that answered"])
    return chosen[0]


# --- exec --------------------------------------------------------------------------------


@cli.command(name="exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-T", "no_tty", is_flag=True, help="No terminal, even when stdin is one.")
@click.option("-u", "--user", help="Run as this user (name or uid[:gid]).")
@click.option("-w", "--workdir", help="Run in this folder of the container.")
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Set a variable (repeatable).")
@click.option("--privileged", is_flag=True, help="Extended privileges for the command.")
@click.option("--index", type=click.IntRange(min=1), default=1, show_default=True, help="Which replica.")
@click.argument("service", shell_complete=complete_services)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_options
@handles_errors
def exec_command(options: Options, no_tty: bool, user: str | None, workdir: str | None, env: tuple[str, ...],
         privileged: bool, index: int, service: str, command: tuple[str, ...]) -> None:
    """Run COMMAND in a running container of SERVICE, on its host; exits with its code."""
    from xcompose.engines.base import Streams
    from xcompose.plan.specs import ExecOptions

    how = ExecOptions(user=user, privileged=privileged, working_dir=workdir, environment=tuple(_variables(env)))
    tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
    with targets(options, (service,)) as found:
        target = one(found, service, index)
        streams = Streams(sys.stdout.buffer, sys.stderr.buffer, None if sys.stdin.closed else sys.stdin.buffer)
        with _raw_terminal(tty):
            code = target.executor.attach_exec(target.container.id, command, streams, tty=tty, options=how)
    sys.exit(code)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Start it and print its name; do not wait.")
@click.option("--rm", "remove", is_flag=True, help="Remove the container when it exits.")
@click.option("-T", "no_tty", is_flag=True, help="No terminal, even when stdin is one.")
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Set a variable (repeatable).")
@click.option("-u", "--user", help="Run as this user.")
@click.option("-w", "--workdir", help="Run in this folder of the container.")
@click.option("--entrypoint", help="Override the image's entrypoint (split like a shell would).")
@click.option("--name", help="The container's name (default: PROJECT-SERVICE-run-XXXXXX).")
@click.option("--no-deps", is_flag=True, help="Do not bring up the services it needs first.")
@click.option("--service-ports", is_flag=True, help="Publish the service's ports (they are not, by default).")
@click.argument("service", shell_complete=complete_services)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@handles_errors
def run(ctx: click.Context, detach: bool, remove: bool, no_tty: bool, env: tuple[str, ...], user: str | None,
        workdir: str | None, entrypoint: str | None, name: str | None, no_deps: bool, service_ports: bool,
        service: str, command: tuple[str, ...]) -> None:
    """A one-off container of SERVICE on its host, wired as the service is (its networks,
    volumes, secrets, the names it reaches), running COMMAND; exits with its code."""
    import secrets
    import shlex

    from xcompose.cli.commands import up as up_command
    from xcompose.cli.output import QuietReporter
    from xcompose.engines.base import Streams
    from xcompose.plan.steps import ServiceStep
    from xcompose.run.up import ensure_image

    options = ctx.find_object(Options)
    assert options is not None  # set by the command group
    project = load(options)
    the_plan = make_plan(project)
    step_id = StepId.service(service)
    if step_id not in the_plan:
        raise UsageError(f"no such service: {service}")
    step = the_plan.step(step_id)
    assert isinstance(step, ServiceStep)
    if len(the_plan.needed_for([step_id])) > 1 and not no_deps:  # what it needs is up, as Compose's run has it
        ctx.invoke(up_command, services=(service,), without=(service,), quiet=True)
    tty = not no_tty and not detach and sys.stdin.isatty() and sys.stdout.isatty()
    spec = one_off(step, name or f"{step.container.name}-run-{secrets.token_hex(3)}", _variables(env),
                   command=command or None, entrypoint=tuple(shlex.split(entrypoint)) if entrypoint else None,
                   user=user, workdir=workdir, ports=service_ports, tty=tty, stdin=not detach)
    with reached(the_plan, options, all_needed=False) as fleet:
        if step.host not in fleet.executors:
            fail(1, [f"error: {e}" for e in fleet.errors])
        executor = fleet.executors[step.host]
        ensure_image(executor, step, QuietReporter())
        container_id = executor.create(spec)
        if step.files:
            executor.upload(container_id, step.files)
        if detach:
            executor.start(container_id)
            out.print(spec.name, markup=False)
            return
        streams = Streams(sys.stdout.buffer, sys.stderr.buffer, None if sys.stdin.closed else sys.stdin.buffer)
        try:
            with _raw_terminal(tty):
                code = executor.start_attached(container_id, streams, tty=tty)
        finally:
            if remove:
                executor.remove(container_id)
    sys.exit(code)


def one_off(
    step: ServiceStep, name: str, variables: list[tuple[str, str]], *, command: tuple[str, ...] | None,
    entrypoint: tuple[str, ...] | None, user: str | None, workdir: str | None, ports: bool, tty: bool, stdin: bool,
) -> ContainerSpec:
    """The service's container as a one-off: its own name and none of the service's names
    (a one-off must not take the service's traffic), its ports only when asked, no restart,
    and labelled as a run, which `up` leaves alone and `down` removes."""
    import dataclasses

    from xcompose.plan.naming import LABEL_ROLE
    from xcompose.plan.specs import Endpoint

    spec = step.container
    return dataclasses.replace(
        spec,
        name=name,
        command=command if command is not None else spec.command,
        entrypoint=entrypoint if entrypoint is not None else spec.entrypoint,
        environment=tuple(sorted({**dict(spec.environment), **dict(variables)}.items())),
        user=user or spec.user,
        working_dir=workdir or spec.working_dir,
        labels=tuple(sorted({**dict(spec.labels), LABEL_ROLE: "run"}.items())),
        networks=tuple(Endpoint(e.network, (), e.links) for e in spec.networks),
        ports=spec.ports if ports else (),
        restart=None,
        tty=tty,
        stdin_open=stdin,
    )


def _variables(env: tuple[str, ...]) -> list[tuple[str, str]]:
    """`-e KEY=VALUE`, or `-e KEY` for this shell's value, as docker does."""
    variables = []
    for item in env:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"-e {item}: give KEY=VALUE")
        variables.append((key, value if sep else os.environ.get(key, "")))
    return variables


@contextlib.contextmanager
def _raw_terminal(on: bool) -> Iterator[None]:
    """Keys go to the container as typed (Ctrl-C included) while a terminal command runs."""
    if not on:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(sys.stdin.fileno())
    try:
        tty.setraw(sys.stdin.fileno())
        yield
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


# --- the containers' lifecycle -------------------------------------------------------------


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@pass_options
@handles_errors
def start(options: Options, services: tuple[str, ...]) -> None:
    """Start the stopped containers of services (made by `up`), on their hosts."""
    with targets(options, services, ambassadors=True) as found:
        each([t for t in found if t.container.state != "running"], lambda t: t.executor.start(t.container.id),
             "started")


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("-t", "--timeout", type=click.IntRange(min=0), help="Seconds to wait before killing.")
@pass_options
@handles_errors
def stop(options: Options, services: tuple[str, ...], timeout: int | None) -> None:
    """Stop the running containers of services, consumers first; they stay, for `start`."""
    with targets(options, services, ambassadors=True) as found:
        each([t for t in found if t.container.state in ("running", "paused", "restarting")],
             lambda t: t.executor.stop(t.container.id, _grace(t, timeout)), "stopped", reverse=True)


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("-t", "--timeout", type=click.IntRange(min=0), help="Seconds to wait before killing.")
@pass_options
@handles_errors
def restart(options: Options, services: tuple[str, ...], timeout: int | None) -> None:
    """Restart the containers of services: each stopped, then started."""

    def again(target: Target) -> None:
        target.executor.stop(target.container.id, _grace(target, timeout))
        target.executor.start(target.container.id)

    with targets(options, services, ambassadors=True) as found:
        each(found, again, "restarted")


def _grace(target: Target, timeout: int | None) -> int | None:
    return target.container.stop_timeout if timeout is None else timeout


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("-s", "--signal", default="SIGKILL", show_default=True, help="The signal to send.")
@pass_options
@handles_errors
def kill(options: Options, services: tuple[str, ...], signal: str) -> None:
    """Send a signal to the running containers of services."""
    with targets(options, services, ambassadors=True) as found:
        each([t for t in found if t.container.state == "running"], lambda t: t.executor.kill(t.container.id, signal),
             f"sent {signal} to", reverse=True)


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@pass_options
@handles_errors
def pause(options: Options, services: tuple[str, ...]) -> None:
    """Pause the running containers of services."""
    with targets(options, services, ambassadors=True) as found:
        each([t for t in found if t.container.state == "running"], lambda t: t.executor.pause(t.container.id),
             "paused", reverse=True)


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@pass_options
@handles_errors
def unpause(options: Options, services: tuple[str, ...]) -> None:
    """Resume the paused containers of services."""
    with targets(options, services, ambassadors=True) as found:
        each([t for t in found if t.container.state == "paused"], lambda t: t.executor.unpause(t.container.id),
             "unpaused")


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("-s", "--stop", "stop_first", is_flag=True, help="Stop running containers first.")
@click.option("-f", "--force", is_flag=True, help="Do not ask (xcompose never asks: accepted for Compose's sake).")
@click.option("-v", "--volumes", is_flag=True, help="Also remove their anonymous volumes.")
@pass_options
@handles_errors
def rm(options: Options, services: tuple[str, ...], stop_first: bool, force: bool, volumes: bool) -> None:
    """Remove the stopped containers of services (running ones too with -s); `up` makes
    them again."""

    def remove(target: Target) -> None:
        if stop_first and target.container.state in ("running", "paused", "restarting"):
            target.executor.stop(target.container.id, target.container.stop_timeout)
        target.executor.remove(target.container.id, force=stop_first, volumes=volumes)

    with targets(options, services) as found:
        chosen = found if stop_first else [t for t in found if t.container.state not in ("running", "paused")]
        if not chosen:
            err.print("no stopped containers", markup=False)
            return
        each(chosen, remove, "removed", reverse=True)


# --- what runs -------------------------------------------------------------------------------


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@pass_options
@handles_errors
def top(options: Options, services: tuple[str, ...]) -> None:
    """The processes of each running container of services, by host."""
    from rich.table import Table

    with targets(options, services) as found:
        running = [t for t in found if t.container.state == "running"]
        with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
            tables = list(pool.map(_processes, running))
        for target, (titles, rows) in zip(running, tables, strict=True):
            table = Table(*titles, title=target.shown, title_justify="left")
            for row in rows:
                table.add_row(*row)
            out.print(table, markup=False)


def _processes(target: Target) -> tuple[list[str], list[list[str]]]:
    try:
        return target.executor.top(target.container.id)
    except (DockerError, HostError) as error:
        return ["error"], [[str(error)]]


@cli.command()
@click.argument("service", shell_complete=complete_services)
@click.argument("private_port", type=click.IntRange(1, 65535))
@click.option("--protocol", type=click.Choice(["tcp", "udp"]), default="tcp", show_default=True)
@click.option("--index", type=click.IntRange(min=1), default=1, show_default=True, help="Which replica.")
@pass_options
@handles_errors
def port(options: Options, service: str, private_port: int, protocol: str, index: int) -> None:
    """The host address and port a container port of SERVICE is published on."""
    with targets(options, (service,)) as found:
        target = one(found, service, index)
        suffix = f"->{private_port}/{protocol}"
        published = [p.removesuffix(suffix) for p in target.container.ports if p.endswith(suffix) and "->" in p]
        if not published:
            fail(1, [f"error: port {private_port}/{protocol} of {service} is not published"])
        for address in published:
            out.print(address, markup=False)


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_options
@handles_errors
def images(options: Options, services: tuple[str, ...], fmt: str) -> None:
    """The image each container of services runs, and its id, by host."""
    from rich.table import Table

    with targets(options, services) as found:  # what answered is printed before the hosts that did not
        rows = [{"container": t.container.name, "service": t.service, "host": t.host, "image": t.container.image,
                 "id": t.container.image_id} for t in found]
        if fmt == "json":
            out.print(json.dumps(rows, indent=2), markup=False)
            return
        table = Table("CONTAINER", "HOST", "IMAGE", "IMAGE ID")
        for row in rows:
            table.add_row(row["container"], row["host"], row["image"], row["id"].removeprefix("sha256:")[:12])
        out.print(table, markup=False)


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but failures.")
@pass_options
@handles_errors
def pull(options: Options, services: tuple[str, ...], quiet: bool) -> None:
    """Pull the images of services on their hosts (not those built by `build:`)."""
    from xcompose.plan.steps import ServiceStep

    the_plan = make_plan(load(options))
    known_services(the_plan, services)
    steps = [s for s in the_plan.steps() if isinstance(s, ServiceStep) and (not services or s.service in services)]
    wanted = sorted({(s.host, s.container.image, s.container.platform) for s in steps if s.build is None})
    problems: list[XcomposeError] = []
    with reached(the_plan, options, all_needed=False) as fleet:
        for host, image, platform in wanted:
            if host not in fleet.executors:
                continue
            try:
                fleet.executors[host].pull(image, platform)
            except DockerError as error:
                problems.append(error.at(f"pulling {image} on host {host}"))
                continue
            if not quiet:
                err.print(f"pulled {image} on host {host}", markup=False)
    report_unreached(fleet, problems)


@cli.command()
@click.argument("source")
@click.argument("destination")
@click.option("--index", type=click.IntRange(min=1), default=1, show_default=True, help="Which replica.")
@pass_options
@handles_errors
def cp(options: Options, source: str, destination: str, index: int) -> None:
    """Copy files between a container and this machine: SERVICE:PATH LOCAL, or LOCAL SERVICE:PATH."""
    import tempfile
    from pathlib import Path

    from xcompose.run.copy import into_container, pack, unpack

    remote_source, remote_destination = _service_path(source), _service_path(destination)
    if (remote_source is None) == (remote_destination is None):
        raise UsageError("copy between a service and this machine: SERVICE:PATH LOCAL, or LOCAL SERVICE:PATH")
    service = (remote_source or remote_destination or ("", ""))[0]
    with targets(options, (service,)) as found:
        target = one(found, service, index)
        if remote_source is not None:
            with tempfile.TemporaryFile() as spool:
                target.executor.get_archive(target.container.id, remote_source[1], spool)
                spool.seek(0)
                unpack(spool, Path(destination))
            err.print(f"copied {source} from {target.shown} to {destination}", markup=False)
        else:
            assert remote_destination is not None
            path = remote_destination[1]
            code, _ = target.executor.exec(target.container.id, ["test", "-d", path], timeout=30)
            folder, name = into_container(path, code == 0, Path(source))
            target.executor.put_archive(target.container.id, folder, pack(Path(source), name))
            err.print(f"copied {source} to {path} in {target.shown}", markup=False)


def _service_path(text: str) -> tuple[str, str] | None:
    """`SERVICE:PATH` as (service, path); None for a local path (`./a:b` is local)."""
    service, sep, path = text.partition(":")
    if not sep or not service or "/" in service or service.startswith("."):
        return None
    return service, path or "/"


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line (Docker's event, with `host`).")
@pass_options
@handles_errors
def events(options: Options, services: tuple[str, ...], as_json: bool) -> None:
    """The containers' events on every host, as they happen, in one stream (until Ctrl-C)."""
    import queue
    import threading
    from datetime import datetime, timezone

    the_plan = make_plan(load(options))
    known_services(the_plan, services)
    done = object()
    found: queue.Queue[object] = queue.Queue(maxsize=10_000)
    ended: list[str] = []

    def follow(host: str, executor: Executor) -> None:
        try:
            for event in executor.events(the_plan.project):
                found.put({**event, "host": host})
        except (DockerError, HostError) as error:
            ended.append(f"the events of host {host} ended: {error}")
        finally:
            found.put(done)

    with reached(the_plan, options, all_needed=False) as fleet:
        for problem in fleet.errors:
            err.print(f"error: {problem}", markup=False)
        for host, executor in fleet.executors.items():
            threading.Thread(target=follow, args=(host, executor), daemon=True).start()
        open_streams = len(fleet.executors)
        while open_streams:
            item = found.get()
            if item is done:
                open_streams -= 1
                continue
            assert isinstance(item, dict)
            attributes = item.get("Actor", {}).get("Attributes", {})
            if services and attributes.get(LABEL_SERVICE) not in services:
                continue
            if as_json:
                out.print(json.dumps(item), markup=False, soft_wrap=True)
                continue
            nanos = int(item.get("timeNano") or int(item.get("time", 0)) * 1_000_000_000)
            when = datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")
            out.print(f"{when} {item['host']} container {item.get('Action', item.get('status', '?'))} "
                      f"{attributes.get('name', '?')} (service={attributes.get(LABEL_SERVICE, '?')})", markup=False)
    for line in ended:
        err.print(f"error: {line}", markup=False)
    if fleet.errors or ended:
        sys.exit(1)


@cli.command(name="ls")
@click.option("-a", "--all", "every", is_flag=True, help="Also projects whose containers are all stopped.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_options
@handles_errors
def list_projects(options: Options, every: bool, fmt: str) -> None:
    """The xcompose projects on the hosts of the file: their state on each host."""
    from rich.table import Table

    the_plan = make_plan(load(options))
    with (
        reached(the_plan, options, all_needed=False) as fleet,
        ThreadPoolExecutor(max_workers=max(1, len(fleet.executors))) as pool,
    ):
        found = dict(zip(fleet.executors, pool.map(_all_containers, fleet.executors.values()), strict=True))
    projects: dict[str, dict[str, list[str]]] = {}
    problems: list[XcomposeError] = []
    for host, containers in sorted(found.items()):
        if isinstance(containers, XcomposeError):
            problems.append(containers)
            continue
        for container in containers:
            project = container.labels.get(LABEL_PROJECT, "?")
            projects.setdefault(project, {}).setdefault(host, []).append(container.state)
    rows = []
    for project, hosts in sorted(projects.items()):
        states = [state for by_host in hosts.values() for state in by_host]
        if not every and "running" not in states:
            continue
        summary = ", ".join(f"{state}({states.count(state)})" for state in sorted(set(states)))
        rows.append({"name": project, "status": summary, "hosts": ", ".join(sorted(hosts))})
    if fmt == "json":
        out.print(json.dumps(rows, indent=2), markup=False)
    else:
        table = Table("NAME", "STATUS", "HOSTS")
        for row in rows:
            table.add_row(row["name"], row["status"], row["hosts"])
        out.print(table, markup=False)
    report_unreached(fleet, problems)


def _all_containers(executor: Executor) -> list[LiveContainer] | XcomposeError:
    try:
        return executor.containers(None)
    except (DockerError, HostError) as error:
        return error


@cli.command()
@click.option("--short", is_flag=True, help="The version number alone.")
def version(short: bool) -> None:
    """xcompose's version."""
    out.print(__version__ if short else f"xcompose version {__version__}", markup=False)

