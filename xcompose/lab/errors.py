"""Errors raised by the lab; the CLI turns them into one-line messages."""

from __future__ import annotations


class LabError(Exception):
    """A lab operation failed; the message is meant for the user, as one line."""


class LabUsageError(LabError):
    """The request itself is wrong (bad prefix, host count, subnet): exit code 2."""


class LabMissingError(LabError):
    """Something the lab needs is absent (root, a program, kernel support)."""
