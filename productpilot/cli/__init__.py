"""The ``productpilot`` command line."""

from productpilot.cli.app import app, main

__all__ = ["app", "main"]
