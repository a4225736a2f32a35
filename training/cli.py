"""This room's `barometer` commands: train, evaluate, promote, monitor."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from barometer.settings import MODEL_TARGETS

TargetOption = Annotated[str, typer.Option("--target", help="churn, deal_win or rep_attrition.")]
HEADLINE = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_top10")


def _settings():
    from barometer.settings import get_settings

    settings = get_settings()
    settings.ensure_home()
    return settings


def _check_target(target: str) -> None:
    if target not in MODEL_TARGETS:
        raise typer.BadParameter(
            f"--target must be one of {', '.join(MODEL_TARGETS)}, not {target!r}"
        )


def _print_summary(summary, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("scorer")
    for metric in HEADLINE:
        table.add_column(metric)
    for scorer, row in summary.iterrows():
        cells = [f"{row[f'{m}_mean']:.3f} ± {row[f'{m}_std']:.3f}" for m in HEADLINE]
        table.add_row(str(scorer), *cells)
    Console().print(table)


def train(
    target: TargetOption,
    config: Annotated[
        Path | None, typer.Option(help="Experiment YAML (default experiments/<target>.yaml).")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="duckdb (the warehouse) or spark (a sample of the lake's tables)."),
    ] = "duckdb",
) -> None:
    """Backtest LightGBM, logistic regression and (on purchase logs) BG/NBD; log the run and
    register the best one that beats the base rate."""
    from training.config import resolve_config
    from training.guards import GuardError
    from training.runs import train_target

    _check_target(target)
    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter("engine must be duckdb or spark", param_hint="--engine")
    try:
        result = train_target(_settings(), resolve_config(target, config), engine)
    except (GuardError, ValueError, FileNotFoundError) as exc:
        typer.secho(f"train {target}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    for note in result.warnings:
        typer.secho(f"warning: {note}", fg="yellow", err=True)
    if "sample" in result.report:
        typer.echo(f"training sample: {result.report['sample']}")
    build = result.build
    if build.get("cutoff_frequency"):
        typer.echo(f"cutoffs: {build['cutoff_frequency']} ({build['cutoff_frequency_reason']})")
    if target == "churn" and "churn" in build:
        c = build["churn"]
        typer.echo(
            f"churn: {c['definition']} within {c['horizon_days']} days ({c['chosen_because']})"
        )
    typer.echo(result.plan.words())
    title = f"{target}: backtest, mean ± std over {result.plan.folds or 1} fold(s)"
    _print_summary(result.summary, title)
    typer.echo(f"estimate: {result.estimate_words()}")
    m = result.report["metrics"]
    typer.echo(
        f"latest test window: ROC AUC {m['roc_auc']:.3f} (95% CI {m['roc_auc_ci_low']:.3f}–"
        f"{m['roc_auc_ci_high']:.3f}), ECE {m['ece']:.3f}, run {result.run_id}"
    )
    if result.refusals:
        typer.secho("not registered: " + "; ".join(result.refusals), fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(result.choice.words(result.summary))
    typer.echo(f"registered {result.version.label} ({result.winner})")


def evaluate(
    target: TargetOption,
    version: Annotated[
        str | None, typer.Option(help="Registered version (default: champion, else newest).")
    ] = None,
) -> None:
    """Backtest a registered version's recipe on the current data and tag the version with it."""
    from training.runs import evaluate_version

    _check_target(target)
    try:
        chosen, summary = evaluate_version(_settings(), target, version)
    except (LookupError, ValueError, FileNotFoundError) as exc:
        typer.secho(f"evaluate {target}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    _print_summary(summary, f"{target} v{chosen}: rolling-origin backtest")


def promote(
    target: TargetOption,
    version: Annotated[str | None, typer.Option(help="Candidate version (default newest).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if it does not win (recorded).")
    ] = False,
    config: Annotated[Path | None, typer.Option(help="Experiment YAML for metric/margin.")] = None,
) -> None:
    """Move the `champion` alias to the candidate only if it beats the champion by the margin.

    A refusal keeps the current champion, prints why and exits 0 (so `make retrain` goes on);
    errors exit 1.
    """
    from training.config import resolve_config
    from training.lifecycle import promote as do_promote

    _check_target(target)
    rules = resolve_config(target, config).promotion
    try:
        result = do_promote(
            _settings(),
            target,
            metric=rules.metric,
            margin=rules.margin,
            version=version,
            force=force,
        )
    except LookupError as exc:
        typer.secho(f"promote {target}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    before = f"v{result.champion_before}" if result.champion_before else "no champion"
    if not result.promoted:
        typer.secho(
            f"refused to promote v{result.candidate} ({before} stays): "
            + "; ".join(result.reasons),
            fg="yellow",
        )
        return
    how = " (forced: " + "; ".join(result.reasons) + ")" if result.forced else ""
    typer.echo(f"champion {target}: {before} → v{result.candidate}{how}")


def monitor(
    target: TargetOption,
    as_of: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="The scoring run to check (default: the latest)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Experiment YAML whose `monitoring:` thresholds apply.")
    ] = None,
) -> None:
    """Check the champion against the population it scored (feature and score drift) and against
    the outcomes that matured since (realised performance); record it in the warehouse
    (`monitoring`) and MLflow, and say whether the target needs retraining."""
    from rich.console import Console

    from features.warehouse import WarehouseBusyError
    from training.config import resolve_config
    from training.monitor import run_monitor

    _check_target(target)
    console = Console()
    try:
        with console.status(f"monitoring {target}…"):
            result = run_monitor(_settings(), target, resolve_config(target, config), as_of)
    except (LookupError, ValueError, FileNotFoundError, WarehouseBusyError) as exc:
        typer.secho(f"monitor {target}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    _print_monitoring(console, result)


def _print_monitoring(console, result) -> None:
    from rich.table import Table

    from barometer.model.monitoring import SIGNAL_WORDS

    day = result.day
    console.print(
        f"{day.target} v{day.champion}: scoring run of {day.as_of:%Y-%m-%d} ({day.rows:,} rows"
        + (f", features from {day.feature_source}" if day.feature_source else "")
        + ")"
    )
    if day.features is not None:
        shown = day.features[day.features["status"] != "ok"].sort_values(
            "importance", ascending=False
        )
        table = Table(title=f"feature drift: {len(shown)} of {len(day.features)} flagged")
        for column in ("feature", "status", "PSI", "importance", "null rate", "reason"):
            table.add_column(column)
        for row in shown.head(15).itertuples():
            table.add_row(
                row.feature,
                row.status,
                f"{row.psi:.3f}",
                f"{row.importance:.1%}",
                f"{row.null_rate:.0%} (was {row.null_rate_reference:.0%})",
                row.reason,
            )
        console.print(table)
    if day.score is not None:
        s = day.score
        bands = ", ".join(
            f"{b} {v:.1%} (was {s['bands_reference'].get(b, float('nan')):.1%})"
            for b, v in s["bands"].items()
        )
        console.print(f"score drift: PSI {s['psi']:.3f}, mean {s['mean']:.1%} ({bands})")
    for as_of, version, r, info in day.realised:
        judged = "" if info["judged"] else " (not judged yet)"
        console.print(
            f"realised {as_of:%Y-%m-%d} (v{version}, {r.n:,} outcomes{judged}): ROC AUC "
            f"{r.roc_auc:.3f}, Brier {r.brier:.4f}, ECE {r.ece:.3f}, observed "
            f"{r.observed_rate:.1%} against {r.predicted_rate:.1%} predicted"
        )
    for note in day.notes:
        console.print(f"note: {note}", style="yellow")
    signal = day.signal
    style = {"broken": "bold red", "retrain": "bold red", "watch": "yellow"}.get(
        signal.status, "green"
    )
    words = SIGNAL_WORDS[signal.status]
    console.print(f"{day.target}: {words[0].lower()}{words[1:]}", style=style)
    for reason in signal.reasons:
        console.print(f"  - {reason}", style=style)
    for note in signal.notes:
        console.print(f"  · {note}")
    where = f"; MLflow run {result.mlflow_run_id}" if result.mlflow_run_id else ""
    console.print(f"wrote {result.written} monitoring rows in {result.seconds:.1f}s{where}")


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command()(train)
    app.command()(evaluate)
    app.command()(promote)
    app.command()(monitor)
