"""`xcompose lab …` commands. Mounted into the main CLI with `cli.add_command(lab)`."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from rich.console import Console
from rich.table import Table

from .errors import LabError, LabUsageError
from .lab import Lab
from .render import render_shell_env, topology_host_names
from .swarm import NODE_LABEL, SwarmNode

P = ParamSpec("P")
R = TypeVar("R")
err = Console(stderr=True, highlight=False)


def _friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Lab errors become one line on stderr: exit 2 for bad input, 1 for failures."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LabUsageError as exc:
            raise click.UsageError(str(exc)) from None
        except LabError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)

    return wrapper


def _progress(msg: str) -> None:
    err.print(f"[dim]·[/dim] {msg}")


def _existing(name: str) -> Lab:
    lab_ = Lab.get(name)
    if lab_ is None:
        raise click.ClickException(f"no lab named {name!r} is running; start it with `xcompose lab up`")
    return lab_


name_option = click.option(
    "--name", "name", default="xlab", show_default=True, metavar="PREFIX",
    help="Lab name; hosts are PREFIX1..PREFIXN.",
)


@click.group()
def lab() -> None:
    """Several Docker hosts on this machine, for rehearsing a topology (needs root)."""


@lab.command()
@click.option("--hosts", "count", type=click.IntRange(1, 15), default=3, show_default=True)
@name_option
@click.option("--subnet", default=None, help="IPv4 /24..27 for the lab bridge (default: a free 10.251.x.0/24).")
@click.option("--trust", is_flag=True,
              help="Also add the lab's host keys and Host blocks to ~/.ssh (removed by `lab down`).")
@click.option("--swarm", is_flag=True,
              help="Also make the hosts one Docker Swarm: the first host its manager, the others workers, "
              "each node labelled io.xcompose.host=HOST.")
@_friendly
def up(count: int, name: str, subnet: str | None, trust: bool, swarm: bool) -> None:
    """Start N hosts: namespace, dockerd and sshd each, joined by a bridge (and a swarm of them)."""
    already = Lab.get(name)
    t0 = time.monotonic()
    lab_ = Lab.up(hosts=count, prefix=name, subnet=subnet, trust=trust, progress=_progress)
    if already is not None and already._state.complete:
        err.print(f"lab {name!r} is already running ({len(lab_.hosts)} hosts)")
    else:
        err.print(f"lab {name!r} up in {time.monotonic() - t0:.1f}s")
    if swarm:
        t1 = time.monotonic()
        nodes = lab_.form_swarm(progress=_progress)
        err.print(f"swarm of {len(nodes)} nodes ready, managed by {lab_.hosts[0].name}, "
                  f"in {time.monotonic() - t1:.1f}s; pin services with node.labels.{NODE_LABEL} == HOST")
    for h in lab_.hosts:
        click.echo(f"{h.name}\t{h.address}\t{h.docker_socket}\t{h.ssh_url}")


@lab.command()
@name_option
@click.option("--purge", is_flag=True, help="Also delete the image cache.")
@_friendly
def down(name: str, purge: bool) -> None:
    """Remove every namespace, process, interface, rule and file of the lab."""
    t0 = time.monotonic()
    existed = Lab.teardown(name, purge=purge)
    err.print(f"lab {name!r} " + (f"removed in {time.monotonic() - t0:.1f}s" if existed else "was not running"))


@lab.command()
@name_option
@_friendly
def images(name: str) -> None:
    """Build the stand-in images (cached) and load them into every host."""
    lab_ = _existing(name)
    t0 = time.monotonic()
    report = lab_.images(progress=_progress)
    built = "built" if report.built else "cached"
    err.print(
        f"images {built} (recipe {report.recipe}); loaded into {', '.join(report.loaded) or 'no host'}"
        f"; already present on {', '.join(report.skipped) or 'no host'}; {time.monotonic() - t0:.1f}s"
    )


@lab.command()
@name_option
@_friendly
def status(name: str) -> None:
    """Show each host: address, dockerd, sshd, images; and the swarm, if the hosts form one."""
    lab_ = _existing(name)
    table = Table(title=f"lab {name} ({lab_.subnet} on {lab_.bridge})")
    for col in ("host", "address", "dockerd", "docker", "sshd", "images"):
        table.add_column(col)
    for s in lab_.status():
        dockerd = f"{s.dockerd_pid} " + ("[green]alive[/green]" if s.dockerd_alive else "[red]dead[/red]")
        table.add_row(
            s.host.name, s.host.address, dockerd, s.docker_version or "-",
            "[green]alive[/green]" if s.sshd_alive else "[red]dead[/red]",
            f"{s.images[0]}/{s.images[1]}",
        )
    Console().print(table)
    nodes = lab_.swarm_nodes()
    if nodes:
        Console().print(_swarm_table(name, nodes))


def _swarm_table(name: str, nodes: list[SwarmNode]) -> Table:
    table = Table(title=f"swarm of lab {name} (pin with node.labels.{NODE_LABEL})")
    for col in ("host", "node", "role", "status", "availability", "label"):
        table.add_column(col)
    for n in nodes:
        status = f"[green]{n.status}[/green]" if n.status == "ready" else f"[red]{n.status}[/red]"
        role = f"{n.role} (leader)" if n.leader else n.role
        table.add_row(n.host, n.node_id[:12], role, status, n.availability, n.label or "[red]-[/red]")
    return table


@lab.command()
@name_option
@click.option("--topology", "-f", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Map this topology's hosts, in order, onto the lab hosts.")
@click.option("--shell", is_flag=True, help="Print only the environment, as shell exports, on stdout.")
@_friendly
def env(name: str, topology: Path | None, shell: bool) -> None:
    """Print a topology override (stdout) and the environment for the lab (stderr)."""
    lab_ = _existing(name)
    exports = render_shell_env(lab_.env())
    if shell:
        click.echo(exports, nl=False)
        return
    names = topology_host_names(topology) if topology is not None else None
    try:
        click.echo(lab_.override_yaml(names), nl=False)
    except LabError as exc:
        raise LabUsageError(str(exc)) from None
    click.echo(exports, nl=False, err=True)
