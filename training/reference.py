"""The monitoring reference recorded with every trained model (`monitoring/reference.json`, an
artifact of the model's MLflow run), which `barometer monitor` compares the scored population with.

It describes the model's test period, the latest labelled cutoffs of its training data: a
population that ages naturally (tenure, days since the first deal) is then compared with its most
recent past rather than with years-old rows, and these are the rows the backtest's figures and the
calibrated probabilities were measured on. For deals only the cutoff snapshots count, the rows
`barometer score` scores. It holds:

- `features`: a `training.drift.profile` of each of the model's features;
- `importance`: each feature's share of the mean absolute contribution on those rows (how much of
  the scores it moves), so drift in a feature the model barely uses weighs little;
- `scores`: the test period's calibrated probabilities (`training.drift.score_profile`);
- `backtest`: the backtest's ROC AUC with its 95% interval, Brier and ECE (mean and std over
  folds), the tolerance realised performance is held to;
- `period`: which cutoffs and how many rows.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from training import drift

REFERENCE_ARTIFACT = "monitoring/reference.json"
FORMAT = 1
IMPORTANCE_ROWS = 2000  # rows explained for the importance shares (a sample of the test period)


def scoring_rows(test: pd.DataFrame) -> pd.Series:
    """The test rows `barometer score` would score: every row, or a deal's cutoff snapshots."""
    if "snapshot" in test.columns:
        return (test["snapshot"] == "cutoff").to_numpy()
    return np.ones(len(test), dtype=bool)


def build_reference(
    test: pd.DataFrame,
    probability: np.ndarray,
    model: ScoringModel,
    kinds: Mapping[str, str],
    backtest: Mapping[str, float],
    ci: tuple[float, float],
    *,
    seed: int = 0,
) -> dict:
    """The reference of a model from its test period (`test`, with the model's calibrated
    `probability` for each row) and its backtest (`summarise`'s row for the model's kind and the
    pooled ROC AUC interval)."""
    keep = scoring_rows(test)
    rows, p = test.loc[keep], np.asarray(probability, dtype=float)[keep]
    used = {name: kinds[name] for name in model.feature_names if name in kinds}
    sample = rows.sample(min(len(rows), IMPORTANCE_ROWS), random_state=seed) if len(rows) else rows
    points = model.explain(sample).points if len(sample) else None
    cutoffs = pd.to_datetime(rows["cutoff"]) if "cutoff" in rows.columns else pd.Series([])
    return {
        "format": FORMAT,
        "target": model.target,
        "model_kind": model.kind,
        "period": {
            "first_cutoff": None if cutoffs.empty else str(cutoffs.min().date()),
            "last_cutoff": None if cutoffs.empty else str(cutoffs.max().date()),
            "cutoffs": int(cutoffs.nunique()),
            "rows": int(len(rows)),
        },
        "features": drift.profile(rows, used),
        "importance": {} if points is None else drift.importance_shares(points),
        "scores": drift.score_profile(p),
        "backtest": _backtest(backtest, ci),
    }


def _backtest(summary: Mapping[str, float], ci: tuple[float, float]) -> dict[str, float]:
    wanted = ("roc_auc", "brier", "ece", "base_rate")
    out = {
        f"{metric}_{stat}": float(summary[f"{metric}_{stat}"])
        for metric in wanted
        for stat in ("mean", "std")
        if f"{metric}_{stat}" in summary
    }
    return out | {"roc_auc_ci_low": float(ci[0]), "roc_auc_ci_high": float(ci[1])}


def log_reference(reference: dict) -> None:
    """Log the reference as an artifact of the active MLflow run."""
    import mlflow

    mlflow.log_text(json.dumps(reference, allow_nan=True), REFERENCE_ARTIFACT)


def load_reference(settings, run_id: str) -> dict | None:
    """A model run's reference, or None when the run has none (trained before it was
    recorded)."""
    from mlflow.exceptions import MlflowException

    from barometer.model.store import client

    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client(settings).download_artifacts(run_id, REFERENCE_ARTIFACT, folder)
        except (MlflowException, OSError):
            return None
        with open(path) as handle:
            return json.load(handle)
