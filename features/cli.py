"""This room's `barometer` commands: `features` (build, or `--list` the registry)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer


def _print_registry(markdown: bool) -> None:
    """The registry as a rich table (or the Markdown of docs/features.md)."""
    from rich.console import Console
    from rich.table import Table

    from features.registry import FAMILY_LABELS, REGISTRY
    from features.registry import markdown as registry_markdown

    if markdown:
        typer.echo(registry_markdown(), nl=False)
        return
    table = Table(title=f"{len(REGISTRY)} features")
    for column in ("feature", "entity", "family", "kind", "window", "description"):
        table.add_column(column)
    for f in REGISTRY:
        window = f"{f.window_days} d" if f.window_days else "all"
        table.add_row(f.name, f.entity, FAMILY_LABELS[f.family], f.kind, window, f.description)
    Console(width=200).print(table)


def _print_summary(report) -> None:
    """Rows, features, null rates per feature and time taken."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    first, last = report.cutoffs[0], report.cutoffs[-1]
    console.print(
        f"{len(report.cutoffs)} cutoffs {first:%Y-%m-%d}..{last:%Y-%m-%d} in {report.seconds:.1f} s"
    )
    for name, rows in report.rows.items():
        extra = f", {len(report.null_rates[name])} features" if name in report.null_rates else ""
        console.print(f"  {name}: {rows:,} rows{extra}")
    for note in report.notes:
        console.print(f"  [yellow]{note}[/yellow]")
    for name, rates in report.null_rates.items():
        table = Table(title=f"{name}: null rate per feature")
        table.add_column("feature")
        table.add_column("null rate", justify="right")
        for feature, rate in rates.items():
            table.add_row(feature, f"{rate:.1%}")
        console.print(table)


def features(
    list_: Annotated[
        bool, typer.Option("--list", help="Print the feature registry and exit.")
    ] = False,
    markdown: Annotated[
        bool, typer.Option(help="With --list: print the Markdown table of docs/features.md.")
    ] = False,
    as_of: Annotated[
        list[datetime] | None,
        typer.Option(
            help="Explicit cutoff date (midnight UTC); repeat for several.", formats=["%Y-%m-%d"]
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="duckdb (the workspace warehouse) or spark (the lake; see the README)."),
    ] = "duckdb",
    churn_definition: Annotated[
        str, typer.Option(help="explicit (churned_at) or inactivity (no usage for N days).")
    ] = "explicit",
    inactive_days: Annotated[
        int, typer.Option(help="Days without activity that count as churn (inactivity).")
    ] = 60,
) -> None:
    """Build point-in-time features and labels for every cutoff into the warehouse."""
    if list_:
        _print_registry(markdown)
        return
    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter("engine must be duckdb or spark", param_hint="--engine")
    if churn_definition not in ("explicit", "inactivity"):
        raise typer.BadParameter("explicit or inactivity", param_hint="--churn-definition")
    from rich.progress import Progress

    from barometer.settings import get_settings
    from features.build import build_all
    from features.warehouse import WarehouseBusyError

    steps = [
        "exporting the warehouse",
        "account and opportunity features",
        "churn labels",
        "deal-win labels",
        "writing tables",
        "counting rows",
    ]
    with Progress(transient=True) as progress:
        task = progress.add_task("features", total=len(steps))

        def step(name: str) -> None:
            progress.update(task, description=name, completed=steps.index(name))

        try:
            report = build_all(
                get_settings(),
                as_of,
                engine,
                churn_definition,  # type: ignore[arg-type]
                inactive_days,
                step,
            )
        except (FileNotFoundError, ValueError, WarehouseBusyError) as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(1) from exc
        progress.update(task, completed=len(steps))
    _print_summary(report)


def ingest_lake() -> None:
    """Validate the lake's contract tables on Spark into `contract/` of the lake output (bad rows
    go to `contract/rejects`); exits 1 above BAROMETER_REJECT_THRESHOLD, 2 on a missing table."""
    from rich.console import Console
    from rich.table import Table

    from barometer.settings import get_settings
    from features.lake_contract import LakeError, validate_lake

    settings, console = get_settings(), Console()
    try:
        with console.status("Validating on Spark ...") as status:
            report = validate_lake(settings, progress=lambda n: status.update(f"Validating {n}"))
    except (LakeError, FileNotFoundError) as exc:
        console.print(f"[red]ingest-lake failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title=f"validated into {settings.lake_output}/contract")
    for column in ("table", "source", "rows read", "loaded", "rejected"):
        table.add_column(column)
    for t in report.tables:
        table.add_row(t.table, t.source, f"{t.rows_read:,}", f"{t.loaded:,}", f"{t.rejected:,}")
    console.print(table)
    if report.skipped:
        console.print(f"optional tables not in the lake: {', '.join(report.skipped)}")
    over = report.over_threshold(settings.reject_threshold)
    if over:
        console.print(f"[red]rejected share above {settings.reject_threshold:.0%}:[/red] {over}")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command()(features)
    app.command("ingest-lake")(ingest_lake)
