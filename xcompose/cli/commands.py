"""The commands: each parses its options, calls the layers in order (load, credentials,
plan, reach, run) and prints. Nothing here decides or acts on its own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from xcompose.cli.main import (
    Options,
    cli,
    complete_services,
    err,
    fail,
    handles_errors,
    out,
    pass_options,
    print_text,
)
from xcompose.cli.output import PROGRESS
from xcompose.errors import UsageError, XcomposeError
from xcompose.plan.steps import StepId
from xcompose.run.operator import operator

if TYPE_CHECKING:  # imported where used: cryptography and docker-py are slow to load
    from xcompose.config.project import Project
    from xcompose.engines.base import Executor
    from xcompose.engines.fleet import Fleet
    from xcompose.pki import Credentials
    from xcompose.plan.build import ImagePorts
    from xcompose.plan.converge import Recreate
    from xcompose.plan.render import Format
    from xcompose.plan.specs import HostTarget
    from xcompose.plan.steps import Plan
    from xcompose.run.hostpki import HostPki
    from xcompose.run.lease import ProjectLock
    from xcompose.run.up import Reporter

WAIT_HELP = "Seconds to wait for another run of this project to finish."
progress_option = click.option(
    "--progress", type=click.Choice(PROGRESS), default="auto", show_default=True,
    help="How progress is shown: a spinner on a terminal (auto), always (tty), lines only (plain), JSON events "
    "(json) or nothing (quiet).",
)


def load(options: Options) -> Project:
    from xcompose.config.load import load_project

    stdin = sys.stdin.buffer.read() if "-" in options.files else None
    project = load_project(options.files, project_name=options.project_name, profiles=options.profiles,
                           project_directory=options.project_directory, env_files=options.env_files, stdin=stdin)
    for warning in project.warnings:
        err.print(f"warning: {warning}", markup=False)
    return project


def make_plan(
    project: Project, credentials: Credentials | None = None, image_ports: ImagePorts | None = None
) -> Plan:
    """The plan; without credentials, ambassadors are planned without certificates (what
    `config`, `plan --offline`, `ps`, `logs` and `down` need of it)."""
    from xcompose.pki import Credentials
    from xcompose.plan.build import build_plan

    return build_plan(project, credentials or Credentials.none(project.name), image_ports)


def with_certificates(the_plan: Plan, credentials: Credentials) -> Plan:
    """The plan made before the hosts were asked, its ambassadors given the certificates
    the hosts keep (the plan `make_plan(project, credentials)` makes, at a fraction of
    its cost)."""
    from xcompose.plan.ambassadors import with_certificates as signed

    return signed(the_plan, credentials)


def plan_against(fleet: Fleet, project: Project, credentials: Credentials, first: Plan, *, pull: bool) -> Plan:
    """The plan once the hosts have said what the images of services that declare no port
    expose; `pull`: an image not on its host yet is pulled to find out (`up`), or its ports
    stay unknown and the plan says so (`plan`)."""
    if not first.needs_image_ports:
        return first
    images: dict[str, dict[str, bool]] = {}
    for service, image in first.needs_image_ports.items():
        declared = project.topology.services[service]
        # An image with `build:` is built, never pulled, unless its pull policy says so.
        may_pull = declared.pull_policy == "always" if declared.build else declared.pull_policy != "never"
        images.setdefault(project.host_of(service), {})[image] = pull and may_pull
    return make_plan(project, credentials, fleet.image_ports(images))


def unbuilt_images(project: Project, first: Plan) -> dict[str, set[str]]:
    """Per host, the images plan_against will ask about that are not built by `up`."""
    found: dict[str, set[str]] = {}
    for service, image in first.needs_image_ports.items():
        if not project.topology.services[service].build:
            found.setdefault(project.host_of(service), set()).add(image)
    return found


def known_services(the_plan: Plan, services: Iterable[str]) -> None:
    """A usage error for services the plan does not have."""
    unknown = [s for s in services if StepId.service(s) not in the_plan]
    if unknown:
        raise UsageError(f"no such service: {', '.join(unknown)}")


def host_pki(fleet: Fleet, project: str) -> HostPki:
    """The project's PKI as the hosts that answered keep it."""
    from xcompose.run.hostpki import HostPki

    return HostPki(fleet.executors, project, operator())


def hosts_of(project: Project) -> list[HostTarget]:
    from xcompose.plan.build import host_targets

    return list(host_targets(project).values())


@contextmanager
def locked(executors: Mapping[str, Executor], project: str, wait: float, reporter: Reporter | None = None
           ) -> Iterator[ProjectLock]:
    """The project lock on these hosts: waits for another run (saying whose), takes over a
    lock whose holder stopped renewing it."""
    from xcompose.run.lease import project_lock

    with project_lock(executors, project, operator(), wait, _say_waiting) as lock:
        for line in lock.broken:
            if reporter is not None:
                reporter.note(f"note: {line}")
            else:
                err.print(f"note: {line}", markup=False)
        yield lock


@contextmanager
def reached(hosts: Plan | Iterable[HostTarget], options: Options, *, all_needed: bool = True,
            reporter: Reporter | None = None) -> Iterator[Fleet]:
    """Every host (of the plan) connected. With `all_needed` (commands that change things),
    a host that does not answer stops the command before anything changes."""
    from xcompose.engines.fleet import reach
    from xcompose.plan.steps import Plan

    targets = hosts.hosts.values() if isinstance(hosts, Plan) else hosts
    fleet = reach(targets, lost_after=options.host_timeout)
    with fleet:
        if all_needed and fleet.errors:
            lines = [*(f"error: {e}" for e in fleet.errors),
                     "nothing was changed: every host must answer before work starts"]
            if reporter is not None:
                for line in lines:
                    reporter.error(line.removeprefix("error: "))
            fail(1, lines)
        yield fleet


def report_unreached(fleet: Fleet, failures: list[XcomposeError]) -> None:
    """Read-only commands show what answered, then one line per host that did not."""
    problems = [*fleet.errors, *failures]
    if problems:
        fail(1, [f"error: {e}" for e in problems])


@cli.command()
@click.option("--offline", is_flag=True, help="Do not contact the hosts: ordering only.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "dot", "mermaid"]),
              default="table", show_default=True)
@pass_options
@handles_errors
def plan(options: Options, offline: bool, fmt: Format) -> None:
    """Show the steps, grouped in the waves that would run together, and what each does."""
    from xcompose.alloc import exit_without_freeing
    from xcompose.plan.render import render_plan

    project = load(options)
    if project.topology.engine == "swarm":
        from xcompose.cli import swarm

        swarm.plan(options, project, offline, fmt)
        return
    if offline:
        print_text(render_plan(make_plan(project), fmt))
        exit_without_freeing()  # freeing a large plan took longer than printing it
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


def _say_waiting(holder: str) -> None:
    err.print(f"waiting for the project lock held by {holder}", markup=False)


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
