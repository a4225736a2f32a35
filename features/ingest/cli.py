"""This room's `barometer` commands."""

from __future__ import annotations

from datetime import datetime
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
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding of the CSV files (e.g. cp1252); detected when omitted."),
    ] = None,
    export_date: Annotated[
        datetime | None,
        typer.Option(
            "--export-date",
            formats=["%Y-%m-%d"],
            help="Day the export was taken: later dates are implausible. Default: each file's "
            "modification time.",
        ),
    ] = None,
) -> None:
    """Validate and load a CRM export into the workspace warehouse; bad rows go to `rejects`."""
    from rich.markup import escape

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

            report = ingest(
                path,
                settings,
                format,  # type: ignore[arg-type]
                mapping,
                show,
                encoding=encoding,
                export_date=export_date,
            )
    except (IngestError, WarehouseBusyError) as exc:
        console.print(f"[red]Ingest failed:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    print_report(report, settings.reject_threshold, console)
    if report.over_threshold(settings.reject_threshold):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command("ingest")(ingest_command)
