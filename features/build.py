"""`build_all`: read the warehouse, compute features and labels, write them back (and Parquet).

Reading and writing happen here, at the edge; the computation is `features.engine` and
`features.labels`. What the build decided (cutoff frequency, churn definition and horizon) is
written with the tables as `build_meta` (and `features/meta.json`), for training and scoring.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import ibis
import pandas as pd
from ibis.backends import BaseBackend

from barometer.settings import Settings
from features import engine as feature_engine
from features import labels as label_engine
from features.backends import Engine, tune_duckdb
from features.label_config import ChurnLabels, ResolvedChurn, read_churn_labels
from features.timeline import choose_frequency, normalise_cutoffs
from features.warehouse import connect, replace_tables, table_exists, write_lock

Step = Callable[[str], None]
# What a build reports to `step`, in order (the lake build starts by exporting the warehouse).
STEPS = (
    "exporting the warehouse",
    "account and opportunity features",
    "churn labels",
    "deal-win labels",
    "rep-attrition labels",
    "writing tables",
    "counting rows",
)


@dataclass
class BuildReport:
    """What `build_all` wrote, for the CLI summary."""

    cutoffs: list[pd.Timestamp]
    rows: dict[str, int] = field(default_factory=dict)
    null_rates: dict[str, pd.Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)


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


def plan_cutoffs(
    as_of: list | None,
    first: pd.Timestamp,
    last: pd.Timestamp,
    horizon_days: int,
    frequency_setting: str,
) -> tuple[list[pd.Timestamp], str, str]:
    """The cutoffs, their frequency and why: the ones given with `--as-of`, else the frequency the
    history supports (`features.timeline.choose_frequency`)."""
    if as_of:
        return normalise_cutoffs(as_of), "given", "cutoffs given with --as-of"
    frequency, cutoffs, why = choose_frequency(first, last, horizon_days, frequency_setting)
    if not cutoffs:
        raise ValueError(
            f"Activities span {first:%Y-%m-%d}..{last:%Y-%m-%d}: too short for cutoffs."
        )
    return cutoffs, frequency, why


def compute_all(
    backend: BaseBackend,
    cutoffs: list[pd.Timestamp],
    settings: Settings,
    data_end: pd.Timestamp,
    churn: ChurnLabels | None = None,
    step: Step = lambda name: None,
) -> tuple[dict[str, pd.DataFrame], list[str], ResolvedChurn]:
    """The output tables computed on `backend`, the switched-off-family notes, and the churn
    definition used."""
    order = tuple(settings.stage_order)
    out, notes = {}, []
    present = feature_engine.available(backend)
    has_opps, has_reps = "opportunities" in present, "reps" in present
    entities = ["account", *(["opportunity"] if has_opps else []), *(["rep"] if has_reps else [])]
    step("account and opportunity features")  # and rep features, in the same pass
    frames = feature_engine.feature_frames(backend, entities, cutoffs, order)
    for entity, (frame, _, entity_notes) in frames.items():
        out[f"features_{entity}"] = frame
        notes += entity_notes
    if not has_opps:
        notes.append(
            "opportunity features and the deal-win model switched off: no opportunities table"
        )
    step("churn labels")
    resolved, population, label_notes = churn_with_labels(
        backend, cutoffs, churn or ChurnLabels(), data_end
    )
    notes += label_notes
    out["churn_population"] = population[["account_id", "cutoff"]]
    out["labels_churn"] = label_engine.known(population, data_end)
    step("deal-win labels")
    if has_opps:
        out["labels_deal_win"] = label_engine.deal_win_labels(backend, cutoffs, order)
    if has_reps:
        step("rep-attrition labels")
        horizon = settings.rep_attrition_horizon_days
        out["labels_rep_attrition"] = label_engine.rep_attrition_labels(
            backend, cutoffs, horizon, data_end
        )
    else:
        notes += feature_engine.active_features("rep", present)[1]
        notes.append("rep features and the rep-attrition model switched off: no reps table")
    return out, notes, resolved


def churn_with_labels(
    backend: BaseBackend,
    cutoffs: list[pd.Timestamp],
    config: ChurnLabels,
    data_end: pd.Timestamp,
) -> tuple[ResolvedChurn, pd.DataFrame, list[str]]:
    """The churn definition for this data, its population with labels, and notes.

    Labels with only one class are caught here. Under `auto`, the next definition with both
    classes is taken (and said); a definition set in the config or by a flag is refused with the
    other definitions' counts; when no definition has both classes the churn model is switched
    off with a note (the deal model can still be trained).
    """
    resolved = label_engine.resolve_churn(backend, config)
    population = label_engine.churn_population(backend, cutoffs, resolved, data_end)
    counts = label_engine.label_counts(label_engine.known(population, data_end))
    if counts["positives"] and counts["negatives"]:
        return resolved, population, []
    others = {}
    for definition in label_engine.DEFINITIONS:
        if definition == resolved.definition:
            continue
        other = replace(resolved, definition=definition)
        frame = label_engine.churn_population(backend, cutoffs, other, data_end)
        others[definition] = (
            other,
            frame,
            label_engine.label_counts(label_engine.known(frame, data_end)),
        )
    problem = _one_class(resolved, counts, data_end)
    usable = {d: v for d, v in others.items() if v[2]["positives"] and v[2]["negatives"]}
    if not usable:
        return (
            resolved,
            population,
            [
                f"{problem}; no other definition gives both churning and staying accounts "
                f"({_counts_words(others)}): the churn model cannot be trained on this data"
            ],
        )
    if config.definition == "auto":
        definition, (other, frame, _) = next(iter(usable.items()))
        why = f"auto: {resolved.definition} gave one class only"
        other = replace(other, why=why)
        return other, frame, [f"{problem}; using {definition} instead ({_counts_words(usable)})"]
    raise label_engine.LabelError(
        f"{problem}. Other definitions on this data: {_counts_words(others)}. Choose one with "
        f"`barometer features --churn-definition {next(iter(usable))}` or `labels.definition` "
        "in experiments/churn.yaml."
    )


def _one_class(churn: ResolvedChurn, counts: dict, data_end: pd.Timestamp) -> str:
    if not counts["rows"]:
        return (
            f"churn ({churn.definition}): no cutoff is followed by a full {churn.horizon_days}-day "
            f"horizon before the data ends ({data_end:%Y-%m-%d}); shorten labels.horizon_days "
            "(--horizon-days)"
        )
    which = "churning" if not counts["positives"] else "staying"
    return (
        f"churn labels under '{churn.definition}' have no {which} accounts in "
        f"{counts['rows']:,} labelled rows"
    )


def _counts_words(others: dict) -> str:
    words = []
    for definition, (churn, _, counts) in others.items():
        detail = f" ({churn.inactive_days} days)" if definition == "inactivity" else ""
        words.append(
            f"{definition}{detail}: {counts['positives']:,} churning of {counts['rows']:,}"
        )
    return "; ".join(words)


OUTPUTS = (
    "features_account",
    "features_opportunity",
    "labels_churn",
    "labels_deal_win",
    "features_rep",
    "labels_rep_attrition",
    "churn_population",
    "build_meta",
)
COMMIT_TABLE = "features_commit"  # the staging folder whose Parquet copies match the tables
STAGING_PREFIX = ".staging-"
WORKDIR_PREFIX = "spark-"


def write_outputs(
    settings: Settings, tables: dict[str, pd.DataFrame], documents: dict[str, dict] | None = None
) -> None:
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
        for name, document in (documents or {}).items():
            (staging / name).write_text(json.dumps(document, indent=2))
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
    """Move a committed staging folder's Parquet copies and JSON documents into place (each an
    atomic rename)."""
    for path in sorted([*staging.glob("*.parquet"), *staging.glob("*.json")]):
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
    churn: ChurnLabels | None = None,
    step: Step = lambda name: None,
) -> BuildReport:
    """The build under the workspace's writer lock, after `recover_outputs`.

    `churn` defaults to the `labels:` block of experiments/churn.yaml. `engine="spark"` builds on
    Spark from the lake instead (`features.lake_build`)."""
    settings.ensure_home()
    churn = churn or read_churn_labels()
    with write_lock(settings.home):
        recover_outputs(settings)
        if engine == "spark":
            from features.lake_build import build_lake

            return build_lake(settings, as_of, churn, step)
        return build_unlocked(settings, as_of, churn, step)


def build_unlocked(
    settings: Settings,
    as_of: list | None,
    churn: ChurnLabels,
    step: Step = lambda name: None,
) -> BuildReport:
    """Compute features and labels for every cutoff from the workspace warehouse and write them."""
    started = time.perf_counter()
    with connect(settings.warehouse_path, read_only=True) as con:
        first, last = data_span(con)
    cutoffs, frequency, why = plan_cutoffs(
        as_of, first, last, churn.horizon_days, settings.cutoff_frequency
    )
    backend = tune_duckdb(ibis.duckdb.connect(str(settings.warehouse_path), read_only=True))
    try:
        tables, notes, resolved = compute_all(backend, cutoffs, settings, last, churn, step)
    finally:
        backend.disconnect()
    label_cutoffs = {
        n: tables[n]["cutoff"] for n in ("labels_churn", "labels_deal_win") if n in tables
    }
    meta = build_meta(cutoffs, frequency, why, first, last, resolved, label_cutoffs)
    tables["build_meta"] = meta_frame(meta)
    step("writing tables")
    write_outputs(settings, tables, {"meta.json": meta})
    report = BuildReport(cutoffs=cutoffs, notes=notes, meta=meta)
    for name, frame in tables.items():
        report.rows[name] = len(frame)
        if name.startswith("features_"):
            keys = {"account_id", "opportunity_id", "rep_id", "cutoff", "snapshot"}
            report.null_rates[name] = frame[[c for c in frame if c not in keys]].isna().mean()
    report.seconds = time.perf_counter() - started
    return report


def build_meta(
    cutoffs: list[pd.Timestamp],
    frequency: str,
    why: str,
    first: pd.Timestamp,
    last: pd.Timestamp,
    churn: ResolvedChurn,
    label_cutoffs: dict[str, Iterable[pd.Timestamp]],
) -> dict:
    """What this build decided, stored with the features (and logged with each model).
    `label_cutoffs` holds each label table's cutoffs."""
    grid = set(cutoffs)  # deal labels also have stage-entry snapshots between cutoffs
    labelled = {
        name.removeprefix("labels_"): len(grid & {pd.Timestamp(c) for c in found})
        for name, found in label_cutoffs.items()
    }
    return {
        "cutoff_frequency": frequency,
        "cutoff_frequency_reason": why,
        "cutoffs": len(cutoffs),
        "first_cutoff": str(cutoffs[0].date()),
        "last_cutoff": str(cutoffs[-1].date()),
        "data_start": str(pd.Timestamp(first)),
        "data_end": str(pd.Timestamp(last)),
        "labelled_cutoffs": labelled,
        "churn": churn.as_dict(),
    }


def meta_frame(meta: dict) -> pd.DataFrame:
    """`build_meta`: one row per key, the value as JSON."""
    return pd.DataFrame({"key": list(meta), "value": [json.dumps(v) for v in meta.values()]})


def read_meta(con) -> dict:
    """The last build's decisions (`build_meta`), or {} before the first build."""
    if not table_exists(con, "build_meta"):
        return {}
    rows = con.execute("select key, value from build_meta").fetchall()
    return {key: json.loads(value) for key, value in rows}
