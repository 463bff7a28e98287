"""`build:` in the file: Compose's short and long forms, what an engine build cannot do
refused at its key, merging, and what `config` prints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from xcompose.config.build_model import Build, parse_byte_size
from xcompose.config.export import dump_config, topology_schema
from xcompose.config.load import load_project
from xcompose.config.project import Project

Load = Callable[..., Project]
Errors = Callable[..., list[str]]


def test_the_short_form_is_the_context() -> None:
    build = Build.model_validate({"context": "./web"})
    assert build.context == "./web" and build.dockerfile is None and not build.remote


def test_a_service_may_build_without_an_image(load_text: Load) -> None:
    project = load_text("services:\n  web:\n    build: ./web\n")
    service = project.topology.services["web"]
    assert service.image is None
    assert service.build is not None and service.build.context == "./web"


def test_the_long_form_reads_every_key_compose_gives_it(load_text: Load) -> None:
    project = load_text("""\
        services:
          web:
            image: shop/web:1
            build:
              context: web
              dockerfile: docker/Dockerfile.prod
              args: {VERSION: 1.2, DEBUG: false}
              target: runtime
              labels: [team=shop]
              network: host
              shm_size: 256m
              extra_hosts: ["db:10.0.0.5", "cache=10.0.0.6"]
              no_cache: true
              pull: true
              cache_from: [shop/web:cache, "type=registry,ref=shop/web:old"]
              platforms: [linux/amd64]
              tags: ["shop/web:latest"]
        """)
    build = project.topology.services["web"].build
    assert build is not None
    assert build.args == {"VERSION": "1.2", "DEBUG": "false"}
    assert build.labels == {"team": "shop"}
    assert build.shm_size == 256 * 1024**2
    assert build.extra_hosts == ["db:10.0.0.5", "cache:10.0.0.6"]
    assert build.cache_from == ["shop/web:cache", "shop/web:old"]
    assert (build.target, build.network, build.no_cache, build.pull) == ("runtime", "host", True, True)
    assert build.platforms == ["linux/amd64"] and build.tags == ["shop/web:latest"]


def test_extra_hosts_as_a_mapping_may_give_several_addresses() -> None:
    build = Build.model_validate({"extra_hosts": {"db": "10.0.0.5", "multi": ["10.0.0.7", "::1"]}})
    assert build.extra_hosts == ["db:10.0.0.5", "multi:10.0.0.7", "multi:::1"]


@pytest.mark.parametrize(("text", "size"), [(1024, 1024), ("64m", 64 * 1024**2), ("1gb", 1024**3),
                                            ("2k", 2048), ("1.5g", 3 * 1024**3 // 2), ("100", 100)])
def test_sizes_are_read_as_docker_reads_them(text: object, size: int) -> None:
    assert parse_byte_size(text) == size


def test_build_args_without_a_value_come_from_the_environment_or_are_left_out(load_text: Load) -> None:
    project = load_text("services:\n  web:\n    build:\n      args: [FROM_ENV, UNSET, SET=1]\n",
                        env={"FROM_ENV": "yes"})
    build = project.topology.services["web"].build
    assert build is not None and build.args == {"FROM_ENV": "yes", "SET": "1"}


def test_neither_image_nor_build_is_an_error_at_the_service(load_errors: Errors) -> None:
    assert load_errors("services:\n  app:\n    restart: always\n") == [
        "xcompose.yaml:2: services.app: missing required key 'image' (or `build:`, to build the image)"
    ]


@pytest.mark.parametrize("key", ["secrets", "ssh", "cache_to", "additional_contexts", "entitlements", "ulimits"])
def test_what_only_buildkit_does_is_refused_at_its_key(load_errors: Errors, key: str) -> None:
    errors = load_errors(f"services:\n  web:\n    build:\n      context: .\n      {key}: [x]\n")
    assert len(errors) == 1
    assert errors[0].startswith(f"xcompose.yaml:5: services.web.build.{key}: xcompose does not support the "
                                f"Compose key build.{key}: ")


def test_refusals_say_what_an_engine_build_lacks(load_errors: Errors) -> None:
    errors = load_errors("""\
        services:
          web:
            build:
              platforms: [linux/amd64, linux/arm64]
              cache_from: ["type=local,src=/tmp/cache"]
              sbom: true
        """)
    assert len(errors) == 3
    text = "\n".join(errors)
    assert "services.web.build.platforms: an engine build makes an image for one platform, not 2" in text
    assert "services.web.build.cache_from: 'type=local,src=/tmp/cache': an engine build reuses" in text
    assert "services.web.build.sbom: attestations need BuildKit" in text


def test_two_dockerfiles_are_refused(load_errors: Errors) -> None:
    assert load_errors("services:\n  web:\n    build:\n      dockerfile: D\n      dockerfile_inline: FROM x\n") == [
        "xcompose.yaml:3: services.web.build: set dockerfile or dockerfile_inline, not both"
    ]


def test_false_is_accepted_for_what_buildkit_alone_would_turn_on(load_text: Load) -> None:
    load_text("services:\n  web:\n    build: {context: ., privileged: false, provenance: false, sbom: false}\n")


def test_an_unknown_build_key_suggests_the_close_one(load_errors: Errors) -> None:
    assert load_errors("services:\n  web:\n    build:\n      dockerfil: D\n") == [
        "xcompose.yaml:4: services.web.build.dockerfil: unknown key 'dockerfil' (did you mean 'dockerfile'?)"
    ]


def test_a_short_form_merges_with_a_long_form(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n")
    (tmp_path / "more.yaml").write_text(
        "services:\n  web:\n    build:\n      args: {B: 2}\n      tags: [web:b]\n")
    (tmp_path / "most.yaml").write_text(
        "services:\n  web:\n    build:\n      args: [A=1]\n      tags: [web:a]\n")
    project = load_project([tmp_path / "compose.yaml", tmp_path / "more.yaml", tmp_path / "most.yaml"], environ={})
    build = project.topology.services["web"].build
    assert build is not None
    assert (build.context, build.args, build.tags) == ("./web", {"B": "2", "A": "1"}, ["web:b", "web:a"])


def test_config_prints_the_build_with_its_arguments(load_text: Load) -> None:
    project = load_text("services:\n  web:\n    build:\n      context: web\n      args: {TOKEN: s3cret}\n")
    service = yaml.safe_load(dump_config(project))["services"]["web"]
    assert service["build"] == {"context": "web", "args": {"TOKEN": "s3cret"}}
    assert "image" not in service


def test_the_schema_offers_both_forms_of_build() -> None:
    schema = topology_schema()
    build = schema["$defs"]["Service"]["properties"]["build"]
    assert {"type": "string"} in build["anyOf"]
    assert "dockerfile_inline" in schema["$defs"]["Build"]["properties"]
