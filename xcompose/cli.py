"""The command line: parse, call, print. Exit codes: 0 ok, 1 a step or host failed,
2 bad input or usage."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console

from xcompose import __version__
from xcompose.errors import ConfigErrors, HostError, UsageError
from xcompose.lab.cli import lab

F = TypeVar("F", bound=Callable[..., Any])

# emoji=False: rich would turn `:x:` in a user's value (a link `db:x:y`, a command) into an
# emoji in error messages and in `config`.
# Piped output is for scripts and logs: tables there keep their full width, not 80 columns.
out = Console(highlight=False, soft_wrap=True, emoji=False,
              width=None if sys.stdout.isatty() else 400)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


@dataclass
class Options:
    files: tuple[str, ...]
    project_name: str | None


def _fail(code: int, lines: list[str]) -> None:
    for line in lines:
        err.print(line, markup=False)
    sys.exit(code)


def handles_errors(func: F) -> F:
    """Known failures become one clear message and an exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigErrors as errors:
            _fail(2, [str(e) for e in errors.errors])
        except UsageError as error:
            _fail(2, [f"error: {error}"])
        except HostError as error:
            _fail(1, [str(error)])
        except KeyboardInterrupt:
            _fail(130, ["interrupted"])
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # a bug of ours: say so plainly, trace only on request
            if os.environ.get("XCOMPOSE_DEBUG"):
                traceback.print_exc()
            _fail(1, [f"internal error: {type(error).__name__}: {error}",
                      "(set XCOMPOSE_DEBUG=1 to see where)"])

    return wrapper  # type: ignore[return-value]


def _files(options: Options) -> list[str]:
    if options.files:
        return list(options.files)
    from_env = os.environ.get("XCOMPOSE_FILE")
    if from_env:
        return [f for f in from_env.split(os.pathsep) if f]
    return []


def load(options: Options):  # type: ignore[no-untyped-def]
    from xcompose.loader import load_project

    project = load_project(_files(options), project_name=options.project_name)
    for warning in getattr(project, "warnings", []):
        err.print(f"warning: {warning}", markup=False)
    return project


def make_plan(options: Options):  # type: ignore[no-untyped-def]
    from xcompose.planner import build_plan

    return build_plan(load(options))


