"""What the planner makes of `build:`: the image's name, the build on the ServiceStep
(context resolved, never read), and the checks only placement can make."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.planning import S
from xcompose.config.model import Topology
from xcompose.config.project import Project
from xcompose.errors import ConfigErrors
from xcompose.pki import Credentials
from xcompose.plan.build import build_plan
from xcompose.plan.specs import BuildSpec
from xcompose.plan.steps import Plan, ServiceStep

HOSTS = {"h1": {"address": "10.0.0.1"}, "h2": {"address": "10.0.0.2"}}


def plan_of(services: dict[str, Any], hosts: dict[str, Any] | None = None) -> Plan:
    data: dict[str, Any] = {"services": services}
    if hosts is not None:
        data["hosts"] = hosts
    project = Project(name="shop", topology=Topology.model_validate(data), files=[Path("/srv/app/compose.yaml")])
    return build_plan(project, Credentials.none("shop"))


def service_step(plan: Plan, name: str) -> ServiceStep:
    step = plan.step(S(f"service:{name}"))
    assert isinstance(step, ServiceStep)
    return step


def built(plan: Plan, name: str) -> BuildSpec:
    build = service_step(plan, name).build
    assert build is not None
    return build


def test_a_built_image_without_a_name_is_named_project_service_as_compose_names_it() -> None:
    plan = plan_of({"Web": {"build": "."}})
    assert built(plan, "Web").image == "shop-web"
    assert service_step(plan, "Web").container.image == "shop-web"


def test_with_image_and_build_the_built_image_gets_the_image_name() -> None:
    plan = plan_of({"web": {"image": "shop/web:1.4", "build": "./web"}})
    assert built(plan, "web").image == "shop/web:1.4"
    assert service_step(plan, "web").container.image == "shop/web:1.4"


def test_a_context_folder_is_resolved_from_the_first_files_folder_and_a_url_is_kept() -> None:
    plan = plan_of({
        "web": {"build": "./web"},
        "api": {"build": {"context": "../api", "dockerfile": "docker/Dockerfile"}},
        "absolute": {"build": "/opt/src"},
        "remote": {"build": "https://github.com/docker/getting-started.git#main"},
    })
    assert (built(plan, "web").context, built(plan, "web").remote) == ("/srv/app/web", False)
    assert (built(plan, "api").context, built(plan, "api").dockerfile) == ("/srv/api", "docker/Dockerfile")
    assert built(plan, "absolute").context == "/opt/src"
    remote = built(plan, "remote")
    assert (remote.context, remote.remote) == ("https://github.com/docker/getting-started.git#main", True)


def test_the_build_carries_every_option_an_engine_build_takes() -> None:
    plan = plan_of({"web": {"build": {
        "context": "web", "args": {"B": "2", "A": "1"}, "target": "run", "labels": {"l": "v"},
        "network": "none", "shm_size": "1m", "extra_hosts": ["db:10.0.0.5"], "no_cache": True, "pull": True,
        "cache_from": ["shop/web:cache"], "platforms": ["linux/amd64"], "tags": ["shop/web:x"],
        "dockerfile_inline": "FROM debian:bookworm\n",
    }}})
    assert built(plan, "web") == BuildSpec(
        image="shop-web", context="/srv/app/web", dockerfile_inline="FROM debian:bookworm\n",
        args=(("A", "1"), ("B", "2")), target="run", labels=(("l", "v"),), network="none", shm_size=1024**2,
        extra_hosts=("db:10.0.0.5",), no_cache=True, pull=True, cache_from=("shop/web:cache",),
        platform="linux/amd64", tags=("shop/web:x",),
    )


def test_a_service_without_build_has_none() -> None:
    assert service_step(plan_of({"db": {"image": "redis:7"}}), "db").build is None


def test_the_build_is_not_part_of_the_config_hash_but_the_built_image_id_is() -> None:
    plain = service_step(plan_of({"web": {"image": "shop/web", "build": "./web"}}), "web").container
    other = service_step(plan_of({"web": {"image": "shop/web", "build": {"context": "./web", "no_cache": True}}}),
                         "web").container
    assert plain.config_hash() == other.config_hash()
    assert replace(plain, image_id="sha256:1").config_hash() != replace(plain, image_id="sha256:2").config_hash()


def test_pull_policy_build_without_build_is_an_error_at_the_policy() -> None:
    with pytest.raises(ConfigErrors) as caught:
        plan_of({"web": {"image": "shop/web", "pull_policy": "build"}})
    assert [e.path for e in caught.value.errors] == ["services.web.pull_policy"]
    assert "pull_policy: build needs a `build:` section" in str(caught.value)


def test_an_inline_dockerfile_cannot_go_into_a_url_context() -> None:
    with pytest.raises(ConfigErrors) as caught:
        plan_of({"web": {"build": {"context": "git@github.com:shop/web.git", "dockerfile_inline": "FROM x"}}})
    assert [e.path for e in caught.value.errors] == ["services.web.build.dockerfile_inline"]


def test_a_built_target_without_ports_is_read_under_its_built_name() -> None:
    plan = plan_of({"api": {"build": ".", "host": "h1"}, "web": {"image": "redis:7", "host": "h2",
                                                                   "depends_on": ["api"]}}, HOSTS)
    assert plan.needs_image_ports == {"api": "shop-api"}


def test_replacing_a_step_keeps_the_rest_of_the_plan() -> None:
    plan = plan_of({"api": {"build": ".", "host": "h1"}, "web": {"image": "redis:7", "host": "h2",
                                                                   "expose": [80]}}, HOSTS)
    step = service_step(plan, "api")
    pinned = plan.replacing([step.with_container(replace(step.container, image_id="sha256:9"))])
    assert service_step(pinned, "api").container.image_id == "sha256:9"
    assert pinned.edges() == plan.edges() and len(pinned) == len(plan)
    assert service_step(pinned, "web") is service_step(plan, "web")
