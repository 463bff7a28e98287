"""The commands whose input and output are the user's: `exec` in a running container of a
service and `run` of a one-off one, each on the service's host, exit code passed through."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from xcompose.cli.hosts import reached
from xcompose.cli.main import Options, cli, complete_services, fail, handles_errors, out, pass_options
from xcompose.cli.planning import load, make_plan
from xcompose.cli.targets import one, targets
from xcompose.errors import UsageError
from xcompose.plan.steps import StepId
from xcompose.run.operator import operator

if TYPE_CHECKING:
    from xcompose.plan.specs import ContainerSpec
    from xcompose.plan.steps import ServiceStep


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
    from xcompose.run.up import ensure_image, stamped

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
        container_id = executor.create(stamped(spec, operator()))
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
