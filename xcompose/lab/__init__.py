"""`xcompose lab`: several real Docker hosts on one machine (namespaces, dockerd, sshd)."""

from .errors import LabError, LabMissingError, LabUsageError
from .lab import HostStatus, Lab, LabHost

__all__ = ["HostStatus", "Lab", "LabError", "LabHost", "LabMissingError", "LabUsageError"]
