"""Which certificate each ambassador of a plan gets, and a plan made without credentials
given them afterwards: the same plan as one made with them from the start."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xcompose.config.load import load_project
from xcompose.config.project import Project
from xcompose.pki import CertificateAuthority, Credentials
from xcompose.plan.ambassadors import with_certificates
from xcompose.plan.build import build_plan
from xcompose.plan.naming import LABEL_TLS_CERT
from xcompose.plan.steps import Plan, StepId


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


def test_each_server_ambassador_has_its_own_certificate_and_the_clients_of_a_host_share_one(tmp_path: Path) -> None:
    plan = build_plan(project(tmp_path, "haproxy:2.6"), Credentials("shop", CertificateAuthority.new("shop")))

    def cert(step_id: str) -> str:
        return dict(plan.step(StepId.parse(step_id)).container.labels)[LABEL_TLS_CERT]  # type: ignore[union-attr]

    assert cert("ambassador-server:db") != cert("ambassador-server:api")
    assert cert("ambassador-client:db@web2") == cert("ambassador-client:api@web2") != cert("ambassador-client:db@web1")
    assert cert("ambassador-client:db@web2") not in (cert("ambassador-server:db"), cert("ambassador-server:api"))
