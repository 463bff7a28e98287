"""The labels xcompose gives a container beyond its step's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from xcompose.plan.naming import applied_labels


def test_applied_labels_say_who_and_when_in_utc_to_the_second() -> None:
    at = datetime(2026, 11, 26, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert dict(applied_labels("ops@console", at)) == {
        "io.xcompose.applied-by": "ops@console", "io.xcompose.applied-at": "2026-11-26T11:30:05Z"}
