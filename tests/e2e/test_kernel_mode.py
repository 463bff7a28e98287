"""Kernel mode on the lab: a redis link across two hosts with no relay program, carried by
DNAT in the client ambassador and Docker's own published port on the target's host."""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.deploy import Deployment

Deploy = Callable[[str, str], Deployment]

# xcompose/iptables is the lab's image with a shell, sleep and iptables.
KERNEL_LINK = """\
name: kernel
hosts:
  h1: {}
  h2: {}
ambassador: {mode: kernel, tls: false, image: "xcompose/iptables:latest"}
services:
  redis: {image: "redis:7", host: h1, expose: [6379]}
  cli:
    image: xcompose/tools:latest
    host: h2
    command: [sleep, infinity]
    links: ["redis:db"]
"""


def test_a_kernel_link_carries_redis_by_name_and_by_link_variables_and_down_leaves_nothing(deploy: Deploy) -> None:
    app = deploy("kernel-redis", "api").use(KERNEL_LINK)
    app.up()
    assert app.exec("cli", "h2", "redis-cli -h redis ping", retry_for=20) == (0, "PONG\n")
    assert app.exec("cli", "h2", "redis-cli -h db set greeting hello") == (0, "OK\n")
    by_variables = "redis-cli -h $DB_PORT_6379_TCP_ADDR -p $DB_PORT_6379_TCP_PORT get greeting"
    assert app.exec("cli", "h2", by_variables) == (0, "hello\n")
    assert app.containers("h1", role="ambassador-server") == []
    ports = app.container("redis", "h1").attrs["NetworkSettings"]["Ports"]
    assert ports == {"6379/tcp": [{"HostIp": app.lab_host("h1").address, "HostPort": "6379"}]}
    checked = app.xcompose("check")
    assert checked.code == 0, checked.output
    assert app.down().code == 0
    assert app.leftovers() == []


def test_a_service_moved_to_the_consumers_host_is_reached_without_ambassador_or_published_port(
        deploy: Deploy) -> None:
    app = deploy("kernel-move", "api").use(KERNEL_LINK)
    app.up()
    app.move("redis", "h2")
    app.up()
    assert app.exec("cli", "h2", "redis-cli -h db ping", retry_for=20) == (0, "PONG\n")
    assert app.containers("h2", role="ambassador-client") == []
    assert app.container("redis", "h2").attrs["NetworkSettings"]["Ports"] == {"6379/tcp": None}
