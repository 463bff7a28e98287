"""Secrets and configs on real hosts, through both executors: a database on one host reads
its password from a secret, a client on another host reads the same secret and logs in by
service name; files land with Compose's paths, modes and owners; nothing of the secret
shows in `docker inspect`; a changed secret re-creates the services that use it, only."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment

Deploy = Callable[[str, str], Deployment]
pytestmark = pytest.mark.parametrize("executor", EXECUTORS)

PASSWORD = "Pg-Secret-4711"
NEW_PASSWORD = "Another-Pg-Secret-0815"

# Usable by `docker compose` on one host as it is.
COMPOSE = """\
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
  client:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    depends_on: [db]
    secrets:
      - source: db_password
        target: pgpass
        uid: "1000"
        gid: "1001"
        mode: 0400
    configs:
      - source: motd
        target: /etc/xcompose/motd
  other:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    configs: [motd]
secrets:
  db_password:
    file: ./db_password.txt
configs:
  motd:
    content: "hello ${GREETING:-from xcompose}"
"""
PLACEMENT = """\
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
services:
  db: {host: h1}
  client: {host: h2}
  other: {host: h2}
"""
LOGIN = "PGPASSWORD=\"$(cat /run/secrets/pgpass)\" psql -h db -U postgres -tAc 'SELECT 6*7'"
STAT = "stat -c '%a %u %g' "


def _ids(app: Deployment) -> dict[str, str]:
    """Container name -> id, for every container of the project on both hosts."""
    return {c.name: c.id for host in ("h1", "h2") for c in app.containers(host)}


def test_a_secret_crosses_hosts_as_files_and_a_change_recreates_its_users_only(
    deploy: Deploy, executor: str
) -> None:
    app = deploy(f"secrets-{executor}", executor)
    app.use_compose(COMPOSE, PLACEMENT)
    password_file = app.folder / "db_password.txt"
    password_file.write_text(PASSWORD + "\n")
    app.up()

    # The database took its password from the file; the client logs in with the same
    # secret, by service name, from the other host. A wrong password is refused.
    assert app.exec("client", "h2", LOGIN, retry_for=60) == (0, "42\n")
    code, _ = app.exec("client", "h2", "PGPASSWORD=wrong psql -h db -U postgres -tAc 'SELECT 1'")
    assert code != 0

    # Compose's places, modes and owners; folders made for the files are root's.
    assert app.exec("db", "h1", STAT + "/run/secrets/db_password") == (0, "444 0 0\n")
    assert app.exec("db", "h1", "cat /run/secrets/db_password") == (0, PASSWORD + "\n")
    assert app.exec("client", "h2", STAT + "/run/secrets/pgpass /run/secrets") == (0, "400 1000 1001\n755 0 0\n")
    assert app.exec("client", "h2", STAT + "/etc/xcompose/motd && cat /etc/xcompose/motd") == (
        0, "444 0 0\nhello from xcompose")
    assert app.exec("other", "h2", "cat /motd; ls /run/secrets 2>&1 || true") == (
        0, "hello from xcompose" + "ls: cannot access '/run/secrets': No such file or directory\n")

    # Nothing of the secret in what Docker shows of any container: not in the environment,
    # the labels or the command line.
    for host in ("h1", "h2"):
        for container in app.containers(host):
            assert PASSWORD not in json.dumps(container.attrs), f"{container.name} shows the secret"

    # A second `up` changes nothing; a changed secret re-creates db and client, not the
    # service that does not use it, nor the ambassadors.
    before = _ids(app)
    app.up()
    assert _ids(app) == before
    password_file.write_text(NEW_PASSWORD + "\n")
    outcome = app.xcompose("plan", "--format", "json")
    assert outcome.code == 0, outcome.output
    steps = json.loads(outcome.stdout)["steps"]
    changed = sorted((s["id"], s["action"], s["reason"]) for s in steps if s["action"] != "keep")
    assert changed == [("service:client", "recreate", "secrets or configs changed"),
                       ("service:db", "recreate", "secrets or configs changed")]
    app.up()
    after = _ids(app)
    recreated = sorted(name for name, cid in before.items() if after.get(name) != cid)
    assert recreated == [f"{app.project}-client", f"{app.project}-db"]
    assert after.keys() == before.keys()
    assert app.exec("client", "h2", LOGIN, retry_for=60) == (0, "42\n")
    assert app.exec("db", "h1", "cat /run/secrets/db_password") == (0, NEW_PASSWORD + "\n")
