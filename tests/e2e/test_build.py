"""`build:` on the lab, through both executors: each image is built on its service's host
from a context sent from here, the built service is reached by name from another host,
a second `up` builds and re-creates nothing, and a changed context re-creates only the
service built from it, with `up --build` or with `xcompose build` then `up`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment, Outcome

Deploy = Callable[[str, str], Deployment]
pytestmark = pytest.mark.parametrize("executor", EXECUTORS)

# Usable as it is by `docker compose` on one host. web declares no port: other hosts reach
# it on what its Dockerfile EXPOSEs, known once it is built. The lab has no registry and no
# internet: the builds start from images the lab hosts have and download nothing.
COMPOSE = """\
services:
  web:
    build: ./web
  client:
    image: {project}/client:1
    build:
      context: ./client
      dockerfile_inline: |
        FROM xcompose/tools:latest
        LABEL purpose=client
    command: [sleep, infinity]
    depends_on: [web]
"""
PLACEMENT = """\
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
services:
  web: {host: h1}
  client: {host: h2}
"""
DOCKERFILE = """\
FROM xcompose/tools:latest
COPY . /srv/
EXPOSE 8000
CMD ["socat", "TCP-LISTEN:8000,fork,reuseaddr", "SYSTEM:cat /srv/message.txt"]
"""
ASK_WEB = "socat -u TCP:web:8000 STDOUT"


def built(outcome: Outcome) -> set[str]:
    """The services whose builds printed output during this `up --format json`."""
    events = [json.loads(line) for line in outcome.stdout.splitlines() if line.startswith("{")]
    return {str(e["service"]) for e in events if e.get("event") == "build"}


def ids(app: Deployment) -> dict[str, str]:
    """Every container of the project on every host, by name: its id."""
    return {c.name: c.id for host in app.host_names for c in app.containers(host)}


def test_built_images_run_on_their_hosts_and_only_a_changed_one_is_recreated(
    deploy: Deploy, executor: str
) -> None:
    project = f"build-{executor}"
    app = deploy(project, executor)
    (app.folder / "web").mkdir()
    (app.folder / "web" / "Dockerfile").write_text(DOCKERFILE)
    (app.folder / "web" / "message.txt").write_text("v1\n")
    (app.folder / "web" / "secret.txt").write_text("never sent\n")
    (app.folder / "web" / ".dockerignore").write_text("secret.txt\n")
    (app.folder / "client").mkdir()
    app.use_compose(COMPOSE.format(project=project), PLACEMENT)

    first = app.up()
    assert built(first) == {"web", "client"}
    assert app.exec("client", "h2", ASK_WEB, retry_for=20) == (0, "v1\n")
    assert app.exec("web", "h1", "ls /srv") == (0, "Dockerfile\nmessage.txt\n")  # .dockerignore honoured
    # The same image under several names when the other executor's run built it too.
    assert f"{project}/client:1" in app.container("client", "h2").image.tags
    assert f"{project}-web:latest" in app.container("web", "h1").image.tags

    before = ids(app)
    second = app.up()
    assert built(second) == set()
    assert ids(app) == before

    # A changed context and `up --build`: both images are built again, but the client's
    # is the same image (the build cache), so only web is re-created.
    (app.folder / "web" / "message.txt").write_text("v2\n")
    rebuilt = app.up("--build")
    assert built(rebuilt) == {"web", "client"}
    after = ids(app)
    assert [name for name in before if after.get(name) != before[name]] == [f"{project}-web"]
    assert app.exec("client", "h2", ASK_WEB, retry_for=20) == (0, "v2\n")

    # `xcompose build` on its own builds on web's host; the next `up` re-creates web alone.
    (app.folder / "web" / "message.txt").write_text("v3\n")
    alone = app.xcompose("build", "web")
    assert alone.code == 0, alone.output
    assert f"built {project}-web for web on h1" in alone.stderr
    assert "Step 1/4 : FROM xcompose/tools:latest" in alone.stderr
    planned = json.loads(app.xcompose("plan", "--format", "json").stdout)
    assert [s["id"] for s in planned["steps"] if s["action"] != "keep"] == ["service:web"]
    third = app.up()
    assert built(third) == set()
    final = ids(app)
    assert [name for name in after if final.get(name) != after[name]] == [f"{project}-web"]
    assert app.exec("client", "h2", ASK_WEB, retry_for=20) == (0, "v3\n")


def test_a_failing_build_stops_up_before_anything_runs(deploy: Deploy, executor: str) -> None:
    app = deploy(f"buildfail-{executor}", executor)
    (app.folder / "web").mkdir()
    (app.folder / "web" / "Dockerfile").write_text("FROM xcompose/tools:latest\nRUN exit 3\n")
    (app.folder / "client").mkdir()
    app.use_compose(COMPOSE.format(project=f"buildfail-{executor}"), PLACEMENT)
    outcome = app.xcompose("up")
    assert outcome.code == 1
    assert "error: building web on host h1: The command '/bin/sh -c exit 3' returned a non-zero code: 3" in outcome.stderr
    assert app.leftovers() == []
