"""Monitoring rows for the dashboard's workspace, made by `barometer monitor`'s own steps
(`training.monitor`) with a reference recorded as training records it (`training.reference`).

The churn champion's reference population called less often (days since the last call drawn
with a mean of 8 days instead of the scored population's 20), so that feature has shifted; the
predictions served on the first run have outcomes drawn from their own probabilities, those of the
second run churned twice as often. Deal win is left unmonitored.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.model import monitoring
from barometer.model.store import LoadedModel
from features.warehouse import connect
from tests.serving.conftest import AS_OF, feature_rows

KINDS = {"days_since_last_call": "numeric", "open_cases": "numeric", "segment": "categorical"}
BACKTEST = {
    "roc_auc_mean": 0.81,
    "roc_auc_std": 0.02,
    "brier_mean": 0.18,
    "brier_std": 0.01,
    "ece_mean": 0.03,
    "ece_std": 0.01,
}
CI = (0.78, 0.84)
MONITORED_AT = datetime(2026, 10, 2, 6, 30)


def write_monitoring(home: Path, models: dict[str, LoadedModel]) -> pd.DataFrame:
    """Monitor the churn champion's latest run; returns the rows written."""
    from training import drift, monitor, reference

    loaded = models["churn"]
    rng = np.random.default_rng(5)
    past = feature_rows("account_id", 2000, seed=5, prefix="T").assign(
        days_since_last_call=rng.exponential(8, 2000).round(1), cutoff=pd.Timestamp("2026-06-01")
    )
    p = loaded.model.predict_proba(past)
    ref = reference.build_reference(past, p, loaded.model, KINDS, BACKTEST, CI)
    thresholds = drift.Thresholds(min_outcomes=20)  # the workspace holds 40 accounts
    day_of = pd.Timestamp(AS_OF[1])
    with connect(home / "warehouse.duckdb") as con:
        scored = monitor.scored_run(con, "churn", day_of)
        features, _ = monitor.day_features(con, "churn", day_of, list(ref["features"]))
        day = monitor.check_day("churn", day_of, loaded.version, ref, scored, features, thresholds)
        served = monitor.served_predictions(con, "churn", [pd.Timestamp(d) for d in AS_OF])
        draw = np.random.default_rng(6).random(len(served))
        factor = np.where(served["as_of"] == day_of, 2.0, 1.0)
        outcomes = served.assign(label=(draw < served["probability"] * factor).astype(int))
        due = served.groupby("as_of").size().rename("scored").reset_index()
        due["model_version"] = loaded.version
        limits = monitor.tolerance({}, ref)
        day.realised = monitor.realised_runs(
            due,
            served,
            outcomes[["entity_id", "as_of", "label"]],
            {loaded.version: limits},
            "churn",
            thresholds,
        )
        day.signal = drift.retrain_signal(
            day.features,
            day.score,
            monitor.latest_judged(day, monitoring.read_rows(con, "churn", ["realised"])),
            thresholds,
        )
        day.thresholds = thresholds.model_dump()
        rows, replace = monitor.rows_of(day, MONITORED_AT)
        monitoring.write_checks(con, rows, replace)
        return monitoring.read_rows(con, "churn")
