"""The explanations tests' synthetic churn model (known effects, hand-made registry), and a small
simulated workspace with a model trained on its own features, for the scoring job."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import Calibrator, ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.model.store import LoadedModel
from barometer.settings import Settings
from tests.explain.conftest import REGISTRY, accounts, churn_model  # noqa: F401 - fixtures


@pytest.fixture(scope="session")
def registry() -> dict:
    return {f.name: f for f in REGISTRY}


def simulated_home(root, n_accounts: int = 120, seed: int = 5) -> Settings:
    """A workspace with `n_accounts` simulated accounts ingested (no feature tables built)."""
    from data.simulator import simulate, write_export
    from features.ingest.run import ingest

    settings = Settings(home=root / "workspace")
    settings.ensure_home()
    write_export(simulate(n_accounts, seed=seed), root / "export", fmt="parquet")
    ingest(root / "export", settings, "canonical", None)
    return settings


def fitted(target: str, frame: pd.DataFrame, label: np.ndarray) -> ScoringModel:
    """A small LightGBM model on every registry feature of `frame` (categoricals encoded)."""
    from features.registry import REGISTRY as FEATURES

    kinds = {f.name: f.kind for f in FEATURES if f.name in frame.columns}
    kinds = {n: k if k in ("categorical", "bool") else "numeric" for n, k in kinds.items()}
    encoder = FeatureEncoder(kinds).fit(frame)
    matrix = encoder.transform(frame)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5}
    params |= {"num_threads": 1, "seed": 3, "deterministic": True}
    cats = [i for i, n in enumerate(encoder.feature_names) if n in encoder.categories_]
    booster = lgb.train(params, lgb.Dataset(matrix, label, categorical_feature=cats), 25)
    return ScoringModel(target, encoder, booster, Calibrator("platt", 1.0, 0.0))


@pytest.fixture(scope="session")
def scoring_home(tmp_path_factory):
    """A simulated workspace (ingested) and churn and deal-win models trained on features the
    engine computed for it at a few cutoffs (labels drawn from days since the last touch)."""
    import ibis

    from features.backends import tune_duckdb
    from features.engine import feature_frames

    settings = simulated_home(tmp_path_factory.mktemp("scoring"))
    con = tune_duckdb(ibis.duckdb.connect(str(settings.warehouse_path), read_only=True))
    cutoffs = ["2024-09-01", "2024-12-01", "2025-03-01"]
    frames = feature_frames(con, ["account", "opportunity"], cutoffs, stage_entry_snapshots=False)
    con.disconnect()
    rng = np.random.default_rng(0)
    models = {}
    for target, entity in (("churn", "account"), ("deal_win", "opportunity")):
        frame = frames[entity][0]
        silence = frame.filter(like="days_since").iloc[:, 0].fillna(60).to_numpy()
        label = (rng.random(len(frame)) < 1 / (1 + np.exp(3 - silence / 15))).astype(int)
        models[target] = LoadedModel(target, fitted(target, frame, label), "1")
    return settings, models
