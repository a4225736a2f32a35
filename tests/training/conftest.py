"""Synthetic panels with known signal, and simulated workspaces, for the training tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer.settings import Settings
from training.config import ExperimentConfig

KINDS = {
    "calls_90d": "numeric",
    "days_since_last_touch": "numeric",
    "segment": "categorical",
    "has_champion": "bool",
    "noise": "numeric",
    "arr": "numeric",
}


def make_panel(
    n_entities: int = 400, n_cutoffs: int = 18, seed: int = 0, signal: float = 1.0
) -> pd.DataFrame:
    """Entities × monthly cutoffs; churn jumps after 45 silent days, falls with calls."""
    rng = np.random.default_rng(seed)
    cutoffs = pd.date_range("2023-01-01", periods=n_cutoffs, freq="MS")
    n = n_entities * n_cutoffs
    frame = pd.DataFrame(
        {
            "account_id": np.repeat([f"A{i:04d}" for i in range(n_entities)], n_cutoffs),
            "cutoff": np.tile(cutoffs, n_entities),
            "calls_90d": rng.poisson(5, n).astype(float),
            "days_since_last_touch": rng.exponential(30, n),
            "segment": rng.choice(["smb", "mid_market", "enterprise"], n),
            "has_champion": rng.random(n) < 0.4,
            "noise": rng.normal(size=n),
            "arr": rng.lognormal(10, 1, n),
        }
    )
    # Thresholds and an interaction: what trees capture and a linear model only approximates.
    logit = -0.8 + signal * (
        2.5 * (frame["days_since_last_touch"] > 45)
        - 0.45 * frame["calls_90d"].clip(upper=6)
        - 1.0 * frame["has_champion"]
        + 1.5 * ((frame["segment"] == "smb") & (frame["calls_90d"] < 3))
    )
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["label_time"] = frame["cutoff"] + pd.Timedelta(days=90)
    return frame


@pytest.fixture(scope="session")
def panel() -> pd.DataFrame:
    return make_panel()


def small_config(**overrides) -> ExperimentConfig:
    """A fast config for tests: few rounds, 1 thread, low minimums."""
    base = {
        "target": "churn",
        "split": {"test_cutoffs": 2, "holdout_cutoffs": 2, "folds": 3},
        "lightgbm": {
            "num_threads": 1,
            "max_rounds": 200,
            "learning_rate": 0.1,
            "early_stopping_rounds": 20,
            "min_data_in_leaf": 20,
        },
        "guards": {"min_positives": 20, "min_negatives": 20},
        "heuristic": {"recency": "days_since_last_touch", "frequency": "calls_90d"},
        "report": {"value_column": "arr", "segment_columns": ["segment"], "bootstrap": 50},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return ExperimentConfig.model_validate(base)


def simulated_workspace(root, accounts: int, seed: int = 7) -> Settings:
    """A workspace under `root` holding `accounts` simulated accounts, ingested, with features."""
    from data.simulator import simulate, write_export
    from features.build import build_all
    from features.ingest.run import ingest

    settings = Settings(home=root / "workspace")
    settings.ensure_home()
    write_export(simulate(accounts, seed=seed), root / "export", fmt="parquet")
    ingest(root / "export", settings, "canonical", None)
    build_all(settings)
    return settings


def logged_churn_model(root, seed: int, n_rows: int):
    """A small churn model fitted on a synthetic panel and logged to a workspace under `root`:
    (model, `n_rows` raw test rows of its features, the logged model's URI)."""
    import mlflow

    from training import lifecycle
    from training.fit import fit_scoring_model
    from training.splits import time_split

    panel = make_panel(n_entities=150, n_cutoffs=12, seed=seed)
    split = time_split(panel, test_cutoffs=2, holdout_cutoffs=2)
    model = fit_scoring_model(
        panel.loc[split.train], panel.loc[split.holdout], KINDS, small_config()
    )
    rows = panel.loc[split.test].head(n_rows)[list(KINDS)].reset_index(drop=True)
    settings = Settings(home=root / "workspace")
    lifecycle.configure(settings)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, "churn")):
        uri = lifecycle.log_scoring_model(model, rows.head(5))
    return model, rows, uri
