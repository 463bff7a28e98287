"""`python -m xcompose.lab …` runs the lab commands on their own."""

from .cli import lab

lab(prog_name="xcompose lab")
