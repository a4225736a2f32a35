"""This room's `barometer` commands: `features` (build, or `--list` the registry)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
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
    meta = report.meta
    console.print(
        f"{len(report.cutoffs)} cutoffs {first:%Y-%m-%d}..{last:%Y-%m-%d} in {report.seconds:.1f} s"
    )
    if meta:
        console.print(f"  cutoffs: {meta['cutoff_frequency']} ({meta['cutoff_frequency_reason']})")
        console.print(f"  {_churn_words(meta['churn'])}")
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


def _churn_words(churn: dict) -> str:
    from features.label_config import ResolvedChurn

    fields = {k: v for k, v in churn.items() if k != "chosen_because"}
    resolved = ResolvedChurn(**fields, why=churn["chosen_because"])
    return resolved.describe()


def churn_config(
    config: Path | None,
    definition: str | None,
    horizon_days: int | None,
    inactive_days: int | None,
    activity_types: list[str] | None,
):
    """The experiment config's `labels:` block with the flags that were given on top."""
    from features.label_config import ChurnLabels, read_churn_labels

    base = read_churn_labels(config)
    given = {
        "definition": definition,
        "horizon_days": horizon_days,
        "inactive_days": inactive_days,
        "activity_types": tuple(activity_types) if activity_types else None,
    }
    return ChurnLabels.model_validate(
        base.model_dump() | {k: v for k, v in given.items() if v is not None}
    )


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
            help="Explicit training cutoff (midnight UTC); repeat for several. The feature and "
            "label tables are rebuilt for these cutoffs only; to score a day, use `barometer score "
            "--as-of`.",
            formats=["%Y-%m-%d"],
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="duckdb (the workspace warehouse) or spark (the lake; see the README)."),
    ] = "duckdb",
    config: Annotated[
        Path | None,
        typer.Option(help="Experiment YAML whose `labels:` block defines churn."),
    ] = None,
    churn_definition: Annotated[
        str | None,
        typer.Option(
            help="auto, explicit (churned_at, churn events), inactivity (a silence of N days) or "
            "no_activity (no activity within the horizon); default: the config's."
        ),
    ] = None,
    horizon_days: Annotated[
        int | None, typer.Option(help="Churn horizon in days; default: the config's.")
    ] = None,
    inactive_days: Annotated[
        int | None, typer.Option(help="Days without activity that count as churn (inactivity).")
    ] = None,
    activity_type: Annotated[
        list[str] | None,
        typer.Option(help="Activity type that counts as activity; repeat for several."),
    ] = None,
    frequency: Annotated[
        str | None,
        typer.Option(help="Cutoff frequency: auto, MS (monthly), SMS (semi-monthly), W-MON."),
    ] = None,
) -> None:
    """Build point-in-time features and labels for every cutoff into the warehouse."""
    if list_:
        _print_registry(markdown)
        return
    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter("engine must be duckdb or spark", param_hint="--engine")
    from rich.progress import Progress

    from barometer.settings import get_settings
    from features.build import STEPS, build_all
    from features.warehouse import WarehouseBusyError

    try:
        churn = churn_config(config, churn_definition, horizon_days, inactive_days, activity_type)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--churn-definition/--config") from exc
    settings = get_settings()
    if frequency:
        settings = settings.model_copy(update={"cutoff_frequency": frequency})

    with Progress(transient=True) as progress:
        task = progress.add_task("features", total=len(STEPS))

        def step(name: str) -> None:
            done = STEPS.index(name) if name in STEPS else None  # an unknown step: no advance
            progress.update(task, description=name, completed=done)

        try:
            report = build_all(settings, as_of, engine, churn, step)
        except (FileNotFoundError, ValueError, WarehouseBusyError) as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(1) from exc
        progress.update(task, completed=len(STEPS))
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
