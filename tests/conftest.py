"""Shared fixtures: topology text written to a temporary folder and loaded from there."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import paramiko
import pytest

from tests.fakesshd import FakeSshd, default_handler
from xcompose.config.load import load_project
from xcompose.config.project import Project
from xcompose.engines import sshconfig
from xcompose.errors import ConfigErrors

WriteTopology = Callable[..., Path]
WriteFile = Callable[[str, str], Path]


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """xcompose's per-user state (project CAs, locks) in a folder of the test session, so
    tests never read or write the user's own ~/.local/state."""
    folder = tmp_path_factory.mktemp("state")
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_STATE_HOME", str(folder))
    yield folder
    patch.undo()


@pytest.fixture
def write_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteFile:
    """Write dedented text to tmp_path/NAME (folders made); the cwd is tmp_path, so a
    test names its files as a user in the project folder does."""
    monkeypatch.chdir(tmp_path)

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


def load_files(*files: str, env: Mapping[str, str] | None = None) -> Project:
    """The project of these files, in a clean environment (nothing from the test's shell)."""
    return load_project(list(files), environ=dict(env or {}))


def load_files_errors(*files: str) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_files(*files)
    return [str(e) for e in info.value.errors]


@pytest.fixture
def write_topology(tmp_path: Path) -> WriteTopology:
    """Write (dedented) YAML text to tmp_path/NAME and return its path."""

    def write(text: str, name: str = "xcompose.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(
    write_topology: WriteTopology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Project]:
    """Load YAML text as `xcompose.yaml`; errors name the file relative to tmp_path."""

    def load(text: str, env: Mapping[str, str] | None = None, **kwargs: object) -> Project:
        write_topology(text)
        monkeypatch.chdir(tmp_path)
        return load_project(["xcompose.yaml"], environ=dict(env or {}), **kwargs)  # type: ignore[arg-type]

    return load


@pytest.fixture
def load_errors(load_text: Callable[..., Project]) -> Callable[..., list[str]]:
    """The located error lines that loading the text raises (fails if it loads)."""

    def errors(text: str, env: Mapping[str, str] | None = None, **kwargs: object) -> list[str]:
        with pytest.raises(ConfigErrors) as info:
            load_text(text, env, **kwargs)
        return [str(e) for e in info.value.errors]

    return errors


@pytest.fixture(scope="module")
def keys() -> tuple[paramiko.PKey, paramiko.PKey]:
    return paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()


@pytest.fixture()
def sshd(keys: tuple[paramiko.PKey, paramiko.PKey]) -> Iterator[FakeSshd]:
    server = FakeSshd(keys[0], keys[1], default_handler)
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME and no extra trust: nothing of the real user's ~/.ssh leaks in."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.delenv(sshconfig.ENV_KNOWN_HOSTS, raising=False)
    monkeypatch.delenv(sshconfig.ENV_SSH_CONFIG, raising=False)
    return tmp_path / "home"
