"""Real compose files split over hosts by a placement file: services reach each other by
name, as on one host, through both executors; services on networks they do not share
cannot."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.deploy import EXECUTORS, Deployment

Deploy = Callable[[str, str], Deployment]
pytestmark = pytest.mark.parametrize("executor", EXECUTORS)

# Usable as it is by `docker compose` on one host: no hosts, no links, no expose on db.
WORDPRESS = """\
services:
  db:
    image: mysql:8
    environment:
      MYSQL_ROOT_PASSWORD: rootpw
      MYSQL_DATABASE: wordpress
      MYSQL_USER: wp
      MYSQL_PASSWORD: wppw
    volumes: [db_data:/var/lib/mysql]
  wordpress:
    image: wordpress:6
    depends_on: [db]
    ports: ["8080:80"]
    environment:
      WORDPRESS_DB_HOST: db
      WORDPRESS_DB_USER: wp
      WORDPRESS_DB_PASSWORD: wppw
      WORDPRESS_DB_NAME: wordpress
volumes:
  db_data: {}
"""
WORDPRESS_PLACEMENT = """\
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
services:
  db: {host: h1}
  wordpress: {host: h2}
"""


def test_wordpress_reaches_its_database_on_another_host_by_service_name(deploy: Deploy, executor: str) -> None:
    app = deploy(f"byname-wp-{executor}", executor).use_compose(WORDPRESS, WORDPRESS_PLACEMENT)
    app.up()
    query = "mariadb -h db -u wp -pwppw wordpress -N -e 'SELECT 6*7'"
    assert app.exec("wordpress", "h2", query, retry_for=60) == (0, "42\n")
    code, page = app.exec("wordpress", "h2", "curl -s http://127.0.0.1/", retry_for=20)
    assert code == 0 and "Database OK: connected to wordpress on db:3306" in page
    # The port of db came from its image: nothing in either file names 3306.
    assert [c.name for c in app.containers("h2", role="ambassador-client")] == [f"{app.project}-db-ambassador-h2"]


# Three tiers on three networks, each service on its own host: web sees api, api sees db,
# web does not see db.
TIERS = """\
services:
  db:
    image: redis:7
    networks:
      back: {aliases: [cache]}
  api:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    expose: [8000]
    environment: {REDIS_HOST: db}
    networks: [front, back]
  web:
    image: xcompose/tools:latest
    command: [sleep, infinity]
    networks: [front]
networks:
  front: {}
  back: {}
"""
TIERS_PLACEMENT = """\
hosts:
  h1: {address: 10.0.0.1}
  h2: {address: 10.0.0.2}
  h3: {address: 10.0.0.3}
services:
  db: {host: h1}
  api: {host: h2}
  web: {host: h3}
"""


def test_services_reach_what_they_share_a_network_with_and_nothing_else(deploy: Deploy, executor: str) -> None:
    app = deploy(f"byname-tiers-{executor}", executor).use_compose(TIERS, TIERS_PLACEMENT)
    app.up()
    assert app.exec("api", "h2", "redis-cli -h db ping", retry_for=20) == (0, "PONG\n")
    assert app.exec("api", "h2", "redis-cli -h cache ping") == (0, "PONG\n")
    code, _ = app.exec("web", "h3", "getent hosts db || getent hosts cache")
    assert code != 0, "web shares no network with db: the name must not resolve"
    assert app.exec("web", "h3", "getent hosts api >/dev/null && echo found") == (0, "found\n")
