"""The I/O edge of `barometer explain`: read the warehouse and champions, build, write, log.

Everything here only gathers frames and calls the pure functions of this room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.settings import Settings
from barometer.targets import TARGETS
from explain.report import ReportInputs, build_report, log_report, write_report


@dataclass(frozen=True)
class Loaded:
    model: ScoringModel
    label: str
    run_id: str | None


def load_model(settings: Settings, target: str, folder: Path | None = None) -> Loaded:
    """A saved artefact folder, or the registered champion."""
    if folder is not None:
        return Loaded(ScoringModel.load(folder), f"{target} ({folder})", None)
    from barometer.model.store import load_champion

    model, info = load_champion(settings, target)
    return Loaded(model, info.label, info.run_id)


def _other_model(settings: Settings, target: str, loaded: Loaded) -> Loaded | None:
    """The champion of the other target, when there is one."""
    other = "deal_win" if target == "churn" else "churn"
    try:
        return load_model(settings, other)
    except (LookupError, FileNotFoundError, ValueError):
        return None


def read_tables(settings: Settings, target: str) -> tuple[pd.DataFrame, dict]:
    """The target's feature table and what the manager views read (`explain.managers`). Churn's
    rows are those of `churn_population`, the customers at each cutoff the model scores: the
    feature table also holds accounts that had churned by then."""
    from explain.managers import read_tables as manager_tables
    from features.warehouse import connect, table_exists

    with connect(settings.warehouse_path, read_only=True) as con:
        table = TARGETS[target].features
        if not table_exists(con, table):
            raise FileNotFoundError(
                f"{settings.warehouse_path}: table {table} missing; run `barometer ingest` and "
                "`barometer features` first."
            )
        sql = f'select * from "{table}"'
        if target == "churn" and table_exists(con, "churn_population"):
            sql += (  # ordered: `latest_rows` samples reproducibly from what a join returns
                " f semi join churn_population p using (account_id, cutoff) "
                "order by cutoff, account_id"
            )
        return con.execute(sql).df(), manager_tables(con)


def latest_rows(features: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Rows at the latest cutoff (at most `n`, sampled reproducibly)."""
    latest = features[features["cutoff"] == features["cutoff"].max()]
    return latest.sample(min(n, len(latest)), random_state=seed) if len(latest) > n else latest


def scored_examples(settings: Settings, target: str, n: int = 3) -> list[dict]:
    """The `n` highest scores of the latest scoring run, as stored (none before a first run)."""
    import json

    from features.warehouse import connect, table_exists

    with connect(settings.warehouse_path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return []
        rows = con.execute(
            "select entity_id, as_of, probability, base_probability, reasons from scores "
            "where target = $1 and as_of = (select max(as_of) from scores where target = $1) "
            "order by probability desc, entity_id limit $2",
            [target, n],
        ).fetchall()
    return [
        {
            "entity_id": entity,
            "as_of": f"{as_of:%Y-%m-%d}",
            "probability": probability,
            "base_probability": base,
            "reasons": json.loads(reasons or "[]"),
        }
        for entity, as_of, probability, base, reasons in rows
    ]


def explain_target(
    settings: Settings,
    target: str,
    *,
    model_folder: Path | None = None,
    rows: int = 3000,
    log: bool = True,
) -> Path:
    """Build the report for `target`, write it under artifacts/, log it to MLflow."""
    from explain.managers import build_views
    from features.registry import REGISTRY

    settings.ensure_home()
    loaded = load_model(settings, target, model_folder)
    features, tables = read_tables(settings, target)
    churn = loaded if target == "churn" else _other_model(settings, target, loaded)
    views = build_views(tables, settings, churn.model if churn is not None else None)
    frame = latest_rows(features, rows)
    inputs = ReportInputs(model_label=loaded.label, views=views)
    inputs.examples = scored_examples(settings, target)
    html = build_report(loaded.model, frame, REGISTRY, inputs)
    path = write_report(html, settings.artifacts_dir / f"explain_{target}.html")
    if log:
        log_report(path, settings, target, loaded.run_id)
    return path
