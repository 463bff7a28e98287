"""A far host is not a lost one: every answer from it comes late (a long round trip) but it
keeps answering, so `up`, `ps` and `down` succeed against it within its `timeout:`."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import yaml

from tests.e2e.deploy import Deployment
from tests.e2e.slowlink import SlowLink
from xcompose.lab import Lab

Deploy = Callable[[str, str], Deployment]
ONE_WAY_DELAY = 0.4  # 800 ms round trip, more than a link across the world
LOST_AFTER = 5  # short, so that a slow answer taken for silence would show

TOPOLOGY = """\
hosts:
  h1: {}
  h2: {}
services:
  redis: {image: redis:7, host: h2, expose: [6379]}
  cli: {image: xcompose/tools:latest, host: h1, command: [sleep, infinity], environment: {REDIS_HOST: redis}}
"""


def test_a_host_behind_a_long_round_trip_is_deployed_and_taken_down(lab: Lab, deploy: Deploy) -> None:
    app = deploy("slow", "tcp")
    app.host_settings = {"timeout": f"{LOST_AFTER}s"}
    app.use(TOPOLOGY)
    engine = urlsplit(app.lab_host("h2").tcp_url)
    assert engine.hostname is not None and engine.port is not None
    override = app.files[-1]
    direct = override.read_text()
    with SlowLink((engine.hostname, engine.port), ONE_WAY_DELAY) as link:
        hosts = yaml.safe_load(direct)
        hosts["hosts"]["h2"]["docker"] = f"tcp://127.0.0.1:{link.port}"
        override.write_text(yaml.safe_dump(hosts))
        try:
            check_slow_but_alive(app)
        finally:
            override.write_text(direct)  # the fixture's clean-up goes straight to the engine
    assert app.containers("h2") == [] and app.containers("h1") == []


def check_slow_but_alive(app: Deployment) -> None:
    up = app.up()
    assert "stopped answering" not in up.output
    assert app.exec("cli", "h1", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
    ps = app.xcompose("ps")
    assert ps.code == 0 and "redis" in ps.stdout, ps.output
    down = app.xcompose("down")
    assert down.code == 0, down.output
