"""The project lock: one run at a time, released when its holder ends."""

import multiprocessing
from pathlib import Path

import pytest

from xcompose.errors import LockTimeout
from xcompose.run.lock import project_lock


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path


def hold_lock(ready, release) -> None:  # type: ignore[no-untyped-def]
    with project_lock("shop"):
        ready.set()
        release.wait(10)


def test_a_second_run_waits_and_then_gives_up_naming_the_holder() -> None:
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_lock, args=(ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        waited_on: list[str] = []
        with pytest.raises(LockTimeout, match=f"pid {holder.pid}"), \
                project_lock("shop", wait=0.3, on_wait=waited_on.append):
            pass
        assert waited_on and f"pid {holder.pid}" in waited_on[0]
    finally:
        release.set()
        holder.join(10)


def test_a_lock_is_free_again_once_its_holder_process_is_gone() -> None:
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_lock, args=(ready, release))
    holder.start()
    assert ready.wait(10)
    holder.kill()
    holder.join(10)
    with project_lock("shop", wait=5):  # raises LockTimeout if the lock were stale
        pass


def test_other_projects_do_not_share_a_lock() -> None:
    with project_lock("shop", wait=0), project_lock("blog", wait=0):
        pass
