"""A plan made without credentials, given its ambassadors' certificates afterwards: the
same plan as one made with them from the start."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xcompose.config.load import load_project
from xcompose.config.project import Project
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.plan.ambassadors import with_certificates
from xcompose.plan.build import build_plan
from xcompose.plan.steps import Plan


def project(tmp_path: Path, image: str) -> Project:
    data = {
        "name": "shop",
        "hosts": {"db1": {"address": "10.0.0.1"}, "web1": {"address": "10.0.0.2"},
                  "web2": {"address": "10.0.0.3"}},
        "ambassador": {"image": image},
        "services": {
            "db": {"image": "redis:7", "host": "db1", "expose": [6379, 6380]},
            "cache": {"image": "redis:7", "host": "db1", "expose": [7000], "ambassador": {"tls": False}},
            "api": {"image": "api:1", "host": "web1", "expose": [8080], "links": ["db:store", "cache"]},
            "app": {"image": "app:1", "host": "web2", "links": ["db", "api", "cache"]},
        },
    }
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(data))
    return load_project([str(tmp_path / "shop.yaml")])


def same(left: Plan, right: Plan) -> None:
    assert [s.id for s in left.steps()] == [s.id for s in right.steps()]
    for step in left.steps():
        assert step == right.step(step.id)
    assert left.edges() == right.edges() and left.notes == right.notes and left.new_ca == right.new_ca


@pytest.mark.parametrize("image", ["haproxy:2.6", "alpine/socat:latest"])
def test_certificates_given_afterwards_make_the_plan_made_with_them(tmp_path: Path, image: str) -> None:
    shop = project(tmp_path, image)
    credentials = Credentials("shop", CertificateAuthority.new("shop"))
    same(with_certificates(build_plan(shop, Credentials.none("shop")), credentials), build_plan(shop, credentials))


def test_without_a_ca_the_plan_given_certificates_says_a_new_one_will_be_made(tmp_path: Path) -> None:
    shop = project(tmp_path, "haproxy:2.6")
    signed = with_certificates(build_plan(shop, Credentials.none("shop")), Credentials("shop"))
    assert signed.new_ca
    same(signed, build_plan(shop, Credentials("shop")))


def test_credentials_that_were_not_read_leave_the_plan_as_it_was(tmp_path: Path) -> None:
    shop = project(tmp_path, "haproxy:2.6")
    unsigned = build_plan(shop, Credentials.none("shop"))
    same(with_certificates(unsigned, Credentials.none("shop")), unsigned)
