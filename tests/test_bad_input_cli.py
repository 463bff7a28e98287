"""Every broken file of tests/bad_inputs through the command line, as a user meets it:
`config`, `plan --offline`, `plan` and `up` each exit 2 with the same located message on
stderr, before any host is contacted, and no traceback anywhere.

The loader's cases are the top-level `*.expect` files; the planner's (a cycle, a port or
alias clash, a cross-host link to a target without `expose`) are in `plan/`. Every case
runs through click's runner in this process (the same code from argument parsing to exit
code); a sample of each family also runs as its own `python -m xcompose` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from xcompose.cli import cli

BAD_INPUTS = Path(__file__).parent / "bad_inputs"
CASES = sorted(BAD_INPUTS.glob("*.expect")) + sorted((BAD_INPUTS / "plan").glob("*.expect"))
CORPUS_VARIABLES = ("PGPASS",)  # variables the interpolation cases expect to be unset


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def _inputs_of(expect: Path) -> list[str]:
    """`NAME.yaml`, or `NAME.1.yaml`, `NAME.2.yaml`, … merged in that order."""
    single = expect.with_suffix(".yaml")
    if single.exists():
        return [single.name]
    return sorted(p.name for p in expect.parent.glob(f"{expect.stem}.*.yaml"))


def _file_args(names: list[str]) -> list[str]:
    return [arg for name in names for arg in ("-f", name)]


def _clean_env() -> dict[str, str]:
    """A shell's variables, without any that feed interpolation or choose a file or
    project behind the test's back."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    env["COLUMNS"] = "200"
    return env