@contextmanager
def reached(plan) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Every host of the plan connected and checked before anything changes."""
    from xcompose.apply import reach_hosts

    hosts = reach_hosts(plan.hosts.values())
    try:
        if hosts.errors:
            lines = [f"error: {e}" for e in hosts.errors]
            _fail(1, lines + ["nothing was changed: every host must answer before work starts"])
        yield hosts
    finally:
        hosts.close()


def make_reporter(fmt: str, quiet: bool):  # type: ignore[no-untyped-def]
    from xcompose.progress import ConsoleReporter, JsonReporter, QuietReporter

    if fmt == "json":
        return JsonReporter()
    if quiet:
        return QuietReporter()
    return ConsoleReporter(err)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="Topology file (repeatable; later files override). Env: XCOMPOSE_FILE.")
@click.option("-p", "--project-name", envvar="XCOMPOSE_PROJECT_NAME", metavar="NAME",
              help="Project name (default: the file's `name:` or its folder). "
                   "Env: XCOMPOSE_PROJECT_NAME.")
@click.version_option(__version__, prog_name="xcompose")
@click.pass_context
def cli(ctx: click.Context, files: tuple[str, ...], project_name: str | None) -> None:
    """Wire Docker containers across hosts.

    One YAML file declares hosts, services pinned to hosts, and links; xcompose inserts an
    ambassador pair for every link that crosses hosts and applies it in dependency order.
    """
    ctx.obj = Options(files=files, project_name=project_name)


pass_options = click.make_pass_decorator(Options)


@cli.command()
@click.option("--offline", is_flag=True, help="Do not contact the hosts: ordering only.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "dot", "mermaid"]),
              default="table", show_default=True)
@pass_options
@handles_errors
def plan(options: Options, offline: bool, fmt: str) -> None:
    """Show the steps, grouped in the waves that would run together, and what each does."""
    from xcompose.render import render_plan

    the_plan = make_plan(options)
    if offline:
        out.print(render_plan(the_plan, fmt), markup=False)  # type: ignore[arg-type]
        return
    from xcompose.ambassador import secure_plan
    from xcompose.apply import read_live
    from xcompose.converge import decide

    # The ambassadors' certificates are part of their config hash, as in `up`; only the
    # online plan may create the project's CA, `--offline` never touches it.
    the_plan = secure_plan(the_plan)
    with reached(the_plan) as hosts:
        convergence = decide(the_plan, read_live(the_plan.project, hosts))
    text = render_plan(
        the_plan, fmt, convergence.actions,  # type: ignore[arg-type]
        orphans=[o.step for o in convergence.orphans],
    )
    out.print(text, markup=False)


@cli.command()
@click.argument("services", nargs=-1)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but failures.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one event object a line, for scripts.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for each step to become ready.")
@click.option("--lock-wait", type=float, default=300.0, show_default=True,
              help="Seconds to wait for another run of this project to finish.")
@pass_options
@handles_errors
def up(options: Options, services: tuple[str, ...], quiet: bool, fmt: str, timeout: float,
       lock_wait: float) -> None:
    """Create or converge the project on every host (SERVICE…: those and what they need)."""
    from xcompose.apply import up as apply_up
    from xcompose.lock import LockTimeout, project_lock

    the_plan = make_plan(options)
    unknown = [s for s in services if f"service:{s}" not in the_plan.graph]
    if unknown:
        raise UsageError(f"no such service: {', '.join(unknown)}")
    reporter = make_reporter(fmt, quiet)
    try:
        with project_lock(the_plan.project, lock_wait, _say_waiting), reached(the_plan) as hosts:
            result = apply_up(the_plan, hosts, reporter, services=services, timeout=timeout)
    except LockTimeout as error:
        _fail(1, [f"error: {error}"])
    finally:
        reporter.close()
    if not result.ok:
        lines = []
        for failure in result.walk.failed:
            step = the_plan.step(failure.step_id)
            lines.append(f"error: step {failure.step_id} on host {step.host} failed: {failure.error}")
        skipped = [r.step_id for r in result.walk.results.values() if r.outcome == "not-started"]
        if skipped:
            lines.append(f"not started: {', '.join(sorted(skipped))}")
        lines.append("run `xcompose up` again to resume")
        _fail(1, lines)
    if not quiet and fmt == "text":
        changed = sum(1 for a in result.convergence.actions.values() if a.action != "keep")
        done = f"{changed} step(s) changed" if changed else "nothing to change"
        err.print(f"{the_plan.project} is up: {done}", markup=False)


def _say_waiting(holder: str) -> None:
    err.print(f"waiting for the project lock held by {holder}", markup=False)


@cli.command()
@click.option("-v", "--volumes", is_flag=True, help="Also remove the project's named volumes.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but failures.")
@click.option("--lock-wait", type=float, default=300.0, show_default=True)
@pass_options
@handles_errors
def down(options: Options, volumes: bool, quiet: bool, lock_wait: float) -> None:
    """Remove the project's containers and networks on every host (volumes with -v)."""
    from xcompose.apply import down as apply_down
    from xcompose.apply import reach_hosts
    from xcompose.lock import LockTimeout, project_lock

    the_plan = make_plan(options)
    reporter = make_reporter("text", quiet)
    try:
        with project_lock(the_plan.project, lock_wait, _say_waiting):
            hosts = reach_hosts(the_plan.hosts.values())
            try:
                result = apply_down(the_plan.project, hosts, reporter, plan=the_plan,
                                    volumes=volumes)
            finally:
                hosts.close()
    except LockTimeout as error:
        _fail(1, [f"error: {error}"])
    finally:
        reporter.close()
    if not result.ok:
        _fail(1, [f"error: {e}" for e in result.errors]
              + ["the other hosts were cleaned; run `xcompose down` again when the host is back"])


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@pass_options
@handles_errors
def ps(options: Options, fmt: str) -> None:
    """One table across hosts: service, host, role, state, health, ports."""
    from rich.table import Table

    from xcompose.apply import read_live
    from xcompose.plan import LABEL_ROLE, LABEL_SERVICE

    the_plan = make_plan(options)
    with reached(the_plan) as hosts:
        live = read_live(the_plan.project, hosts)
    rows = [
        {"service": c.labels.get(LABEL_SERVICE, "?"), "host": host,
         "role": c.labels.get(LABEL_ROLE, "?"), "container": c.name, "state": c.state,
         "health": c.health or "", "ports": ", ".join(c.ports)}
        for host, containers in sorted(live.containers.items())
        for c in sorted(containers, key=lambda c: c.name)
    ]
    if fmt == "json":
        out.print(json.dumps(rows, indent=2), markup=False)
        return
    table = Table("SERVICE", "HOST", "ROLE", "CONTAINER", "STATE", "HEALTH", "PORTS")
    for row in rows:
        table.add_row(*(row[k] for k in ("service", "host", "role", "container", "state",
                                         "health", "ports")))
    out.print(table)


