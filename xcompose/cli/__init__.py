"""The command line: parse, call, print (commands.py and project.py for the project;
attached.py, lifecycle.py, show.py and transfer.py for its containers), with one place
that maps errors to exit codes and imports each command when it is used (main.py) and one
for what is printed (output.py)."""

from xcompose.cli.main import cli, main

__all__ = ["cli", "main"]
