"""Each shared data set through the functions the CLI calls, once per module: ingest with its
mapping, features, train, promote, score and explain, in a workspace of its own."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.settings import Settings
from features.ingest.run import IngestReport
from tests.ingest.helpers import MAPPINGS, run

BASELINES = {"base_rate", "logistic", "recency_frequency"}


@dataclass
class Pipeline:
    """What each step of one data set's run returned."""

    settings: Settings
    ingest: IngestReport
    build: object = None  # features.build.BuildReport
    train: object = None  # training.pipeline.TrainResult
    scored: pd.DataFrame | None = None
    report: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def run_pipeline(root: Path, shared_data: Path, name: str, target: str) -> Pipeline:
    """ingest → features → train → (when a model is registered) promote → score → explain."""
    from barometer.model.store import ChampionProvider
    from barometer.scoring import job
    from barometer.scoring.reasons import load_registry
    from explain.build_reports import explain_target
    from features.build import build_all
    from training.lifecycle import promote
    from training.runs import resolve_config, train_target

    settings = Settings(home=root / "workspace")
    clock = time.perf_counter()
    out = Pipeline(
        settings, run(settings, shared_data / name, "mapping", MAPPINGS / f"{name}.yaml")
    )
    out.build = build_all(settings)
    config = resolve_config(target, None)
    out.train = train_target(settings, config)
    if out.train.version is not None:
        rules = config.promotion
        assert promote(settings, target, metric=rules.metric, margin=rules.margin).promoted
        loaded = ChampionProvider(settings).load(target)
        scored = job.run(settings, loaded, registry=load_registry())
        out.scored = query(settings, f"select * from scores where as_of = '{scored.as_of}'")
        out.report = explain_target(settings, target, log=False)
    out.seconds["total"] = time.perf_counter() - clock
    return out


def query(settings: Settings, sql: str) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def day_population_of(settings: Settings, as_of) -> pd.DataFrame:
    """The churn definition's population on `as_of`, as `barometer features` defines it at a
    cutoff (`features.labels.churn_population`), for a day that need not be a cutoff."""
    from barometer.scoring import day_features
    from features.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        last = day_features.data_through(con)
    return day_features.day_population(settings.warehouse_path, pd.Timestamp(as_of), last)


def assert_reasons_add_up(pipeline: Pipeline, target: str) -> None:
    """The champion's explanation of the scored rows: base probability plus every feature's
    points is each row's probability, which is the probability the scoring job wrote."""
    from barometer.model.store import ChampionProvider
    from barometer.targets import ID_COLUMNS, TARGETS

    settings = pipeline.settings
    model = ChampionProvider(settings).load(target).model
    as_of = pipeline.scored["as_of"].iloc[0]
    features = query(
        settings, f"select * from {TARGETS[target].scoring_features} where as_of = '{as_of}'"
    )
    key = ID_COLUMNS[target]
    features = features.set_index(key).loc[pipeline.scored[key]].reset_index()
    explanation = model.explain(features)  # raw rows: the model's encoder reads them
    total = explanation.base_probability + explanation.points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, explanation.probability, atol=1e-9)
    stored = pipeline.scored  # stored to 6 decimals (no float noise in what people read)
    np.testing.assert_allclose(explanation.probability, stored["probability"], atol=5e-7, rtol=0)
    assert np.allclose(stored["base_probability"], explanation.base_probability, atol=5e-7, rtol=0)
    assert explanation.points.abs().to_numpy().sum() > 0  # reasons that say something


def summary_line(name: str, pipeline: Pipeline, request) -> None:
    """The measured outcome, printed under `counts` at the end of the run."""
    train = pipeline.train
    aucs = ", ".join(f"{k} {v:.3f}" for k, v in train.summary["roc_auc_mean"].items())
    line = (
        f"{name}: {train.plan.folds} fold(s), winner {train.winner or 'none'}, "
        f"CI {train.ci[0]:.3f}-{train.ci[1]:.3f}; backtest AUC {aucs}; "
        f"{pipeline.seconds['total']:.0f} s wall"
    )
    request.node.user_properties.append(("summary", line))


def assert_report_names_the_drivers(pipeline: Pipeline, target: str) -> None:
    """The HTML report explains the registered version, and its "Top behaviours" table lists
    the model's features."""
    text = pipeline.report.read_text()
    version = pipeline.train.version
    assert f"barometer-{target.replace('_', '-')}/{version.version}" in text
    top = text[text.index("Top behaviours") :]
    features = pipeline.train.model.feature_names
    assert sum(f"<td>{name}</td>" in top or f">{name}<" in top for name in features) >= 3