@cli.command()
@click.argument("services", nargs=-1)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=int, default=None, help="Lines from the end of each log.")
@click.option("--ambassadors", is_flag=True, help="Include the ambassadors' logs.")
@pass_options
@handles_errors
def logs(options: Options, services: tuple[str, ...], follow: bool, tail: int | None,
         ambassadors: bool) -> None:
    """Logs of services across hosts, each line prefixed and coloured per service."""
    from xcompose.apply import read_live
    from xcompose.logs import stream_logs

    the_plan = make_plan(options)
    with reached(the_plan) as hosts:
        live = read_live(the_plan.project, hosts)
        stream_logs(out, hosts, live, services, follow=follow, tail=tail,
                    ambassadors=ambassadors)


@cli.command()
@click.option("--show-secrets", is_flag=True, help="Print environment values as they are.")
@pass_options
@handles_errors
def config(options: Options, show_secrets: bool) -> None:
    """Print the merged, interpolated, validated file (environment values masked)."""
    from xcompose.loader import dump_config

    out.print(dump_config(load(options), redact=not show_secrets), markup=False, end="")


@cli.command()
@handles_errors
def schema() -> None:
    """Print the topology file's JSON Schema (for editors)."""
    from xcompose.loader import topology_schema

    out.print(json.dumps(topology_schema(), indent=2), markup=False)




@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@pass_options
@handles_errors
def check(options: Options, fmt: str) -> None:
    """Reach every host; open every cross-host link through its ambassadors (latency, TLS)."""
    from xcompose.apply import reach_hosts
    from xcompose.check import check as run_check
    from xcompose.check import render_table

    the_plan = make_plan(options)
    hosts = reach_hosts(the_plan.hosts.values())
    try:
        report = run_check(the_plan, hosts)
    finally:
        hosts.close()
    out.print(report.to_json() if fmt == "json" else render_table(report), markup=False)
    if not report.ok:
        sys.exit(1)


@cli.group()
def pki() -> None:
    """The project's CA for mutual TLS between ambassadors."""


@pki.command()
@pass_options
@handles_errors
def rotate(options: Options) -> None:
    """Issue a new CA and new ambassador certificates; the next `up` re-creates the ambassadors."""
    from xcompose.pki import ProjectPki

    project = load(options).name
    store = ProjectPki(project)
    store.rotate()
    err.print(f"{project}: new CA in {store.dir}; run `xcompose up` to re-create the ambassadors",
              markup=False)


cli.add_command(lab)


def main() -> None:
    cli(prog_name="xcompose")
