"""What runs, read from each host: `ps`, `logs`, `top`, `port`, `images`, `events`, `ls`,
`version`."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import click

from xcompose import __version__
from xcompose.cli.hosts import reached, report_unreached
from xcompose.cli.main import Options, cli, complete_services, err, fail, handles_errors, out, pass_options
from xcompose.cli.planning import load
from xcompose.cli.scope import scope_of
from xcompose.cli.targets import Target, one, targets
from xcompose.errors import DockerError, HostError, XcomposeError
from xcompose.plan.naming import LABEL_PROJECT, LABEL_SERVICE

if TYPE_CHECKING:
    from xcompose.engines.base import Executor
    from xcompose.live import LiveContainer


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_options
@handles_errors
def ps(options: Options, fmt: str) -> None:
    """One table across hosts: service, host, role, state, health, ports."""
    from xcompose.cli.output import ps_rows, ps_table
    from xcompose.cli.scope import scope_of

    scope = scope_of(load(options))
    with reached(scope.hosts, options, all_needed=False) as fleet:
        live, failures = fleet.read_live(scope.project)
    rows = ps_rows(live)
    out.print(json.dumps(rows, indent=2) if fmt == "json" else ps_table(rows), markup=False)
    report_unreached(fleet, failures)



@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=click.IntRange(min=0), default=None, help="Lines from the end of each log.")
@click.option("--ambassadors", is_flag=True, help="Include the ambassadors' logs.")
@click.option("--since", help="Lines since a time: 2026-11-26T10:00:00Z, a Unix time, or a while ago (42m).")
@click.option("--until", help="Lines until a time (the same forms).")
@click.option("-t", "--timestamps", is_flag=True, help="Start each line with its timestamp.")
@click.option("--no-log-prefix", is_flag=True, help="No SERVICE@HOST before each line.")
@click.option("--no-color", is_flag=True, help="No colours.")
@pass_options
@handles_errors
def logs(options: Options, services: tuple[str, ...], follow: bool, tail: int | None, ambassadors: bool,
         since: str | None, until: str | None, timestamps: bool, no_log_prefix: bool, no_color: bool) -> None:
    """Logs of services across hosts, each line prefixed and coloured per service."""
    from xcompose.cli.scope import scope_of
    from xcompose.engines.base import LogWindow
    from xcompose.run.logs import LogOptions, point_in_time, stream_logs

    window = LogWindow(point_in_time(since, "--since"), point_in_time(until, "--until"), timestamps)
    log_options = LogOptions(follow, tail, ambassadors, window, prefix=not no_log_prefix, colour=not no_color)

    scope = scope_of(load(options))
    scope.check_services(services)
    with reached(scope.hosts, options, all_needed=False) as fleet:
        live, failures = fleet.read_live(scope.project)
        report = [*fleet.errors, *failures]
        for problem in report:
            err.print(f"error: {problem}", markup=False)
        ended = stream_logs(out, fleet, live, services, log_options)
    for line in ended:
        err.print(f"error: {line}", markup=False)
    if report or ended:
        sys.exit(1)



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
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line (Docker's event, with `host`).")
@pass_options
@handles_errors
def events(options: Options, services: tuple[str, ...], as_json: bool) -> None:
    """The containers' events on every host, as they happen, in one stream (until Ctrl-C)."""
    import queue
    import threading
    from datetime import datetime, timezone

    scope = scope_of(load(options))
    scope.check_services(services)
    done = object()
    found: queue.Queue[object] = queue.Queue(maxsize=10_000)
    ended: list[str] = []

    def follow(host: str, executor: Executor) -> None:
        try:
            for event in executor.events(scope.project):
                found.put({**event, "host": host})
        except (DockerError, HostError) as error:
            ended.append(f"the events of host {host} ended: {error}")
        finally:
            found.put(done)

    with reached(scope.hosts, options, all_needed=False) as fleet:
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

    with (
        reached(scope_of(load(options)).hosts, options, all_needed=False) as fleet,
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
