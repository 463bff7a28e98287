"""The topology file: YAML with locations, interpolation, merging, the model, and the
checks that turn one or more files into a validated Project (pure: reads files only)."""

from xcompose.config.load import load_project
from xcompose.config.project import IMPLICIT_HOST, Project

__all__ = ["IMPLICIT_HOST", "Project", "load_project"]
