"""The `hosts:` of a topology: where each Docker engine is, how it is reached, and how long
it may stay silent."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from xcompose.config.strict import Strict
from xcompose.config.syntax import parse_duration


class HostTLS(Strict):
    """Client TLS for a `tcp://` Docker endpoint (docker-py `TLSConfig`)."""

    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool = True


class Host(Strict):
    address: str | None = Field(
        default=None, description="Where other hosts reach this one; ambassadors publish here."
    )
    docker: str | None = Field(
        default=None,
        description="Docker endpoint: unix://PATH, tcp://HOST:PORT or ssh://USER@HOST[:PORT]. "
        "Default: DOCKER_HOST or the local socket.",
    )
    executor: Literal["api", "ssh"] = Field(
        default="api", description="api: Docker Engine API (docker-py); ssh: docker CLI over SSH."
    )
    sudo: bool = Field(default=False, description="ssh executor: run docker through sudo.")
    tls: HostTLS | None = None
    max_parallel: int = Field(default=4, ge=1, le=64, description="Steps run at once on this host.")
    timeout: float | None = Field(
        default=None,
        description="How long the host may stay silent before it counts as lost (default 30s, "
        "or --host-timeout): every call, connection and stream to it is bounded by this.",
    )

    @field_validator("timeout", mode="before", json_schema_input_type=str | float | None)
    @classmethod
    def _timeout(cls, value: Any) -> float | None:
        if value is None:
            return None
        seconds = parse_duration(value)
        if seconds < 1:
            raise ValueError("a host timeout under 1s would call a healthy host lost")
        return seconds

    @field_validator("docker")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(unix|tcp|ssh|npipe)://", value):
            raise ValueError(f"'{value}' is not a Docker URL (use unix://, tcp:// or ssh://)")
        return value
