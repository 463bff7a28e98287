"""The top-level declarations a project's services refer to by name: `volumes`, `networks`
(with their IPAM), `secrets` and `configs`."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from pydantic import Field, field_validator, model_validator

from xcompose.config.strict import Strict
from xcompose.config.syntax import key_values


def _external(value: Any) -> Any:
    """The legacy `external: {name: x}` of a volume or network as `external: true` plus
    `name: x`, as Compose still reads it."""
    if not isinstance(value, dict) or not isinstance(value.get("external"), dict):
        return value
    legacy = value["external"]
    unknown = sorted(k for k in legacy if k != "name" and not (isinstance(k, str) and k.startswith("x-")))
    if unknown:
        raise ValueError(f"external: unknown key '{unknown[0]}' (only name)")
    data = {**value, "external": True}
    if "name" in legacy:
        name = legacy["name"]
        if data.get("name") not in (None, name):
            raise ValueError(f"external.name '{name}' and name '{data['name']}' differ; keep only name")
        data["name"] = name
    return data


class EngineObject(Strict):
    """What a volume and a network declaration share: the driver and its options, labels,
    a Docker name of its own, and `external` (made elsewhere, looked up by name)."""

    @model_validator(mode="before")
    @classmethod
    def _legacy_external(cls, data: Any) -> Any:
        return _external(data)

    driver: str | None = None
    driver_opts: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    external: bool = False
    name: str | None = None


class VolumeDecl(EngineObject):
    """Top-level `volumes:` entry."""


class IpamPool(Strict):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: dict[str, str] = Field(default_factory=dict)


class Ipam(Strict):
    driver: str | None = None
    config: list[IpamPool] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)


class NetworkDecl(EngineObject):
    """Top-level `networks:` entry: the network is made on every host where a service
    (or a relay) joins it, each host's its own."""

    ipam: Ipam | None = None
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False

    @field_validator("labels", mode="before", json_schema_input_type=dict[str, str] | list[str])
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return key_values(value, "labels", allow_none=False)


class SecretDecl(Strict):
    """Top-level `secrets:` entry: where the secret's content comes from. The content is
    read when the file is loaded and reaches containers only as an uploaded file."""

    file: str | None = Field(default=None, description="A file, relative to the project folder.")
    environment: str | None = Field(
        default=None, description="A variable of the environment xcompose runs in (or of .env)."
    )
    external: bool = Field(default=False, description="Made outside the file (`docker secret create`), found by "
                             "name: with `engine: swarm` only; refused on plain engines.")
    name: str | None = None
    # Read by Docker Swarm only; accepted and ignored (with a warning) on plain engines.
    labels: dict[str, str] = Field(default_factory=dict)
    driver: str | None = None
    driver_opts: dict[str, str] = Field(default_factory=dict)
    template_driver: str | None = None

    @field_validator("labels", mode="before", json_schema_input_type=dict[str, str] | list[str])
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return key_values(value, "labels", allow_none=False)

    @model_validator(mode="after")
    def _one_source(self) -> SecretDecl:
        given = [key for key in self.SOURCES if getattr(self, key) not in (None, False)]
        if not given:
            raise ValueError(f"no source: give one of {_words(self.SOURCES)}")
        if len(given) > 1:
            raise ValueError(f"give one source, not {_words(given, 'and')}")
        return self

    SOURCES: typing.ClassVar[tuple[str, ...]] = ("file", "environment", "external")


class ConfigDecl(SecretDecl):
    """Top-level `configs:` entry; a config may also hold its content inline."""

    content: str | None = Field(default=None, description="The content itself (interpolated).")

    SOURCES: typing.ClassVar[tuple[str, ...]] = ("file", "environment", "content", "external")


def _words(keys: Sequence[str], last: str = "or") -> str:
    shown = [f"{key}: true" if key == "external" else f"{key}:" for key in keys]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} {last} {shown[-1]}"
