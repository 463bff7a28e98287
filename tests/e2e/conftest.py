"""End-to-end fixtures: one lab of three real Docker hosts for the whole test session.

The lab is torn down by a finalizer, by `atexit` (a crash in pytest itself), and at the
start of the next session if a killed run left one behind. If the lab cannot be built
(not root, a package missing, no kernel support) the fixture FAILS with the reason: an
e2e suite that silently skips proves nothing.

docker-py's ssh:// transport (paramiko) reads only ~/.ssh of $HOME; for the session HOME
points at the lab's ssh home, whose .ssh/config and known_hosts trust exactly the lab
hosts (the user's own ~/.ssh is never touched). XCOMPOSE_SSH_CONFIG and
XCOMPOSE_KNOWN_HOSTS are exported too, for xcompose's SSH executor.
"""

from __future__ import annotations

import atexit
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.deploy import Deployment
from xcompose.lab import Lab, LabError, LabHost

E2E_PREFIX = os.environ.get("XCOMPOSE_E2E_LAB", "xct")
E2E_HOSTS = 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here + os.sep):
            item.add_marker(pytest.mark.e2e)


def _teardown_quietly(prefix: str) -> None:
    try:
        Lab.teardown(prefix)
    except Exception as exc:  # noqa: BLE001 - last-resort cleanup must not raise at exit
        print(f"warning: lab {prefix} teardown: {exc}")


def _sigterm_to_interrupt() -> None:
    # A CI runner's SIGTERM would kill pytest without running finalizers; as an
    # interrupt, pytest tears the session (and the lab) down.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def handler(signum: int, frame: object) -> None:
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, handler)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("e2e tests need root to build the lab (network namespaces, dockerd)", pytrace=False)
    _sigterm_to_interrupt()
    try:
        Lab.teardown(E2E_PREFIX)  # a stale lab of a crashed run
        atexit.register(_teardown_quietly, E2E_PREFIX)
        the_lab = Lab.up(hosts=E2E_HOSTS, prefix=E2E_PREFIX)
    except LabError as exc:
        pytest.fail(f"cannot start the e2e lab: {exc}", pytrace=False)
    mp = pytest.MonkeyPatch()
    try:
        for key, val in the_lab.env().items():
            mp.setenv(key, val)
        mp.setenv("HOME", str(the_lab.ssh_home))
        try:
            the_lab.images()
        except LabError as exc:
            pytest.fail(f"cannot load images into the e2e lab: {exc}", pytrace=False)
        yield the_lab
    finally:
        mp.undo()
        the_lab.down()


@pytest.fixture(scope="session")
def lab_hosts(lab: Lab) -> list[LabHost]:
    return lab.hosts


@pytest.fixture(scope="module")
def lab_swarm(lab: Lab) -> Iterator[Lab]:
    """The session lab made one Docker Swarm (as `lab up --swarm` does) for the tests of one
    module, and plain engines again after it: the other tests never meet a swarm. Forming
    and leaving take a few seconds."""
    try:
        lab.form_swarm()
    except LabError as exc:
        pytest.fail(f"cannot form a swarm of the e2e lab: {exc}", pytrace=False)
    try:
        yield lab
    finally:
        lab.dissolve_swarm()


@pytest.fixture
def deploy(lab: Lab, tmp_path: Path) -> Iterator[Callable[[str, str], Deployment]]:
    """Make Deployments of topologies on the lab; each is taken down after the test, even
    when it fails, so one test's containers never meet the next test's."""
    made: list[Deployment] = []

    def make(project: str, executor: str) -> Deployment:
        folder = tmp_path / project
        folder.mkdir()
        deployment = Deployment(lab, folder, project, executor)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        if deployment.files:
            deployment.down("--volumes", "--remove-orphans")
        deployment.close()
