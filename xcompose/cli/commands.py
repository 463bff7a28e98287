"""The commands that change or plan a project: `plan`, `up`, `build`, `down`. Each parses its
options, calls the layers in order (load, credentials, plan, reach, run) and prints. Nothing
here decides or acts on its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from xcompose.cli.hosts import WAIT_HELP, host_pki, locked, reached
from xcompose.cli.main import (
    Options,
    cli,
    complete_services,
    err,
    fail,
    handles_errors,
    pass_options,
    print_text,
)
from xcompose.cli.output import PROGRESS
from xcompose.cli.planning import known_services, load, make_plan, plan_against, unbuilt_images, with_certificates
from xcompose.errors import UsageError, XcomposeError
from xcompose.plan.steps import StepId
from xcompose.run.operator import operator

if TYPE_CHECKING:  # imported where used: cryptography and docker-py are slow to load
    from xcompose.config.project import Project
    from xcompose.engines.fleet import Fleet
    from xcompose.plan.converge import Recreate
    from xcompose.plan.render import Format
    from xcompose.plan.steps import Plan

progress_option = click.option(
    "--progress", type=click.Choice(PROGRESS), default="auto", show_default=True,
    help="How progress is shown: a spinner on a terminal (auto), always (tty), lines only (plain), JSON events "
    "(json) or nothing (quiet).",
)


@cli.command()
@click.option("--offline", is_flag=True, help="Do not contact the hosts: ordering only.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "dot", "mermaid"]),
              default="table", show_default=True)
@pass_options
@handles_errors
def plan(options: Options, offline: bool, fmt: Format) -> None:
    """Show the steps, grouped in the waves that would run together, and what each does."""
    from xcompose.plan.render import render_plan

    project = load(options)
    if project.topology.engine == "swarm":
        from xcompose.cli import swarm

        swarm.plan(options, project, offline, fmt)
        return
    if offline:
        print_text(render_plan(make_plan(project), fmt))
        return
    from xcompose.plan.converge import decide

    # The certificates are part of the ambassadors' config hash, as in `up`; reading them
    # writes nothing, and a project without a CA is shown as getting a new one.
    the_plan = make_plan(project)  # a mistake in the file is said before any host is asked
    with reached(the_plan, options) as fleet:
        credentials = host_pki(fleet, project.name).credentials()
        the_plan = with_certificates(the_plan, credentials)
        the_plan = plan_against(fleet, project, credentials, the_plan, pull=False)
        the_plan = pin_built_images(the_plan, fleet)
        live, failures = fleet.read_live(the_plan.project)
    if failures:
        raise failures[0]
    convergence = decide(the_plan, live)
    print_text(render_plan(the_plan, fmt, convergence.actions, convergence.orphans))


def pin_built_images(the_plan: Plan, fleet: Fleet) -> Plan:
    """The plan with the ids the built images have on their hosts now (building none)."""
    from xcompose.cli.output import QuietReporter
    from xcompose.run.images import build_images, pin_images

    return pin_images(the_plan, build_images(the_plan, fleet, QuietReporter()))


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("-d", "--detach", is_flag=True, help="Accepted for Compose's sake: xcompose always detaches.")
@click.option("--build", "build", is_flag=True,
              help="Build the images of services with `build:` first, even those already built.")
@click.option("--no-deps", is_flag=True, help="With SERVICE…: only those, not what they need.")
@click.option("--force-recreate", is_flag=True, help="Re-create the services' containers even if unchanged.")
@click.option("--no-recreate", is_flag=True, help="Keep existing containers even if their config changed.")
@click.option("--remove-orphans", is_flag=True, help="Remove containers of services no longer in the file.")
@click.option("--pull", "pull_policy", type=click.Choice(["always", "missing", "never"]),
              help="Pull images: always, when missing, or never (default: each service's pull_policy).")
@click.option("--scale", "scales", multiple=True, metavar="SERVICE=N",
              help="Run N containers of SERVICE (repeatable; overrides scale and deploy.replicas).")
@click.option("--wait", is_flag=True, help="Accepted for Compose's sake: up always waits for readiness.")
@click.option("--no-start", is_flag=True, help="Create the containers, start none.")
@click.option("--wait-timeout", type=click.FloatRange(min=0), default=120.0, show_default=True,
              help="Seconds to wait for each step to become ready.")
@click.option("-t", "--timeout", "stop_timeout", type=click.IntRange(min=0),
              help="Seconds a replaced container has to stop (default: its stop_grace_period, else 10).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but failures.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one event object a line, for scripts.")
@progress_option
@click.option("--lock-wait", type=click.FloatRange(min=0), default=300.0, show_default=True, help=WAIT_HELP)
@click.option("--without", multiple=True, hidden=True)  # `run`: what SERVICE needs, not SERVICE
@pass_options
@handles_errors
def up(options: Options, services: tuple[str, ...], detach: bool, build: bool, no_deps: bool,
       force_recreate: bool, no_recreate: bool, remove_orphans: bool, pull_policy: str | None,
       scales: tuple[str, ...], wait: bool, no_start: bool, wait_timeout: float, stop_timeout: int | None,
       quiet: bool, fmt: str, progress: str, lock_wait: float, without: tuple[str, ...]) -> None:
    """Create or converge the project on every host (SERVICE…: those and what they need)."""
    from xcompose.cli.output import make_reporter
    from xcompose.plan.steps import ServiceStep
    from xcompose.run.images import build_images, pin_images
    from xcompose.run.up import UpOptions
    from xcompose.run.up import up as run_up

    if force_recreate and no_recreate:
        raise UsageError("--force-recreate and --no-recreate contradict each other")
    if no_deps and not services:
        raise UsageError("--no-deps needs the services to bring up")
    project = with_overrides(load(options), parse_scales(scales), pull_policy)
    recreate: Recreate = "always" if force_recreate else "never" if no_recreate else "changed"
    if project.topology.engine == "swarm":
        from xcompose.cli import swarm

        flags = {"--build": build, "--no-start": no_start, "--timeout": stop_timeout is not None}
        swarm.up(options, project, services=services, no_deps=no_deps, unsupported=[f for f, on in flags.items() if on],
                 remove_orphans=remove_orphans, recreate=recreate, wait_timeout=wait_timeout, quiet=quiet,
                 fmt=fmt, progress=progress, lock_wait=lock_wait)
        return
    run_options = UpOptions(
        services=services, no_deps=no_deps, without=without, remove_orphans=remove_orphans, wait_timeout=wait_timeout,
        no_start=no_start, applied_by=operator(),
        stop_timeout=stop_timeout, recreate=recreate,
    )
    # Planned once before any host is asked, so a mistake in the file is said first; under
    # the lock, its ambassadors are given the certificates the hosts keep.
    the_plan = make_plan(project)
    known_services(the_plan, services)
    in_scope = set(project.topology.services)
    if services:
        todo = the_plan.needed_for(StepId.service(s) for s in services)
        in_scope = {step.service for step in todo.steps() if isinstance(step, ServiceStep)}
    reporter = make_reporter(fmt, quiet, err, progress)
    json_out = fmt == "json" or progress == "json"
    try:
        with (
            reached(the_plan, options, reporter=reporter) as fleet,
            locked(fleet.executors, project.name, lock_wait, reporter) as lock,
        ):
            # Nothing of the project changes before the walk reads it, nor an image that is not
            # built before it is planned with: those readings start now, beside the
            # certificates'.
            fleet.prefetch_live(project.name)
            fleet.prefetch_image_ports(unbuilt_images(project, the_plan))
            # Read under the lock: a run that makes the CA is the only one that can.
            store = host_pki(fleet, project.name)
            # The first `up` of a project with TLS ambassadors makes its CA before planning
            # with it, rather than planning once more after.
            credentials = store.credentials()
            if the_plan.uses_tls:
                credentials = store.ensure_ca()
            for note in store.notes:
                reporter.note(f"note: {note}")
            the_plan = with_certificates(the_plan, credentials)
            # Images first, as Compose does: what a built image EXPOSEs is planned with.
            built = build_images(the_plan, fleet, reporter, build=in_scope, force=build)
            the_plan = plan_against(fleet, project, credentials, the_plan, pull=True)
            if the_plan.new_ca:  # ambassadors only the images' EXPOSE called for
                credentials = store.ensure_ca()
                the_plan = plan_against(fleet, project, credentials, make_plan(project, credentials), pull=True)
            store.save(credentials)
            for note in the_plan.notes:
                reporter.note(f"note: {note}")
            result = run_up(pin_images(the_plan, built), fleet, reporter, run_options, may_work_on=lock.held)
        failed = [f"error: step {f.step_id} on host {the_plan.step(f.step_id).host} failed: {f.error}"
                  for f in result.walk.failed]
        if result.walk.not_started:
            failed.append(f"not started: {', '.join(sorted(str(s) for s in result.walk.not_started))}")
        for line in failed:
            reporter.error(line.removeprefix("error: "))
    except XcomposeError as error:  # said in JSON too, for scripts that read only the events
        for line in error.lines():
            reporter.error(line.removeprefix("error: "))
        raise
    finally:
        reporter.close()
    if not result.ok:
        fail(1, [*failed, "run `xcompose up` again to resume"])
    if not quiet and not json_out and progress != "quiet":
        changed = result.convergence.changes
        err.print(f"{the_plan.project} is up: {f'{changed} step(s) changed' if changed else 'nothing to change'}",
                  markup=False)


@cli.command()
@click.argument("services", nargs=-1, shell_complete=complete_services)
@click.option("--no-cache", is_flag=True, help="Do not use the build cache.")
@click.option("--pull", is_flag=True, help="Pull newer versions of the base images first.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but failures.")
@progress_option
@pass_options
@handles_errors
def build(options: Options, services: tuple[str, ...], no_cache: bool, pull: bool, quiet: bool, progress: str) -> None:
    """Build or rebuild the images of services with `build:`, each on its service's host."""
    from xcompose.cli.output import make_reporter
    from xcompose.engines.fleet import reach
    from xcompose.run.images import build_images, built_steps

    the_plan = make_plan(load(options))
    known_services(the_plan, services)
    steps = built_steps(the_plan)
    chosen = [s for s in services or sorted(steps) if s in steps]
    reporter = make_reporter("text", quiet, err, progress)
    try:
        for service in [s for s in services if s not in steps]:
            reporter.note(f"{service} has no `build:` section: nothing to build")
        if not chosen:
            return
        hosts = [the_plan.hosts[h] for h in sorted({steps[s].host for s in chosen})]
        with reach(hosts, lost_after=options.host_timeout) as fleet:
            if fleet.errors:
                fail(1, [f"error: {e}" for e in fleet.errors] + ["nothing was built"])
            build_images(the_plan, fleet, reporter, build=chosen, force=True, no_cache=no_cache, pull=pull)
    finally:
        reporter.close()


