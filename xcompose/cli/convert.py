"""`convert`: the project for another tool, a Docker stack file or one compose file per host."""

from __future__ import annotations

from pathlib import Path

import click

from xcompose.cli.main import Options, cli, err, handles_errors, pass_options, print_text
from xcompose.cli.planning import load
from xcompose.errors import UsageError


@cli.command()
@click.option("--to", "target", type=click.Choice(["stack", "compose"]), required=True,
              help="stack: one file for `docker stack deploy -c FILE PROJECT`, each service pinned to its host by "
              "the node label io.xcompose.host; compose: one single-host compose file per host.")
@click.option("--endpoint-mode", type=click.Choice(["dnsrr", "vip"]), default=None,
              help="stack: how a service's name resolves. dnsrr (default): to its tasks' addresses; vip: to one "
              "virtual IP, which needs IPVS in every node's kernel.")
@click.option("-o", "--output", type=click.Path(path_type=Path), metavar="PATH",
              help="stack: write the file here; compose: write HOST.yaml for each host into this folder. Default: "
              "standard output (for compose, YAML documents separated by ---, each headed by its host).")
@pass_options
@handles_errors
def convert(options: Options, target: str, endpoint_mode: str | None, output: Path | None) -> None:
    """Print the project as a Docker stack file, or as one compose file per host."""
    from xcompose.cli.scope import scope_of
    from xcompose.plan.convert import to_stack
    from xcompose.plan.convert_hosts import to_host_files

    if target == "compose" and endpoint_mode is not None:
        raise UsageError("--endpoint-mode applies to --to stack only")
    project = load(options)
    scope_of(project)  # the same verdict as `plan` and `up`: a file they refuse is not converted
    if target == "stack":
        stack = to_stack(project, "vip" if endpoint_mode == "vip" else "dnsrr")
        _warn(stack.warnings)
        if output is None:
            print_text(stack.text)
        else:
            output.write_text(stack.text)
        return
    files = to_host_files(project)
    for converted in files.values():
        _warn(converted.warnings)
    if output is None:
        print_text("---\n".join(converted.text for converted in files.values()))
        return
    output.mkdir(parents=True, exist_ok=True)
    for host, converted in files.items():
        (output / f"{host}.yaml").write_text(converted.text)
        err.print(f"wrote {output / f'{host}.yaml'}", markup=False)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(f"warning: {warning}", markup=False)
