"""This room's `barometer` command: `score`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command()(score)


def score(
    target: Annotated[str, typer.Option(help="churn, deal_win or rep_attrition.")],
    as_of: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Score as of this date's midnight (default: the day after the data's last "
            "event, so the latest day the data covers counts).",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write a .csv or .parquet file.")] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Explain every row again instead of only what changed (same scores)."
        ),
    ] = False,
    engine: Annotated[
        str, typer.Option(help="duckdb (the warehouse) or spark (the lake, with spark_udf).")
    ] = "duckdb",
    env_manager: Annotated[
        str,
        typer.Option(help="spark: the model's Python on executors: local, virtualenv or uv."),
    ] = "local",
) -> None:
    """Score every active account (open opportunity) as of a day, with reasons, the change since
    the previous scoring and suggested behaviours; keeps history in `scores`."""
    if engine == "spark":
        _score_lake(target, as_of, env_manager)
        return
    lightgbm_without_sklearn()
    from rich.console import Console

    from barometer.model.store import ChampionProvider
    from barometer.scoring import day_features, job
    from barometer.scoring.reasons import load_registry
    from barometer.settings import MODEL_TARGETS, get_settings
    from barometer.targets import TARGETS
    from features.warehouse import WarehouseBusyError

    if target not in MODEL_TARGETS:
        raise typer.BadParameter(
            f"--target must be one of {', '.join(MODEL_TARGETS)}, not {target!r}."
        )
    settings = get_settings()
    console = Console(stderr=True)
    try:
        with console.status("loading the champion") as status:
            loaded = ChampionProvider(settings).load(target)
            result = job.run(
                settings,
                loaded,
                as_of,
                out,
                load_registry(),
                full=full,
                step=lambda name: status.update(name),
            )
    # OSError: e.g. disk full writing --out; WarehouseBusyError: another writer held it too long
    except (LookupError, ValueError, OSError, WarehouseBusyError) as exc:
        console.print(f"[red]barometer score:[/red] {exc}")
        raise typer.Exit(1) from exc
    stale = day_features.stale_as_of(result.as_of, result.data_through)
    if stale:
        console.print(f"[yellow]warning:[/yellow] {stale}")
    plan = result.plan
    how = ""
    if plan is not None and plan.incremental:
        how = f" ({plan.crossed:,} re-explained, {plan.new:,} new)"
    through = f", data through {result.data_through:%Y-%m-%d %H:%M}" if result.data_through else ""
    Console().print(
        f"Scored {result.rows:,} {TARGETS[target].nouns} as of {result.as_of:%Y-%m-%d}{through} "
        f"with {target} model v{result.model_version}{how} in {result.seconds:.1f}s"
        + (f"; wrote {result.out}" if result.out else "")
    )


def lightgbm_without_sklearn() -> None:
    """Import LightGBM with scikit-learn hidden: LightGBM imports it, when installed, only for its
    scikit-learn wrappers, which scoring never uses, and that import is most of a `score`
    command's start-up (seconds of CPU). scikit-learn stays importable afterwards."""
    import sys

    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        return
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` fail
    try:
        import lightgbm  # noqa: F401
    finally:
        del sys.modules["sklearn"]


def _score_lake(target: str, as_of: datetime | None, env_manager: str) -> None:
    """`--engine spark`: score the lake's feature table at a cutoff on the cluster (see
    `lake_job`)."""
    from rich.console import Console

    from barometer.scoring.lake_job import score_lake
    from barometer.settings import MODEL_TARGETS, get_settings

    if target not in MODEL_TARGETS:
        raise typer.BadParameter(
            f"--target must be one of {', '.join(MODEL_TARGETS)}, not {target!r}."
        )
    settings = get_settings()
    try:
        result = score_lake(settings, target, as_of, env_manager)
    except (LookupError, ValueError, OSError) as exc:
        Console(stderr=True).print(f"[red]barometer score:[/red] {exc}")
        raise typer.Exit(1) from exc
    Console().print(
        f"Scored {result.rows:,} on Spark as of {result.as_of:%Y-%m-%d} with {target} model "
        f"v{result.model_version} in {result.seconds:.1f}s; wrote "
        f"{settings.lake_output}/scores/target={target}/as_of={result.as_of:%Y-%m-%d}"
    )