def parse_scales(scales: tuple[str, ...]) -> dict[str, int]:
    """`--scale SERVICE=N` options, checked."""
    found: dict[str, int] = {}
    for item in scales:
        service, sep, number = item.partition("=")
        if not sep or not service or not number.isdigit() or int(number) < 1:
            raise UsageError(f"--scale {item}: give SERVICE=N, N at least 1")
        found[service] = int(number)
    return found


def with_overrides(project: Project, scales: dict[str, int], pull_policy: str | None) -> Project:
    """The project with `--scale` and `--pull` applied to its services."""
    services = project.topology.services
    unknown = sorted(set(scales) - set(services))
    if unknown:
        raise UsageError(f"--scale: no such service: {', '.join(unknown)}")
    changed = {}
    for name, service in services.items():
        update: dict[str, object] = {}
        if name in scales:
            deploy = service.deploy.model_copy(update={"replicas": None}) if service.deploy else None
            update |= {"scale": scales[name], "deploy": deploy}
        if pull_policy is not None and service.pull_policy != "build":
            update["pull_policy"] = pull_policy
        if update:
            changed[name] = service.model_copy(update=update)
    if not changed:
        return project
    project.topology = project.topology.model_copy(update={"services": {**services, **changed}})
    return project


@cli.command()
@click.option("-v", "--volumes", is_flag=True,
              help="Also remove the project's named volumes, and its CA kept on the hosts.")
