"""This room's `barometer` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command(name="explain")(explain)


def explain(
    target: Annotated[str, typer.Option(help="churn or deal_win.")],
    model: Annotated[
        Path | None, typer.Option(help="A saved ScoringModel folder instead of the champion.")
    ] = None,
    rows: Annotated[int, typer.Option(help="Rows explained for the drivers and plots.")] = 3000,
    mlflow_log: Annotated[
        bool, typer.Option("--log/--no-log", help="Log the report to MLflow.")
    ] = True,
) -> None:
    """Write the HTML explanation report (drivers, rep profiles, contribution) and log it."""
    from barometer.settings import get_settings
    from explain.build_reports import explain_target

    if target not in ("churn", "deal_win"):
        raise typer.BadParameter(f"--target must be churn or deal_win, got {target!r}.")
    try:
        path = explain_target(get_settings(), target, model_folder=model, rows=rows, log=mlflow_log)
    except (FileNotFoundError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Report: {path}")
