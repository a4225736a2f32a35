"""`build_all`: read the warehouse, compute features and labels, write them back (and Parquet).

Reading and writing happen here, at the edge; the computation is `features.engine` and
`features.labels`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
import pandas as pd
from ibis.backends import BaseBackend

from barometer.settings import Settings
from features import engine as feature_engine
from features import labels as label_engine
from features.backends import Engine, tune_duckdb
from features.timeline import monthly_cutoffs, normalise_cutoffs
from features.warehouse import connect, replace_table, table_exists

Step = Callable[[str], None]


@dataclass
class BuildReport:
    """What `build_all` wrote, for the CLI summary."""

    cutoffs: list[pd.Timestamp]
    rows: dict[str, int] = field(default_factory=dict)
    null_rates: dict[str, pd.Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def data_span(con: duckdb.DuckDBPyConnection) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last activity time in the warehouse."""
    if not table_exists(con, "activities"):
        raise FileNotFoundError(
            "The warehouse has no activities table: run `barometer ingest` first."
        )
    first, last = con.execute(
        "select min(occurred_at), max(occurred_at) from activities"
    ).fetchone()
    if first is None:
        raise ValueError("The activities table is empty: nothing to compute features from.")
    return pd.Timestamp(first), pd.Timestamp(last)


def default_cutoffs(first: pd.Timestamp, last: pd.Timestamp, freq: str) -> list[pd.Timestamp]:
    """Cutoffs at `freq` from 90 days after the first activity (a full window) to the last."""
    cutoffs = monthly_cutoffs(first + pd.Timedelta(days=90), last, freq)
    if not cutoffs:
        raise ValueError(
            f"Activities span {first:%Y-%m-%d}..{last:%Y-%m-%d}: too short for cutoffs."
        )
    return cutoffs


def compute_all(
    backend: BaseBackend,
    cutoffs: list[pd.Timestamp],
    settings: Settings,
    data_end: pd.Timestamp,
    churn_definition: label_engine.ChurnDefinition = "explicit",
    inactive_days: int = 60,
    step: Step = lambda name: None,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The four output tables, computed on `backend`, and the switched-off-family notes."""
    order = tuple(settings.stage_order)
    out, notes = {}, []
    has_opps = "opportunities" in feature_engine.available(backend)
    entities = ["account", "opportunity"] if has_opps else ["account"]
    step("account and opportunity features")
    frames = feature_engine.feature_frames(backend, entities, cutoffs, order)
    for entity, (frame, _, entity_notes) in frames.items():
        out[f"features_{entity}"] = frame
        notes += entity_notes
    if not has_opps:
        notes.append("opportunity features switched off: no opportunities table")
    step("churn labels")
    out["labels_churn"] = label_engine.churn_labels(
        backend,
        cutoffs,
        settings.churn_horizon_days,
        churn_definition,
        inactive_days,
        data_end=data_end,
    )
    step("deal-win labels")
    if has_opps:
        out["labels_deal_win"] = label_engine.deal_win_labels(backend, cutoffs, order)
    return out, notes


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(settings: Settings, tables: dict[str, pd.DataFrame]) -> None:
    """Replace each output table in the warehouse (one transaction each) and its Parquet copy."""
    with connect(settings.warehouse_path) as con:
        for name, frame in tables.items():
            replace_table(con, name, frame)
    for name, frame in tables.items():
        write_parquet_atomic(frame, settings.features_dir / f"{name}.parquet")


def build_all(
    settings: Settings,
    as_of: list | None = None,
    engine: Engine = "duckdb",
    churn_definition: label_engine.ChurnDefinition = "explicit",
    inactive_days: int = 60,
    step: Step = lambda name: None,
) -> BuildReport:
    """Compute features and labels for every cutoff from the workspace warehouse and write them.

    `engine="spark"` builds on Spark from the lake instead (`features.lake_build`)."""
    if engine == "spark":
        from features.lake_build import build_lake

        return build_lake(settings, as_of, churn_definition, inactive_days, step)
    started = time.perf_counter()
    settings.ensure_home()
    with connect(settings.warehouse_path, read_only=True) as con:
        first, last = data_span(con)
    cutoffs = (
        normalise_cutoffs(as_of)
        if as_of
        else default_cutoffs(first, last, settings.cutoff_frequency)
    )
    backend = tune_duckdb(ibis.duckdb.connect(str(settings.warehouse_path), read_only=True))
    try:
        tables, notes = compute_all(
            backend, cutoffs, settings, last, churn_definition, inactive_days, step
        )
    finally:
        backend.disconnect()
    step("writing tables")
    write_outputs(settings, tables)
    report = BuildReport(cutoffs=cutoffs, notes=notes)
    for name, frame in tables.items():
        report.rows[name] = len(frame)
        if name.startswith("features_"):
            keys = {"account_id", "opportunity_id", "cutoff", "snapshot"}
            report.null_rates[name] = frame[[c for c in frame if c not in keys]].isna().mean()
    report.seconds = time.perf_counter() - started
    return report
