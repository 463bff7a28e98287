"""The command group, its global options, and the one place where failures become exit
codes: 0 ok, 1 a step, host or lock failed, 2 bad input or usage, 130 interrupted."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import ClassVar, ParamSpec, TypeVar

import click
from rich.console import Console

from xcompose import __version__
from xcompose.errors import XcomposeError

P = ParamSpec("P")
R = TypeVar("R")

# emoji=False: rich would turn `:x:` in a user's value (a link `db:x:y`, a command) into an
# emoji in error messages and in `config`.
# Piped output is for scripts and logs: tables there keep their full width, not 80 columns.
out = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 400)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


@dataclass(frozen=True)
class Options:
    files: tuple[str, ...]
    project_name: str | None
    profiles: tuple[str, ...] = ()
    host_timeout: float | None = None  # None: each host's `timeout:`, else 30s
    project_directory: str | None = None
    env_files: tuple[str, ...] = ()


def host_timeout_option(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """`--host-timeout`: a Compose duration (`90s`, `1m30s`) or seconds, at least one."""
    from xcompose.config.syntax import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(float(value) if _is_number(value) else value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if seconds < 1:
        raise click.BadParameter("a host timeout under 1s would call a healthy host lost")
    return seconds


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def print_text(text: str) -> None:
    """Text made whole already (a plan, a config, JSON) to stdout as it is: rich would lay
    out every line again (0.6 s for 10 MB)."""
    sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def fail(code: int, lines: list[str]) -> None:
    for line in lines:
        err.print(line, markup=False)
    sys.exit(code)


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Known failures become their message and exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except XcomposeError as error:
            fail(error.exit_code, error.lines())
        except KeyboardInterrupt:
            fail(130, ["interrupted"])
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - a bug of ours: say so plainly, trace on request
            if os.environ.get("XCOMPOSE_DEBUG"):
                traceback.print_exc()
            fail(1, [f"internal error: {type(error).__name__}: {error}", "(set XCOMPOSE_DEBUG=1 to see where)"])
        raise AssertionError("fail() exits")

    return wrapper


class _Commands(click.Group):
    """The commands, each imported only when it is used (or listed by `--help`): every
    command starts without the others' modules, and `--version` without any. `lab` is
    listed but never imported for the help text."""

    LAB_HELP = "Simulated Docker hosts on this machine (network namespaces; root)."
    # Where each command is defined, in the order `--help` lists them: the project's life
    # first, then its containers.
    MODULES: ClassVar[Mapping[str, str]] = {
        "up": "commands", "down": "commands", "plan": "commands", "ps": "show", "logs": "show",
        "build": "commands", "pull": "transfer", "config": "project", "convert": "convert", "check": "project",
        "exec": "attached", "run": "attached", "start": "lifecycle", "stop": "lifecycle", "restart": "lifecycle",
        "kill": "lifecycle", "pause": "lifecycle", "unpause": "lifecycle", "rm": "lifecycle", "cp": "transfer",
        "top": "show", "port": "show", "images": "show", "events": "show", "ls": "show", "pki": "project",
        "schema": "project", "version": "show",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.MODULES, "lab"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "lab":
            from xcompose.lab.cli import lab

            return lab
        if cmd_name not in self.commands and cmd_name in self.MODULES:
            importlib.import_module(f"xcompose.cli.{self.MODULES[cmd_name]}")  # registers it on `cli`
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        found = [(name, self.get_command(ctx, name)) for name in self.MODULES]
        commands = [(name, cmd) for name, cmd in found if cmd is not None and not cmd.hidden]
        commands.append(("lab", click.Command("lab", short_help=self.LAB_HELP)))
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in commands])


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="Compose file (repeatable; later files override; - reads standard input). Default: "
              "compose.yaml and its override here or above, then xcompose.yaml. Env: XCOMPOSE_FILE, COMPOSE_FILE.")
@click.option("-p", "--project-name", metavar="NAME",
              help="Project name (default: the file's `name:` or its folder). Env: XCOMPOSE_PROJECT_NAME, "
              "COMPOSE_PROJECT_NAME.")
@click.option("--profile", "profiles", multiple=True, metavar="NAME",
              help="Activate a profile (repeatable; '*' for all). Env: XCOMPOSE_PROFILES, COMPOSE_PROFILES.")
@click.option("--project-directory", metavar="DIR",
              help="The project folder: relative paths and .env start here (default: the first file's folder).")
@click.option("--env-file", "env_files", multiple=True, metavar="FILE",
              help="Variables for the files, instead of the project folder's .env (repeatable).")
@click.option("--host-timeout", callback=host_timeout_option, envvar="XCOMPOSE_HOST_TIMEOUT", metavar="DURATION",
              help="How long a host may stay silent before it counts as lost, for hosts without "
              "`timeout:` (default 30s). Env: XCOMPOSE_HOST_TIMEOUT.")
@click.version_option(__version__, prog_name="xcompose")
@click.pass_context
def cli(
    ctx: click.Context, files: tuple[str, ...], project_name: str | None, profiles: tuple[str, ...],
    project_directory: str | None, env_files: tuple[str, ...], host_timeout: float | None,
) -> None:
    """Run a compose file across Docker hosts.

    The compose file stays as it is; a placement file beside it (xcompose.yaml) names the
    hosts and each service's host. Services reach each other by name as on one host: where
    they run on different hosts, an ambassador pair (mutual TLS) carries the traffic.
    """
    ctx.obj = Options(files=files, project_name=project_name, profiles=profiles, host_timeout=host_timeout,
                      project_directory=project_directory, env_files=env_files)


pass_options = click.make_pass_decorator(Options)


def complete_services(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of service names, from the files the command line names (or finds)."""
    from xcompose.config.load import load_project

    root = ctx.find_root().params
    try:
        project = load_project(root.get("files") or (), project_directory=root.get("project_directory"),
                               env_files=root.get("env_files") or ())
    except Exception:  # noqa: BLE001 - completion offers nothing rather than an error
        return []
    return [name for name in project.topology.services if name.startswith(incomplete)]



def main() -> None:
    from xcompose.alloc import exit_without_freeing, own_process

    own_process()
    try:
        cli(prog_name="xcompose")
    except SystemExit as done:  # click ends every command so, with its exit code
        if done.code is None or isinstance(done.code, int):
            exit_without_freeing(done.code or 0)
        raise
