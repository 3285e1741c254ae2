"""The ``riskops`` command line. Commands import their heavy libraries when they run."""

from __future__ import annotations

from riskops.cli.app import app, main

__all__ = ["app", "main"]
