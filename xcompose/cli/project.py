"""The commands about the project as a whole rather than its containers: `config` and
`schema` (the model), `check` (every link end to end) and `pki` (the project's CA)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from xcompose.cli.hosts import WAIT_HELP, host_pki, hosts_of, locked, reached
from xcompose.cli.main import Options, cli, err, handles_errors, out, pass_options, print_text
from xcompose.cli.planning import load, make_plan
from xcompose.errors import UsageError

if TYPE_CHECKING:
    from xcompose.plan.steps import Plan


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="Only check the files: print nothing.")
@click.option("--services", "what", flag_value="services", help="The services' names, one a line.")
@click.option("--images", "what", flag_value="images", help="The images the services run, one a line.")
@click.option("--volumes", "what", flag_value="volumes", help="The named volumes, one a line.")
@click.option("--networks", "what", flag_value="networks", help="The networks, one a line.")
@click.option("--hosts", "what", flag_value="hosts", help="The hosts, one a line.")
@click.option("--profiles", "what", flag_value="profiles", help="The profiles the services name, one a line.")
@click.option("--hash", "hash_of", metavar="SERVICES", help="SERVICE HASH lines of the services' container configs "
              "(comma-separated names, or '*').")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file.")
@click.option("--show-secrets", is_flag=True, hidden=True)  # accepted: values are never masked now, as in Compose
@pass_options
@handles_errors
def config(options: Options, quiet: bool, what: str | None, hash_of: str | None, fmt: str, output: str | None,
           show_secrets: bool) -> None:
    """Print the merged, interpolated, validated model, as Compose's `config` does."""
    from xcompose.config.export import config_lines, dump_config

    project = load(options)
    the_plan = make_plan(project)  # the same verdict as `plan` and `up` for every file
    if quiet:
        return
    if hash_of is not None:
        text = "".join(f"{line}\n" for line in config_hashes(the_plan, hash_of))
    elif what is not None:
        text = "".join(f"{line}\n" for line in config_lines(project, what))
    elif fmt == "json":
        text = json.dumps(yaml.safe_load(dump_config(project)), indent=2) + "\n"
    else:
        text = dump_config(project)
    if output:
        Path(output).write_text(text)
    else:
        print_text(text)


def config_hashes(the_plan: Plan, names: str) -> list[str]:
    from xcompose.plan.steps import ServiceStep

    steps = {s.service: s for s in the_plan.steps() if isinstance(s, ServiceStep)}
    wanted = sorted(steps) if names.strip() == "*" else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in steps]
    if unknown:
        raise UsageError(f"no such service: {', '.join(unknown)}")
    return [f"{name} {steps[name].container.config_hash()}" for name in wanted]


@cli.command()
@handles_errors
def schema() -> None:
    """Print the topology file's JSON Schema (for editors)."""
    from xcompose.config.export import topology_schema

    out.print(json.dumps(topology_schema(), indent=2), markup=False)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_options
@handles_errors
def check(options: Options, fmt: str) -> None:
    """Reach every host; open every cross-host link through its ambassadors (latency, TLS)."""
    from xcompose.run.probe import check as run_check
    from xcompose.run.probe import render_table

    project = load(options)
    if project.topology.engine == "swarm":
        from xcompose.cli import swarm

        swarm.check(options, project, fmt)
        return
    the_plan = make_plan(project)  # a mistake in the file is said before any host is asked
    with reached(the_plan, options, all_needed=False) as fleet:
        credentials = host_pki(fleet, project.name).credentials()
        the_plan = make_plan(project, credentials)
        report = run_check(the_plan, fleet, credentials)
    out.print(report.to_json() if fmt == "json" else render_table(report), markup=False)
    if not report.ok:
        sys.exit(1)


@cli.group()
def pki() -> None:
    """The project's CA for mutual TLS between ambassadors, kept on every host of the project."""


@pki.command()
@click.option("--lock-wait", type=click.FloatRange(min=0), default=300.0, show_default=True, help=WAIT_HELP)
@pass_options
@handles_errors
def rotate(options: Options, lock_wait: float) -> None:
    """Issue a new CA on every host; the next `up` re-creates the ambassadors with new certificates."""
    from xcompose.keystore import Bundle
    from xcompose.pki import CertificateAuthority

    project = load(options)
    with reached(hosts_of(project), options) as fleet, locked(fleet.executors, project.name, lock_wait):
        store = host_pki(fleet, project.name)
        store.read()
        store.replace(Bundle(project.name, CertificateAuthority.new(project.name)))
    assert store.current is not None
    err.print(f"{project.name}: new CA (generation {store.current.generation}) on hosts "
              f"{', '.join(sorted(fleet.executors))}; run `xcompose up` to re-create the ambassadors", markup=False)


@pki.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@pass_options
@handles_errors
def export_pki(options: Options, file: str) -> None:
    """Write the project's CA and certificates, as the hosts keep them, to FILE (- for
    stdout): an offline backup, private keys included (FILE is made readable by you only)."""
    from xcompose.keystore import write_private

    project = load(options)
    with reached(hosts_of(project), options, all_needed=False) as fleet:
        store = host_pki(fleet, project.name)
        bundle = store.read()
    for note in store.notes:
        err.print(f"note: {note}", markup=False)
    if bundle is None:
        raise UsageError(f"project {project.name} has no CA on the hosts that answered "
                         f"({', '.join(sorted(fleet.executors)) or 'none'}): nothing to export")
    data = bundle.to_tar()
    if file == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_private(Path(file), data)
    missing = sorted(e.host for e in fleet.errors)
    err.print(f"{project.name}: CA generation {bundle.generation}, {len(bundle.issued)} certificate(s) exported"
              + (f"; hosts not asked: {', '.join(missing)}" if missing else ""), markup=False)


@pki.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--lock-wait", type=click.FloatRange(min=0), default=300.0, show_default=True, help=WAIT_HELP)
@pass_options
@handles_errors
def import_pki(options: Options, file: str, lock_wait: float) -> None:
    """Make the CA in FILE (from `pki export`) the project's on every host. The same CA
    as the hosts have: its certificates are added. Another CA: the next `up` re-creates
    the ambassadors."""
    from xcompose.keystore import Bundle

    project = load(options)
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as error:
        raise UsageError(f"{file}: {error.strerror}") from error
    bundle = Bundle.from_tar(data, file)
    if bundle.project != project.name:
        raise UsageError(f"{file}: the CA of project {bundle.project}, not of {project.name}")
    with reached(hosts_of(project), options) as fleet, locked(fleet.executors, project.name, lock_wait):
        store = host_pki(fleet, project.name)
        store.read()
        written = store.replace(bundle)
    assert store.current is not None
    err.print(f"{project.name}: CA generation {store.current.generation} on hosts "
              f"{', '.join(written) or 'none (they hold it already)'}", markup=False)
