"""The containers' lifecycle, each on its own host: `start`, `stop`, `restart`, `kill`,
`pause`, `unpause`, `rm`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from xcompose.cli.main import Options, cli, complete_services, err, handles_errors, pass_options
from xcompose.cli.targets import Target, each, targets

if TYPE_CHECKING:
    pass


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
