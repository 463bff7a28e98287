"""The command line: parse, call, print (commands.py for the project, containers.py for its
containers), with one place that maps errors to exit codes (main.py) and one for what is
printed (output.py)."""

from xcompose.cli import commands as _commands  # noqa: F401 - registers the commands on `cli`
from xcompose.cli import containers as _containers  # noqa: F401 - and these
from xcompose.cli.main import cli, main

__all__ = ["cli", "main"]