def run_process(args: list[str], cwd: Path) -> Run:
    """`python -m xcompose ARGS` as its own process."""
    done = subprocess.run(
        [sys.executable, "-m", "xcompose", *args],
        cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=120, check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def run_in_process(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(cwd)
    for name in list(os.environ):
        if name.startswith("XCOMPOSE_") or name in CORPUS_VARIABLES:
            monkeypatch.delenv(name)

    result = CliRunner().invoke(cli, args, prog_name="xcompose", catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        return Run(-1, result.stdout, result.stderr + "\nTraceback (escaped the CLI):\n" + trace)
    return Run(result.exit_code, result.stdout, result.stderr)


def assert_refused(run: Run, wanted: str) -> None:
    everything = run.stdout + run.stderr
    assert "Traceback" not in everything, everything
    assert "internal error" not in everything, everything
    assert run.code == 2, f"exit {run.code}:\n{everything}"
    assert wanted in run.stderr, f"{wanted!r} not in stderr:\n{run.stderr}"


def _case_id(expect: Path) -> str:
    return str(expect.relative_to(BAD_INPUTS).with_suffix(""))


# The commands that read a file: each gives the same verdict for it.
COMMANDS = (["config"], ["plan", "--offline"], ["plan"], ["up", "--lock-wait", "0"])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("expect", CASES, ids=_case_id)
def test_every_command_refuses_each_bad_file_with_its_located_message(
    expect: Path, command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Nowhere to connect to: a command that got past the file would fail differently.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = run_in_process([*_file_args(_inputs_of(expect)), *command], expect.parent, monkeypatch)
    assert_refused(run, expect.read_text(encoding="utf-8").strip())
    assert not (tmp_path / "state").exists(), "a refused file must leave no lock, key or CA behind"


# One case of each family as a separate `python -m xcompose` process, a few at a time.
SAMPLE = [
    "syntax-unclosed-flow", "unknown-key-service", "interpolation-required", "merge-conflict",
    "bad-link-format", "plan/cycle", "plan/port-clash", "plan/udp-crosses-hosts",
]


@pytest.fixture(scope="module")
def sample_runs() -> dict[str, Run]:
    def one(name: str) -> Run:
        expect = BAD_INPUTS / f"{name}.expect"
        return run_process([*_file_args(_inputs_of(expect)), "plan", "--offline"], expect.parent)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(SAMPLE, pool.map(one, SAMPLE), strict=True))


@pytest.mark.parametrize("name", SAMPLE)
def test_python_m_xcompose_refuses_the_sample_the_same_way(name: str, sample_runs: dict[str, Run]) -> None:
    wanted = (BAD_INPUTS / f"{name}.expect").read_text(encoding="utf-8").strip()
    assert_refused(sample_runs[name], wanted)


def test_the_corpus_has_planner_cases_of_every_kind() -> None:
    names = {p.stem for p in (BAD_INPUTS / "plan").glob("*.expect")}
    assert {"cycle", "depends-on-cycle", "port-clash", "alias-clash",
            "udp-crosses-hosts"} <= names
    for expect in CASES:
        assert _inputs_of(expect), f"{expect.name} has no .yaml beside it"


# Cases whose bytes are not text, made here rather than kept in the corpus.


def test_a_binary_file_exits_2_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.yaml").write_bytes(b"services:\n\x00\x01\x02\xff")
    run = run_in_process(["-f", "t.yaml", "plan", "--offline"], tmp_path, monkeypatch)
    assert_refused(run, "t.yaml:2: binary file (NUL byte)")


def test_invalid_utf8_exits_2_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.yaml").write_bytes(b"services:\n  db:\n    image: caf\xe9\n")
    run = run_in_process(["-f", "t.yaml", "plan", "--offline"], tmp_path, monkeypatch)
    assert_refused(run, "t.yaml:3: not valid UTF-8")


def test_a_missing_file_or_a_folder_exits_2_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dir.yaml").mkdir()
    for name in ("nowhere.yaml", "dir.yaml"):
        assert_refused(run_in_process(["-f", name, "plan", "--offline"], tmp_path, monkeypatch), name)


def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.yaml").write_text("services:\n  a: {image: x}\n")
    for args in (["plan", "--format", "png"], ["nosuchcommand"], ["up", "--timeout", "soon"],
                 ["up", "nosuchservice"], ["--no-such-option", "plan"]):
        run = run_in_process(["-f", "t.yaml", *args], tmp_path, monkeypatch)
        assert run.code == 2, (args, run)
        assert "Traceback" not in run.stdout + run.stderr, (args, run)
    run = run_in_process(["-f", "t.yaml", "up", "nosuchservice"], tmp_path, monkeypatch)
    assert "no such service: nosuchservice" in run.stderr


def test_all_errors_of_a_file_come_out_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.yaml").write_text(
        "services:\n  a: {image: x, restart: sometimes}\n  b: {image: y, links: [c]}\n"
    )
    run = run_in_process(["-f", "t.yaml", "plan", "--offline"], tmp_path, monkeypatch)
    assert run.code == 2
    assert "t.yaml:2: services.a.restart" in run.stderr
    assert "t.yaml:3: services.b.links[0]" in run.stderr


def test_a_value_that_looks_like_an_emoji_code_is_printed_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rich turns `:x:` into an emoji unless told not to: a link `db:x:y` must be quoted
    back as `db:x:y`, and `config` must print a value as written."""
    (tmp_path / "t.yaml").write_text(
        "services:\n  db: {image: 'a:x:b', command: ['echo', ':thumbs_up:']}\n"
        "  app: {image: y, links: ['db:x:y']}\n"
    )
    run = run_in_process(["-f", "t.yaml", "plan", "--offline"], tmp_path, monkeypatch)
    assert "'db:x:y' is not a link" in run.stderr
    (tmp_path / "t.yaml").write_text(
        "services:\n  db: {image: 'a:x:b', command: ['echo', ':thumbs_up:']}\n"
    )
    run = run_in_process(["-f", "t.yaml", "config"], tmp_path, monkeypatch)
    assert run.code == 0, run
    assert ":thumbs_up:" in run.stdout and "a:x:b" in run.stdout


def test_a_link_to_a_service_left_out_by_its_profile_loads_once_the_profile_is_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "t.yaml").write_text(
        "services:\n  db: {image: d, profiles: [data]}\n  app: {image: a, links: [db]}\n"
    )
    run = run_in_process(["-f", "t.yaml", "config"], tmp_path, monkeypatch)
    assert_refused(run, "t.yaml:3: services.app.links[0]: service 'db' is left out: none of its profiles (data) is active")
    for args in (["--profile", "data"], ["--profile", "other", "--profile", "data"], ["--profile", "*"]):
        run = run_in_process(["-f", "t.yaml", *args, "config"], tmp_path, monkeypatch)
        assert run.code == 0, (args, run)
        assert "db:" in run.stdout
    monkeypatch.setenv("COMPOSE_PROFILES", "data")
    run = CliRunner().invoke(cli, ["-f", "t.yaml", "config"], prog_name="xcompose")
    assert run.exit_code == 0, run.output
