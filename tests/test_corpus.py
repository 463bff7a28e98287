"""Every public compose file of tests/corpus split over two hosts, as a user splits an app:
the compose file untouched, and beside it a placement file that declares two hosts and
pins the services alternately to one and the other. Services that can only share one host
(a network or IPC namespace, `volumes_from`, a named volume) are pinned together, as any
placement that works must pin them. Each file must load and plan, or be refused with
messages located in the file; none may fail inside xcompose."""

from __future__ import annotations

import itertools
import re
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import networkx as nx
import pytest
import yaml

from xcompose.config.load import load_project
from xcompose.config.model import Service
from xcompose.config.mounts import VolumeMount
from xcompose.config.options import parse_volumes_from
from xcompose.config.project import Project
from xcompose.errors import ConfigErrors
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan

CORPUS = Path(__file__).parent / "corpus"
COMPOSE_FILES = sorted(CORPUS.glob("*.yaml"))
# Files that `docker compose` refuses as they stand, and why: xcompose must refuse them too.
REFUSED_BY_COMPOSE = {
    "compose-go__loader__testdata__extends__base.yaml": "a file to extend from: some services have no image",
    "docker-compose-e2e__pkg__e2e__fixtures__env_file__compose.yaml": "names an env file that does not exist",
    "docker-elk__extensions__fleet__fleet-compose.yaml": "an extension, read with docker-elk's main file",
    "docker-elk__extensions__metricbeat__metricbeat-compose.yaml": "an extension, read with docker-elk's main file",
    "docker-zulip__compose.yaml": "uses secrets that another file of the app declares",
    "dockprom__docker-compose.yaml": "'$2a$14$...' in a default value: '$' before a digit is no interpolation",
    "dockersamples-atsea__docker-stack.yaml": "external secrets, which only Swarm keeps",
    "dockersamples-voting-app__docker-stack.yaml": "two replicas publish one host port, as only Swarm's routing mesh allows",
    "redash__compose.yaml": "its .env is made by `make .env`, not kept in the repository",
}
# Of the files `docker compose` accepts, how many xcompose plans over two hosts: a floor
# that rises as xcompose learns more of Compose. What it still refuses, and why: README.
PLANNED_AT_LEAST = 85
# A located message: `FILE:LINE: key.path: message` (or without a key path).
LOCATED = re.compile(r"^\S+:\d+: .+")


@dataclass(frozen=True)
class Outcome:
    planned: bool
    errors: tuple[str, ...] = ()
    internal: str | None = None  # an exception other than ConfigErrors: a bug of xcompose's


def unit_pairs(name: str, service: Service, project: Project) -> list[tuple[str, str]]:
    """The services `name` must share a host with."""
    pairs = []
    for mode in (service.network_mode, service.ipc, service.pid):
        if mode and mode.startswith("service:"):
            pairs.append((name, mode.removeprefix("service:")))
    for entry in service.volumes_from:
        target = parse_volumes_from(entry)[0]
        if target is not None:
            pairs.append((name, target))
    return pairs


def named_volumes(mounts: list[VolumeMount], project: Project) -> list[str]:
    return [m.source for m in mounts if m.type == "volume" and m.source
            and not project.topology.volume(m.source).external]


def placement(project: Project) -> dict[str, str]:
    """Each service's host: groups of services that must share one, alternately on h1, h2."""
    services = project.topology.services
    together: nx.Graph[str] = nx.Graph()
    together.add_nodes_from(services)
    users: dict[str, list[str]] = {}
    for name, service in services.items():
        together.add_edges_from(pair for pair in unit_pairs(name, service, project) if pair[1] in services)
        for volume in named_volumes(list(service.volumes), project):
            users.setdefault(volume, []).append(name)
    for names in users.values():
        together.add_edges_from(itertools.pairwise(names))
    groups = sorted(sorted(group) for group in nx.connected_components(together))
    return {name: f"h{index % 2 + 1}" for index, group in enumerate(groups) for name in group}


def split_over_two_hosts(compose: Path, folder: Path) -> Outcome:
    shutil.copy(compose, folder / "compose.yaml")
    companions = compose.with_suffix(".files")
    if companions.is_dir():
        shutil.copytree(companions, folder, dirs_exist_ok=True)
    try:
        alone = load_project([folder / "compose.yaml"], environ={}, project_name="corpus")
        place = {"hosts": {"h1": {"address": "10.0.0.1"}, "h2": {"address": "10.0.0.2"}},
                 "services": {name: {"host": host} for name, host in placement(alone).items()}}
        (folder / "placement.yaml").write_text(yaml.safe_dump(place))
        project = load_project([folder / "compose.yaml", folder / "placement.yaml"], environ={},
                               project_name="corpus")
        build_plan(project, Credentials.none("corpus"))
    except ConfigErrors as refused:
        return Outcome(False, tuple(str(error) for error in refused.errors))
    except Exception as error:  # noqa: BLE001 - reported by the test, with the file
        return Outcome(False, internal=f"{type(error).__name__}: {error}")
    return Outcome(True)


@cache
def outcome(name: str, scratch: Path) -> Outcome:
    folder = scratch / name
    folder.mkdir()
    return split_over_two_hosts(CORPUS / name, folder)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def test_the_corpus_has_sixty_files_or_more() -> None:
    assert len(COMPOSE_FILES) >= 60


@pytest.mark.parametrize("compose", COMPOSE_FILES, ids=lambda p: p.stem)
def test_a_file_plans_over_two_hosts_or_is_refused_where_it_is_wrong(scratch: Path, compose: Path) -> None:
    result = outcome(compose.name, scratch)
    assert result.internal is None, result.internal
    assert result.planned or result.errors
    unlocated = [error for error in result.errors if not LOCATED.match(error)]
    assert unlocated == []


@pytest.mark.parametrize("name", sorted(REFUSED_BY_COMPOSE))
def test_a_file_compose_refuses_is_refused(scratch: Path, name: str) -> None:
    assert not outcome(name, scratch).planned


def test_the_files_compose_accepts_plan_over_two_hosts(scratch: Path) -> None:
    accepted = [p.name for p in COMPOSE_FILES if p.name not in REFUSED_BY_COMPOSE]
    refused = {name: outcome(name, scratch).errors for name in accepted if not outcome(name, scratch).planned}
    planned = len(accepted) - len(refused)
    report = "\n".join(f"{name}: {errors[0] if errors else '?'}" for name, errors in sorted(refused.items()))
    print(f"{planned} of the {len(accepted)} files Compose accepts plan over two hosts ({planned / len(accepted):.0%})")
    assert planned >= PLANNED_AT_LEAST, f"{planned}/{len(accepted)} plan; refused:\n{report}"
