"""Any operator, any machine: the project's CA and its lock live on its hosts. Each
operator here is a separate `xcompose` process with a state folder of its own, as a
separate machine would be: none of them re-creates what another applied, two at once
take turns, a killed holder's lock lapses after its lease, and the PKI survives the loss
of its copies through `pki export` / `pki import`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment, Outcome
from tests.e2e.test_faults import Deploy, assert_one_container_per_step, finish, wait_for
from xcompose.run.statebox import box_name

COMPOSE = """\
services:
  words:
    image: xcompose/tools:latest
    expose: [8080]
    environment: {GREETING: hello}
    command: [socat, "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo $$GREETING"]
  web:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    depends_on: [words]
"""
PLACEMENT = """\
hosts: {h1: {}, h2: {}}
services:
  words: {host: h2}
  web: {host: h1}
"""


def operator(tmp_path: Path, name: str, **extra: str) -> dict[str, str]:
    """The environment of an operator on a machine of their own: their own state folder."""
    folder = tmp_path / f"machine-{name}"
    folder.mkdir(exist_ok=True)
    return {**os.environ, "XDG_STATE_HOME": str(folder), "XCOMPOSE_OPERATOR": f"{name}@machine-{name}", **extra}


def up(app: Deployment, env: dict[str, str], *args: str) -> Outcome:
    outcome = app.xcompose("up", *args, env=env)
    assert outcome.code == 0, outcome.output
    return outcome


def container_ids(app: Deployment) -> dict[str, str]:
    return {c.name: c.id for host in app.host_names for c in app.containers(host)}


def greeting(app: Deployment) -> str:
    # grep: an empty answer (a relay still settling) is retried like a failed one.
    code, output = app.exec("web", "h1", "socat -t3 -T5 - TCP:words:8080 </dev/null | grep .", retry_for=30)
    if code != 0 or not output.strip():  # say why: the relays' own words
        logs = [f"{c.name}: {c.logs(tail=20).decode(errors='replace')}" for host in app.host_names
                for c in app.containers(host) if "ambassador" in c.name]
        raise AssertionError("no answer through the ambassadors:\n" + "\n".join(logs))
    return output.strip()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_operators_on_other_machines_recreate_nothing(deploy: Deploy, executor: str, tmp_path: Path) -> None:
    app = deploy(f"ops-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    up(app, operator(tmp_path, "ann"))
    applied = container_ids(app)
    assert len(applied) == 4  # words, its two ambassadors, web
    for name in ("bob", "cat", "dan"):  # dan's machine is brand new: its folder is empty
        outcome = up(app, operator(tmp_path, name))
        assert "nothing to change" in outcome.stderr, outcome.output
        assert container_ids(app) == applied
    for host in app.host_names:  # every host keeps a copy; nothing of it on the machines
        assert app.client(host).containers.get(box_name(app.project, "pki")).status == "created"
    assert not any((tmp_path / f"machine-{n}" / "xcompose").exists() for n in ("ann", "bob", "cat", "dan"))
    assert greeting(app) == "hello"


def test_two_operators_at_once_take_turns_over_a_changed_file(deploy: Deploy, tmp_path: Path) -> None:
    app = deploy("ops-together", "api").use_compose(COMPOSE, PLACEMENT)
    up(app, operator(tmp_path, "ann"))
    app.files[0].write_text(COMPOSE.replace("GREETING: hello", "GREETING: changed"))
    first = app.start("up", env=operator(tmp_path, "bob"))
    second = app.start("up", env=operator(tmp_path, "cat"))
    outcomes = [finish(first), finish(second)]
    for outcome in outcomes:
        assert outcome.code == 0, outcome.output
    waited = [o.stderr for o in outcomes if "waiting for the project lock held by" in o.stderr]
    assert len(waited) == 1, [o.stderr for o in outcomes]
    assert "@machine-" in waited[0] and "nothing to change" in waited[0]
    assert_one_container_per_step(app)
    assert greeting(app) == "changed"


SLOW_HOOK = """\
  slow:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    post_start: [{command: [sleep, "120"]}]
