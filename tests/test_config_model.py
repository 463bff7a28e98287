"""The models' own behaviour: field lookup for suggestions, environment forms, ports as
single ports."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from xcompose.config.model import Service, field_names_at


def test_field_names_at_follows_dicts_lists_and_optionals() -> None:
    assert field_names_at(("services", "app", "volumes", 0)) == ["type", "source", "target", "read_only"]
    assert "verify" in field_names_at(("hosts", "h", "tls"))
    assert "driver" in field_names_at(("volumes", "v"))


def test_field_names_at_a_non_model_location_is_empty() -> None:
    assert field_names_at(("services", "app", "environment")) == []


def test_an_environment_list_becomes_a_mapping() -> None:
    service = Service.model_validate({"image": "a", "environment": ["A=1", "B"]})
    assert service.environment == {"A": "1", "B": None}


def test_a_nested_environment_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="environment value of 'A' must be a string"):
        Service.model_validate({"image": "a", "environment": {"A": {"x": 1}}})


def test_port_ranges_stand_for_their_single_ports() -> None:
    service = Service.model_validate({"image": "a", "expose": ["8000-8001", 53], "ports": ["9000-9001:80-81"]})
    assert [p.short() for p in service.exposed_ports()] == ["53", "8000", "8001"]
    assert [(i, p.short()) for i, p in service.published_ports()] == [(0, "9000:80"), (0, "9001:81")]
