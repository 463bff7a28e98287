"""A service's lifecycle hooks (`post_start`, `pre_stop`): commands Compose runs in each of
its containers right after start and before stop, with their own user, privileges, working
folder and environment."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from xcompose.config.strict import Strict
from xcompose.config.syntax import key_values


class ServiceHook(Strict):
    command: list[str] | str = Field(description="The command, as `exec` form or a string split like a shell.")
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: dict[str, str | None] = Field(default_factory=dict)

    @field_validator(
        "environment", mode="before", json_schema_input_type=dict[str, str | float | bool | None] | list[str]
    )
    @classmethod
    def _environment(cls, value: Any) -> Any:
        return key_values(value, "environment", allow_none=True)
