"""The image a service runs, and for a service with `build:` how that image is built on
its host. Pure: the context is resolved as a path, never read (the engines read it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from xcompose.config.location import KeyPath
from xcompose.config.model import Service
from xcompose.plan.specs import BuildSpec


def image_of(project: str, name: str, service: Service | None) -> str:
    """`image:`, or for a service that only builds (or None), the name Compose gives the
    built image: `PROJECT-SERVICE` (lower case: Docker refuses capitals in image names)."""
    return (service.image if service else None) or f"{project}-{name}".lower()


def build_spec(
    project: str, name: str, service: Service, base_dir: Path, fail: Callable[[KeyPath, str], None]
) -> BuildSpec | None:
    """The build of the service's image, or None without `build:`. A folder context is
    relative to `base_dir` (the first file's folder, as in Compose); a URL is kept as it is.
    What the engine cannot do with a URL context is reported through `fail`."""
    build = service.build
    if service.pull_policy == "build" and build is None:
        fail(("services", name, "pull_policy"), "pull_policy: build needs a `build:` section to build from")
    if build is None:
        return None
    here = ("services", name, "build")
    context = build.context
    if build.remote:
        if build.dockerfile_inline is not None:
            fail((*here, "dockerfile_inline"), "the engine fetches a URL context itself, so an inline "
                                               "Dockerfile cannot be added to it; commit the Dockerfile")
        elif build.dockerfile is not None and os.path.isabs(build.dockerfile):
            fail((*here, "dockerfile"), "with a URL context the Dockerfile is a path inside the repository")
    else:
        context = os.path.normpath(os.path.join(os.path.abspath(base_dir), os.path.expanduser(context)))
    return BuildSpec(
        image=image_of(project, name, service),
        context=context,
        remote=build.remote,
        dockerfile=build.dockerfile,
        dockerfile_inline=build.dockerfile_inline,
        args=tuple(sorted((k, v) for k, v in build.args.items() if v is not None)),
        target=build.target,
        labels=tuple(sorted(build.labels.items())),
        network=build.network,
        shm_size=build.shm_size,
        extra_hosts=tuple(build.extra_hosts),
        no_cache=build.no_cache,
        pull=build.pull,
        cache_from=tuple(build.cache_from),
        platform=build.platforms[0] if build.platforms else None,
        tags=tuple(build.tags),
        isolation=build.isolation,
    )
