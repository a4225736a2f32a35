"""This room's `barometer` commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