"""


def killed_while_holding_the_lock(app: Deployment, env: dict[str, str]) -> None:
    """An `up` killed with SIGKILL while its `slow` service's hook runs: it holds the lock.
    Killed once the container runs, not once it exists: a container killed before its start
    is made again by the next `up`, whose hook then runs its whole two minutes, as long as
    the hook may take (a race the next `up` lost under load)."""
    holder = app.start("up", env=env)
    try:
        wait_for(lambda: any(c.status == "running" for c in app.containers("h1", service="slow")), 120,
                 "the holder to start the slow service")
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_killed_holders_lock_lapses_after_its_lease(deploy: Deploy, tmp_path: Path) -> None:
    app = deploy("ops-killed", "api").use_compose(COMPOSE + SLOW_HOOK, PLACEMENT + "  slow: {host: h1}\n")
    lease = 6
    killed_while_holding_the_lock(app, operator(tmp_path, "ann", XCOMPOSE_LOCK_LEASE=str(lease)))
    for host in app.host_names:  # a killed run removes nothing: its lock stays behind
        app.client(host).containers.get(box_name(app.project, "lock"))
    # Bob's machine has another name (a UTS namespace of its own): the holder's process is
    # not his to look at, so only the lapsed lease lets him in.
    began = time.monotonic()
    done = subprocess.run(["unshare", "--uts", "sh", "-c", 'hostname machine-bob && exec "$@"', "sh",
                           *app.argv("up", "--lock-wait", str(3 * lease))],
                          env=operator(tmp_path, "bob"), capture_output=True, text=True, timeout=300, check=False)
    took = time.monotonic() - began
    outcome = Outcome(done.returncode, done.stdout, done.stderr)
    assert outcome.code == 0, outcome.output
    # One lease on the first host; the same dead holder's lock on the second goes at once.
    assert re.search(r"took over the lock on host h1 from ann@machine-ann .*no heartbeat for [67]s",
                     outcome.stderr), outcome.output
    assert "took over the lock on host h2 from ann@machine-ann" in outcome.stderr, outcome.output
    assert took < 3 * lease, f"{took:.1f}s"
    assert_one_container_per_step(app)


def test_a_run_killed_on_this_machine_is_taken_over_at_once(deploy: Deploy, tmp_path: Path) -> None:
    app = deploy("ops-here", "api").use_compose(COMPOSE + SLOW_HOOK, PLACEMENT + "  slow: {host: h1}\n")
    killed_while_holding_the_lock(app, operator(tmp_path, "ann"))
    outcome = up(app, operator(tmp_path, "ann"), "--lock-wait", "5")  # well inside the 30 s lease
    assert "took over the lock on host h1 from ann@machine-ann" in outcome.stderr, outcome.output
    assert "its process on this machine has ended" in outcome.stderr
    assert_one_container_per_step(app)


def test_a_rotation_on_one_machine_recreates_the_ambassadors_once_from_another(
        deploy: Deploy, tmp_path: Path) -> None:
    app = deploy("ops-rotate", "api").use_compose(COMPOSE, PLACEMENT)
    up(app, operator(tmp_path, "ann"))
    before = container_ids(app)
    rotated = app.xcompose("pki", "rotate", env=operator(tmp_path, "bob"))
    assert rotated.code == 0 and "generation 2" in rotated.stderr, rotated.output
    up(app, operator(tmp_path, "cat"))
    after = container_ids(app)
    ambassadors = {name for name in before if "ambassador" in name}
    assert len(ambassadors) == 2
    assert {name for name in before if before[name] != after[name]} == ambassadors
    assert "nothing to change" in up(app, operator(tmp_path, "dan")).stderr
    assert container_ids(app) == after
    assert greeting(app) == "hello"


def test_the_pki_comes_back_from_an_export_after_every_copy_is_lost(deploy: Deploy, tmp_path: Path) -> None:
    app = deploy("ops-restore", "api").use_compose(COMPOSE, PLACEMENT)
    up(app, operator(tmp_path, "ann"))
    applied = container_ids(app)
    backup = tmp_path / "pki-backup.tar"
    exported = app.xcompose("pki", "export", str(backup), env=operator(tmp_path, "ann"))
    assert exported.code == 0, exported.output
    assert backup.stat().st_mode & 0o777 == 0o600

    app.client("h1").containers.get(box_name(app.project, "pki")).remove()  # one copy lost:
    outcome = up(app, operator(tmp_path, "bob"))  # the other host's copy serves, and h1 gets its own again
    assert "nothing to change" in outcome.stderr and container_ids(app) == applied
    app.client("h1").containers.get(box_name(app.project, "pki"))

    for host in app.host_names:  # every copy lost
        app.client(host).containers.get(box_name(app.project, "pki")).remove()
    imported = app.xcompose("pki", "import", str(backup), env=operator(tmp_path, "cat"))
    assert imported.code == 0, imported.output
    outcome = up(app, operator(tmp_path, "dan"))
    assert "nothing to change" in outcome.stderr and container_ids(app) == applied


def test_importing_another_projects_ca_is_refused(deploy: Deploy, tmp_path: Path) -> None:
    app = deploy("ops-wrong", "api").use_compose(COMPOSE, PLACEMENT)
    up(app, operator(tmp_path, "ann"))
    backup = tmp_path / "mine.tar"
    assert app.xcompose("pki", "export", str(backup), env=operator(tmp_path, "ann")).code == 0
    wrong = Deployment(app.lab, app.folder, "another", app.executor)
    wrong.files, wrong.host_names = app.files, app.host_names
    refused = wrong.xcompose("pki", "import", str(backup), env=operator(tmp_path, "bob"))
    assert refused.code == 2 and f"the CA of project {app.project}, not of another" in refused.stderr, refused.output
