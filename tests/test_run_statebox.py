"""State boxes: containers that are created, never started, and hold a project's files."""

from __future__ import annotations

from tests.fakes import FakeEngine, FakeExecutor
from xcompose.plan.specs import HostTarget
from xcompose.run.statebox import BOX_IMAGE, StateBox, box_name


def box_on(engine: FakeEngine) -> StateBox:
    return StateBox(FakeExecutor(HostTarget(engine.host, None, None), engine), "shop", "lock")


def test_on_a_host_that_has_the_image_a_box_is_one_create() -> None:
    engine = FakeEngine("db", images={BOX_IMAGE})
    assert box_on(engine).create() is not None
    assert engine.calls == [f"create {box_name('shop', 'lock')}"]


def test_on_a_hosts_first_box_the_image_is_imported_then_the_box_made() -> None:
    engine = FakeEngine("db", images=set())
    box_id = box_on(engine).create()
    assert box_id is not None and engine.containers[box_id].name == box_name("shop", "lock")
    assert BOX_IMAGE in engine.images and f"import {BOX_IMAGE}" in engine.calls


def test_a_second_box_of_the_same_name_is_not_made() -> None:
    engine = FakeEngine("db")
    assert box_on(engine).create() is not None
    assert box_on(engine).create() is None
