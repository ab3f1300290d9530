"""The ``memoryspace`` command line."""

from memoryspace.cli.app import app, main

__all__ = ["app", "main"]
