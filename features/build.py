"""`build_all`: read the warehouse, compute features and labels, write them back (and Parquet).

Reading and writing happen here, at the edge; the computation is `features.engine` and
`features.labels`.
"""

from __future__ import annotations

import os
import shutil
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
from features.warehouse import connect, replace_tables, table_exists, write_lock

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


OUTPUTS = ("features_account", "features_opportunity", "labels_churn", "labels_deal_win")
COMMIT_TABLE = "features_commit"  # the staging folder whose Parquet copies match the tables
STAGING_PREFIX = ".staging-"
WORKDIR_PREFIX = "spark-"


def write_outputs(settings: Settings, tables: dict[str, pd.DataFrame]) -> None:
    """Write the output set atomically: the Parquet copies into a staging folder, then every table
    (with the staging folder's name in `COMMIT_TABLE`, and outputs this run did not produce
    dropped) in one warehouse transaction, then the copies moved into place. A kill before the
    commit leaves the previous set (the next run deletes the staging folder); a kill after it
    leaves the new tables and a committed staging folder that the next run moves in first
    (`recover_outputs`)."""
    folder = settings.features_dir
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    dropped = [name for name in OUTPUTS if name not in tables]
    try:
        for name, frame in tables.items():
            frame.to_parquet(staging / f"{name}.parquet", index=False)
        commit = pd.DataFrame(
            {"staging": [staging.name], "written_at": [pd.Timestamp.now("UTC").tz_localize(None)]}
        )
        with connect(settings.warehouse_path) as con:
            replace_tables(con, {**tables, COMMIT_TABLE: commit}, drop=dropped)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, folder, dropped)


def publish(staging: Path, folder: Path, dropped: list[str]) -> None:
    """Move a committed staging folder's Parquet copies into place (each an atomic rename)."""
    for path in sorted(staging.glob("*.parquet")):
        os.replace(path, folder / path.name)
    for name in dropped:
        (folder / f"{name}.parquet").unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)


def recover_outputs(settings: Settings) -> None:
    """Finish or undo what a killed run left (under the writer lock, so nothing else is running):
    a staging folder the warehouse committed is moved into place, any other is deleted, and
    stale `spark-*` work folders are removed."""
    for stale in settings.home.glob(f"{WORKDIR_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = settings.features_dir
    stagings = sorted(folder.glob(f"{STAGING_PREFIX}*")) if folder.is_dir() else []
    if not stagings:
        return
    committed, present = None, set()
    if settings.warehouse_path.exists():
        with connect(settings.warehouse_path, read_only=True) as con:
            if table_exists(con, COMMIT_TABLE):
                committed = con.execute(f"select staging from {COMMIT_TABLE}").fetchone()[0]
            present = {name for name in OUTPUTS if table_exists(con, name)}
    for staging in stagings:
        if staging.name == committed:
            publish(staging, folder, [name for name in OUTPUTS if name not in present])
        else:
            shutil.rmtree(staging, ignore_errors=True)


def build_all(
    settings: Settings,
    as_of: list | None = None,
    engine: Engine = "duckdb",
    churn_definition: label_engine.ChurnDefinition = "explicit",
    inactive_days: int = 60,
    step: Step = lambda name: None,
) -> BuildReport:
    """The build under the workspace's writer lock, after `recover_outputs`.

    `engine="spark"` builds on Spark from the lake instead (`features.lake_build`)."""
    settings.ensure_home()
    with write_lock(settings.home):
        recover_outputs(settings)
        if engine == "spark":
            from features.lake_build import build_lake

            return build_lake(settings, as_of, churn_definition, inactive_days, step)
        return build_unlocked(settings, as_of, churn_definition, inactive_days, step)


def build_unlocked(
    settings: Settings,
    as_of: list | None = None,
    churn_definition: label_engine.ChurnDefinition = "explicit",
    inactive_days: int = 60,
    step: Step = lambda name: None,
) -> BuildReport:
    """Compute features and labels for every cutoff from the workspace warehouse and write them."""
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
