"""`${VAR}` substitution and dotenv files, as Compose does them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xcompose.config.interpolate import (
    InterpolationError,
    interpolate_tree,
    parse_dotenv,
    substitute,
)
from xcompose.config.source import parse_text

ENV = {"SET": "value", "EMPTY": ""}


def expand(template: str) -> str:
    return substitute(template, ENV).text


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${SET}", "value"),
        ("$SET", "value"),
        ("a-$SET-b", "a-value-b"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${SET:+r}", "r"),
        ("${EMPTY:+r}", ""),
        ("${EMPTY+r}", "r"),
        ("${UNSET+r}", ""),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
    ],
)
def test_each_operator_behaves_as_in_compose(template: str, expected: str) -> None:
    assert expand(template) == expected


def test_a_default_may_itself_contain_a_variable() -> None:
    assert expand("${UNSET:-${SET}-x}") == "value-x"


def test_a_default_is_only_expanded_when_it_is_used() -> None:
    assert expand("${SET:-${NEEDED:?never}}") == "value"


def test_required_variable_fails_with_its_message() -> None:
    with pytest.raises(InterpolationError, match=r"^required variable PGPASS is missing a value: set PGPASS$"):
        expand("${PGPASS:?set PGPASS}")


def test_required_with_colon_also_refuses_an_empty_value() -> None:
    with pytest.raises(InterpolationError, match=r"required variable EMPTY is missing a value$"):
        expand("${EMPTY:?}")


def test_required_without_colon_accepts_an_empty_value() -> None:
    assert expand("${EMPTY?must be set}") == ""


def test_an_unclosed_brace_is_an_error() -> None:
    with pytest.raises(InterpolationError, match=r"^unclosed '\$\{' \(write \$\$ for a literal \$\)$"):
        expand("a ${SET")


def test_an_error_message_does_not_quote_the_value() -> None:
    with pytest.raises(InterpolationError) as info:
        expand("pa$1word")
    assert "word" not in str(info.value)


def test_a_lone_dollar_is_an_error_that_suggests_escaping() -> None:
    with pytest.raises(InterpolationError, match=r"write \$\$ for a literal \$"):
        expand("echo $1")


def test_an_unknown_operator_is_an_error() -> None:
    with pytest.raises(InterpolationError, match=r"invalid interpolation format for \$\{SET\}"):
        expand("${SET/x}")


def test_an_unset_variable_is_empty_and_reported() -> None:
    result = substitute("a${NOPE}b$ALSO", ENV)
    assert (result.text, result.unset) == ("ab", ["NOPE", "ALSO"])


@given(st.text(alphabet=st.characters(blacklist_characters="$")))
def test_text_without_a_dollar_is_unchanged(text: str) -> None:
    assert expand(text) == text


@given(st.text())
def test_doubling_every_dollar_yields_the_text_itself(text: str) -> None:
    assert expand(text.replace("$", "$$")) == text


def test_keys_are_not_interpolated_only_values() -> None:
    doc = parse_text("services:\n  ${SET}:\n    image: ${SET}\n", "f.yaml")
    interpolate_tree(doc.data, ENV)
    assert doc.data["services"] == {"${SET}": {"image": "value"}}


def test_tree_errors_carry_the_key_path() -> None:
    doc = parse_text("services:\n  a:\n    ports: ['${P:?no port}']\n", "f.yaml")
    result = interpolate_tree(doc.data, ENV)
    assert result.errors == [(("services", "a", "ports", 0), "required variable P is missing a value: no port")]


def test_non_string_values_are_left_alone() -> None:
    doc = parse_text("a: 5\nb: true\nc: null\n", "f.yaml")
    interpolate_tree(doc.data, ENV)
    assert dict(doc.data) == {"a": 5, "b": True, "c": None}


def test_dotenv_reads_plain_quoted_and_exported_values() -> None:
    text = "# comment\nA=1\nexport B=two\nC='lit $SET'\nD=\"x\\ny\"\nE=v # trailing comment\n\nF=\n"
    values, errors = parse_dotenv(text, ".env", ENV)
    assert errors == []
    assert values == {"A": "1", "B": "two", "C": "lit $SET", "D": "x\ny", "E": "v", "F": ""}


def test_dotenv_interpolates_earlier_values_and_the_environment() -> None:
    values, _ = parse_dotenv("BASE=/srv\nDATA=${BASE}/data\nWHO=$SET\n", ".env", ENV)
    assert values == {"BASE": "/srv", "DATA": "/srv/data", "WHO": "value"}


def test_dotenv_double_quoted_values_may_span_lines() -> None:
    values, _ = parse_dotenv('KEY="line1\nline2"\nNEXT=1\n', ".env", ENV)
    assert values == {"KEY": "line1\nline2", "NEXT": "1"}


def test_dotenv_errors_are_located() -> None:
    _, errors = parse_dotenv("A=1\nnot a line\nB='open\n", ".env", ENV)
    assert [str(e) for e in errors] == [
        ".env:2: 'not a line' is not a variable name (use NAME=VALUE)",
        ".env:3: B: unclosed ' quote",
    ]
