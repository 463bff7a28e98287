"""The command line: parse, call, print (commands.py and project.py for the project;
attached.py, lifecycle.py, show.py and transfer.py for its containers), with one place
that maps errors to exit codes (main.py) and one for what is printed (output.py)."""

# Each module registers its commands on `cli` when imported.
from xcompose.cli import attached as _attached  # noqa: F401
from xcompose.cli import commands as _commands  # noqa: F401
from xcompose.cli import lifecycle as _lifecycle  # noqa: F401
from xcompose.cli import project as _project  # noqa: F401
from xcompose.cli import show as _show  # noqa: F401
from xcompose.cli import transfer as _transfer  # noqa: F401
from xcompose.cli.main import cli, main

__all__ = ["cli", "main"]
