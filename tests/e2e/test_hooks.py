"""Lifecycle hooks as Compose runs them, on the service's own host: `post_start` in the new
container right after it starts (as its user, with its environment), `pre_stop` before
`down` stops it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment

Deploy = Callable[[str, str], Deployment]
pytestmark = pytest.mark.parametrize("executor", EXECUTORS)

COMPOSE = """\
services:
  app:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    volumes: ["./out:/out"]
    post_start:
      - command: [sh, -c, 'echo "$$GREETING from $$(id -un)" > /tmp/started']
        user: nobody
        environment: {GREETING: hello}
    pre_stop:
      - command: [sh, -c, 'echo bye > /out/stopped']
"""
PLACEMENT = """\
hosts: {h1: {}, h2: {}}
services:
  app: {host: h2}
"""


def test_post_start_runs_after_start_and_pre_stop_before_down(deploy: Deploy, executor: str) -> None:
    app = deploy(f"hooks-{executor}", executor).use_compose(COMPOSE, PLACEMENT)
    (app.folder / "out").mkdir()
    app.up()
    assert app.exec("app", "h2", "cat /tmp/started") == (0, "hello from nobody\n")
    down = app.down()
    assert down.code == 0, down.output
    assert (app.folder / "out" / "stopped").read_text() == "bye\n"