@click.option("--remove-orphans", is_flag=True, help="Also remove containers of services no longer in the file.")
@click.option("--rmi", type=click.Choice(["all", "local"]),
              help="Also remove the services' images (local: those built without an `image:` name).")
@click.option("-t", "--timeout", "stop_timeout", type=click.IntRange(min=0),
              help="Seconds each container has to stop (default: its stop_grace_period, else 10).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but failures.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one event object a line, for scripts.")
@progress_option
@click.option("--lock-wait", type=click.FloatRange(min=0), default=300.0, show_default=True, help=WAIT_HELP)
@pass_options
@handles_errors
def down(options: Options, volumes: bool, remove_orphans: bool, rmi: str | None, stop_timeout: int | None,
         quiet: bool, fmt: str, progress: str, lock_wait: float) -> None:
    """Remove the project's containers and networks on every host (volumes with -v)."""
    from xcompose.cli.output import make_reporter
    from xcompose.engines.fleet import reach
    from xcompose.run.down import DownOptions
    from xcompose.run.down import down as run_down

    down_options = DownOptions(volumes=volumes, remove_orphans=remove_orphans, stop_timeout=stop_timeout,
                               rmi="all" if rmi == "all" else "local" if rmi == "local" else None)

    project = load(options)
    if project.topology.engine == "swarm":
        from xcompose.cli import swarm

        flags = {"--rmi": rmi is not None, "--timeout": stop_timeout is not None}
        swarm.down(options, project, volumes=volumes, unsupported=[f for f, on in flags.items() if on], quiet=quiet,
                   fmt=fmt, progress=progress, lock_wait=lock_wait)
        return
    the_plan = make_plan(project)
    reporter = make_reporter(fmt, quiet, err, progress)
    try:
        with (
            reach(the_plan.hosts.values(), lost_after=options.host_timeout) as fleet,
            locked(fleet.executors, the_plan.project, lock_wait, reporter),
        ):
            result = run_down(the_plan.project, fleet, reporter, plan=the_plan, options=down_options)
        for error in result.errors:
            reporter.error(error)
    finally:
        reporter.close()
    if not result.ok:
        fail(1, [f"error: {e}" for e in result.errors]
             + ["the other hosts were cleaned; run `xcompose down` again when the host is back"])


