"""xcompose: wire Docker containers across hosts."""

__version__ = "0.1.0"
