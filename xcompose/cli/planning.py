"""What every command on a project does first: the file loaded (warnings said), and the
plan made from it, with the hosts' certificates and the ports their images expose."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from xcompose.cli.main import Options, err
from xcompose.errors import UsageError
from xcompose.plan.steps import StepId

if TYPE_CHECKING:  # imported where used: cryptography and docker-py are slow to load
    from xcompose.config.project import Project
    from xcompose.engines.fleet import Fleet
    from xcompose.pki import Credentials
    from xcompose.plan.build import ImagePorts
    from xcompose.plan.steps import Plan


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

