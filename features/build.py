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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import ibis
import pandas as pd
from ibis.backends import BaseBackend

from barometer.settings import Settings
from features import engine as feature_engine
from features import labels as label_engine
from features.backends import Engine, open_parquet, tune_duckdb
from features.timeline import choose_frequency, normalise_cutoffs
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


def _spark_backend(warehouse: Path, workdir: Path) -> BaseBackend:
    """Export the contract tables to Parquet and open them in a local Spark session."""
    names = []
    with connect(warehouse, read_only=True) as con:
        for name in (
            "accounts",
            "reps",
            "opportunities",
            "opportunity_stages",
            "activities",
            "cases",
            "nps",
            "churn_events",
        ):
            if table_exists(con, name):
                path = workdir / f"{name}.parquet"
                con.execute(f"copy {name} to '{path}' (format parquet)")
                names.append(name)
    return open_parquet(workdir, names)


def compute_all(
    backend: BaseBackend,
    cutoffs: list[pd.Timestamp],
    settings: Settings,
    data_end: pd.Timestamp,
    churn: label_engine.ChurnLabels | None = None,
    step: Step = lambda name: None,
) -> tuple[dict[str, pd.DataFrame], list[str], label_engine.ResolvedChurn]:
    """The output tables computed on `backend`, the switched-off-family notes, and the churn
    definition used."""
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
        notes.append(
            "opportunity features and the deal-win model switched off: no opportunities table"
        )
    step("churn labels")
    resolved, population, label_notes = churn_with_labels(
        backend, cutoffs, churn or label_engine.ChurnLabels(), data_end
    )
    notes += label_notes
    out["churn_population"] = population[["account_id", "cutoff"]]
    out["labels_churn"] = label_engine.known(population, data_end)
    step("deal-win labels")
    if has_opps:
        out["labels_deal_win"] = label_engine.deal_win_labels(backend, cutoffs, order)
    return out, notes, resolved


def churn_with_labels(
    backend: BaseBackend,
    cutoffs: list[pd.Timestamp],
    config: label_engine.ChurnLabels,
    data_end: pd.Timestamp,
) -> tuple[label_engine.ResolvedChurn, pd.DataFrame, list[str]]:
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


def _one_class(churn: label_engine.ResolvedChurn, counts: dict, data_end: pd.Timestamp) -> str:
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


def write_json_atomic(data: dict, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename (as `write_parquet_atomic`)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
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
    churn: label_engine.ChurnLabels | None = None,
    step: Step = lambda name: None,
) -> BuildReport:
    """Compute features and labels for every cutoff from the workspace warehouse and write them.

    `churn` defaults to the `labels:` block of experiments/churn.yaml.
    """
    started = time.perf_counter()
    settings.ensure_home()
    churn = churn or label_engine.read_churn_labels()
    with connect(settings.warehouse_path, read_only=True) as con:
        first, last = data_span(con)
    if as_of:
        cutoffs, frequency, why = normalise_cutoffs(as_of), "given", "cutoffs given with --as-of"
    else:
        frequency, cutoffs, why = choose_frequency(
            first, last, churn.horizon_days, settings.cutoff_frequency
        )
        if not cutoffs:
            raise ValueError(
                f"Activities span {first:%Y-%m-%d}..{last:%Y-%m-%d}: too short for cutoffs."
            )
    workdir = Path(tempfile.mkdtemp(prefix="spark-", dir=settings.home))
    try:
        if engine == "spark":
            backend = _spark_backend(settings.warehouse_path, workdir)
        else:
            backend = tune_duckdb(ibis.duckdb.connect(str(settings.warehouse_path), read_only=True))
        tables, notes, resolved = compute_all(backend, cutoffs, settings, last, churn, step)
        if engine == "duckdb":
            backend.disconnect()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta = build_meta(cutoffs, frequency, why, first, last, resolved, tables)
    tables["build_meta"] = meta_frame(meta)
    step("writing tables")
    write_outputs(settings, tables)
    write_json_atomic(meta, settings.features_dir / "meta.json")
    report = BuildReport(cutoffs=cutoffs, notes=notes, meta=meta)
    for name, frame in tables.items():
        report.rows[name] = len(frame)
        if name.startswith("features_"):
            keys = {"account_id", "opportunity_id", "cutoff", "snapshot"}
            report.null_rates[name] = frame[[c for c in frame if c not in keys]].isna().mean()
    report.seconds = time.perf_counter() - started
    return report


def build_meta(
    cutoffs: list[pd.Timestamp],
    frequency: str,
    why: str,
    first: pd.Timestamp,
    last: pd.Timestamp,
    churn: label_engine.ResolvedChurn,
    tables: dict[str, pd.DataFrame],
) -> dict:
    """What this build decided, stored with the features (and logged with each model)."""
    grid = set(cutoffs)  # deal labels also have stage-entry snapshots between cutoffs
    labelled = {
        name.removeprefix("labels_"): len(grid & set(tables[name]["cutoff"]))
        for name in ("labels_churn", "labels_deal_win")
        if name in tables
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
