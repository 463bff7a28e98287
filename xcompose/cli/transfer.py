"""Images and files moved to and from the services' hosts: `pull` and `cp`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from xcompose.cli.hosts import reached, report_unreached
from xcompose.cli.main import Options, cli, complete_services, err, handles_errors, pass_options
from xcompose.cli.planning import known_services, load, make_plan
from xcompose.cli.targets import one, targets
from xcompose.errors import DockerError, UsageError, XcomposeError

if TYPE_CHECKING:
    pass


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
