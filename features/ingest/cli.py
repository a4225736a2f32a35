"""This room's `barometer` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def ingest_command(
    path: Annotated[Path, typer.Argument(help="Folder of CSV/Parquet files (one per table).")],
    format: Annotated[
        str, typer.Option("--format", help="Input layout: canonical, salesforce or mapping.")
    ] = "canonical",
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML mapping (required for mapping; custom fields for salesforce)."),
    ] = None,
) -> None:
    """Validate and load a CRM export into the workspace warehouse; bad rows go to `rejects`."""
    from barometer.settings import Settings
    from features.ingest.report import print_report, wide_console
    from features.ingest.run import ingest
    from features.ingest.sources import IngestError, Source
    from features.warehouse import WarehouseBusyError

    settings = Settings()
    console = wide_console()
    try:
        with console.status("Reading the input ...") as status:

            def show(i: int, n: int, source: Source) -> None:
                status.update(f"Loading {i + 1}/{n}: {Path(source.name).name} -> {source.table}")

            report = ingest(path, settings, format, mapping, show)  # type: ignore[arg-type]
    except (IngestError, WarehouseBusyError) as exc:
        console.print(f"[red]Ingest failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    print_report(report, settings.reject_threshold, console)
    if report.over_threshold(settings.reject_threshold):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command("ingest")(ingest_command)
