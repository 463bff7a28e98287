"""A service's `build:` section, as Compose's build specification writes it.

`build: PATH` is the short form of `build: {context: PATH}`. xcompose sends the build to the
engine of the service's host (the engine's own builder, or the host's `docker build`), so
the keys only BuildKit understands are refused here, each with what to do instead.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from xcompose.config.strict import Strict
from xcompose.config.syntax import key_values, scalar_text

_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}

# Contexts the engine fetches itself (Docker's own list of remote context forms).
REMOTE_CONTEXT = ("http://", "https://", "git://", "github.com/", "git@")

# key -> why a plain engine build cannot do it
_REFUSED = {
    "secrets": "build secrets need BuildKit, which xcompose does not drive yet; pass the value "
               "some other way than the build",
    "ssh": "SSH agent forwarding into a build needs BuildKit, which xcompose does not drive yet",
    "cache_to": "exporting the build cache needs BuildKit (buildx); leave it out",
    "additional_contexts": "named extra contexts need BuildKit (buildx); copy what the build needs "
                           "into the context",
    "entitlements": "entitlements need BuildKit (buildx); leave them out",
    "privileged": "privileged builds need BuildKit (buildx); leave it out",
    "ulimits": "xcompose does not pass ulimits to builds yet; leave them out",
}


def parse_byte_size(value: Any) -> int:
    """`shm_size` as Docker reads it: bytes, or a number with b, k, m, g (powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as 64m or 1gb, not true or false")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative (got {value})")
        return value
    found = _BYTES.match(str(value).strip())
    if found is None:
        raise ValueError(f"'{value}' is not a size (use bytes, or a number with b, k, m or g: 64m, 1gb)")
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def _extra_hosts(value: Any) -> Any:
    """`["name:ip", "name=ip"]` or `{name: ip}` (or a list of addresses): `name:ip` entries."""
    if isinstance(value, dict):
        entries = []
        for name, address in value.items():
            for one in address if isinstance(address, list) else [address]:
                entries.append(f"{name}:{scalar_text(one)}")
        return entries
    if isinstance(value, list):
        entries = []
        for item in value:
            text = str(item)
            name, sep, address = text.partition("=")
            if not sep:
                name, sep, address = text.partition(":")
            if not (sep and name and address):
                raise ValueError(f"'{text}' is not a host entry (use NAME:ADDRESS or NAME=ADDRESS)")
            entries.append(f"{name}:{address.strip('[]')}")
        return entries
    return value


ExtraHosts = Annotated[
    list[str], BeforeValidator(_extra_hosts, json_schema_input_type=list[str] | dict[str, str | list[str]])
]




class Build(Strict):
    """How to build the service's image on its host (Compose's long form of `build:`)."""

    context: str = Field(default=".", description="A folder, relative to the first file's folder, or a URL "
                                                  "(git, https) the engine fetches.")
    dockerfile: str | None = Field(default=None, description="The Dockerfile, relative to the context.")
    dockerfile_inline: str | None = Field(default=None, description="The Dockerfile's text, in place of a file.")
    args: dict[str, str | None] = Field(default_factory=dict, description="Build arguments (ARG).")
    target: str | None = Field(default=None, description="The stage of a multi-stage Dockerfile to build.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the built image.")
    network: str | None = Field(default=None, description="The network RUN instructions use: host, none, or a name.")
    shm_size: int | None = Field(default=None, description="Size of /dev/shm for RUN instructions.")
    extra_hosts: ExtraHosts = Field(default_factory=list, description="NAME:ADDRESS lines added to /etc/hosts.")
    no_cache: bool = False
    pull: bool = Field(default=False, description="Pull newer versions of the FROM images first.")
    cache_from: list[str] = Field(default_factory=list, description="Images whose layers the build may reuse.")
    platforms: list[str] = Field(default_factory=list, description="At most one: the platform to build for.")
    tags: list[str] = Field(default_factory=list, description="More names for the built image.")
    isolation: str | None = None
    provenance: Any = None
    sbom: Any = None
    secrets: Any = None
    ssh: Any = None
    cache_to: Any = None
    additional_contexts: Any = None
    entitlements: Any = None
    privileged: Any = None
    ulimits: Any = None

    @field_validator("args", mode="before", json_schema_input_type=dict[str, str | float | bool | None] | list[str])
    @classmethod
    def _args(cls, value: Any) -> Any:
        return key_values(value, "args", allow_none=True)

    @field_validator("labels", mode="before", json_schema_input_type=dict[str, str | float | bool | None] | list[str])
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return key_values(value, "labels", allow_none=False)

    @field_validator("shm_size", mode="before", json_schema_input_type=int | str | None)
    @classmethod
    def _shm_size(cls, value: Any) -> Any:
        return None if value is None else parse_byte_size(value)

    @field_validator("cache_from")
    @classmethod
    def _cache_from(cls, value: list[str]) -> list[str]:
        """Image names; BuildKit's `type=registry,ref=IMAGE` is the same thing, other cache
        types are BuildKit's alone."""
        images = []
        for entry in value:
            if "=" not in entry:
                images.append(entry)
                continue
            fields = dict(part.partition("=")[::2] for part in entry.split(","))
            if fields.get("type") != "registry" or not fields.get("ref"):
                raise ValueError(f"'{entry}': an engine build reuses the layers of images only (IMAGE or "
                                 "type=registry,ref=IMAGE); other cache types need BuildKit (buildx)")
            images.append(fields["ref"])
        return images

    @field_validator("platforms")
    @classmethod
    def _one_platform(cls, value: list[str]) -> list[str]:
        if len(value) > 1:
            raise ValueError(f"an engine build makes an image for one platform, not {len(value)} "
                             "(a multi-platform build needs BuildKit, buildx); keep one")
        return value

    @field_validator("provenance", "sbom")
    @classmethod
    def _attestation(cls, value: Any) -> Any:
        if value not in (None, False, "false"):
            raise ValueError("attestations need BuildKit (buildx), which an engine build does not have; "
                             "leave it out or set it to false")
        return value

    @field_validator(*_REFUSED)
    @classmethod
    def _refused(cls, value: Any, info: ValidationInfo) -> Any:
        if value not in (None, False, [], {}):
            raise ValueError(f"xcompose does not support the Compose key build.{info.field_name}: "
                             f"{_REFUSED[str(info.field_name)]}")
        return value

    @model_validator(mode="after")
    def _one_dockerfile(self) -> Build:
        if self.dockerfile is not None and self.dockerfile_inline is not None:
            raise ValueError("set dockerfile or dockerfile_inline, not both")
        return self

    @property
    def remote(self) -> bool:
        """Whether the context is a URL the engine fetches, not a folder here."""
        return self.context.startswith(REMOTE_CONTEXT)
