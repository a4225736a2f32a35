"""A small seeded workspace: two synthetic champions, two scoring runs, latest feature rows, and
contract tables with closed deals for the manager views (rep profiles, training needs,
contribution)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from barometer.model.artefact import Calibrator, ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.model.store import LoadedModel, StaticProvider
from barometer.scoring.history import append_scores
from barometer.scoring.scores import score_frame
from barometer.settings import Settings
from features.warehouse import connect, replace_table
from serving.app import ServeOptions, create_app
from tests.serving.helpers import (
    N_ACCOUNTS,
    N_DEALS,
    SEGMENTS,
    closed_deal_features,
    contract_tables,
)

KEYS = {
    "retention": "retention-key-0123456789",
    "manager": "manager-key-0123456789ab",
    "admin": "admin-key-0123456789abcd",
}
AS_OF = (datetime(2026, 9, 1), datetime(2026, 10, 1))
TEAMS = ["sales", "service"]


def train(target: str, seed: int, rounds: int = 30) -> ScoringModel:
    """A model where silence raises the outcome and open cases raise it too."""
    rng = np.random.default_rng(seed)
    n = 1500
    frame = pd.DataFrame(
        {
            "days_since_last_call": rng.exponential(20, n),
            "open_cases": rng.poisson(1.5, n).astype(float),
            "segment": rng.choice(SEGMENTS, n),
        }
    )
    logit = -2 + 0.05 * frame["days_since_last_call"] + 0.4 * frame["open_cases"]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    names = list(frame.columns)
    kinds = {n: "categorical" if n == "segment" else "numeric" for n in names}
    encoder = FeatureEncoder(kinds).fit(frame)
    data = lgb.Dataset(
        encoder.transform(frame), label, categorical_feature=[2], free_raw_data=False
    )
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1, "seed": seed}
    booster = lgb.train(params, data, rounds)
    return ScoringModel(target, encoder, booster, Calibrator("platt", 0.9, -0.1))


def feature_rows(id_column: str, n: int, seed: int, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            id_column: [f"{prefix}{i:03d}" for i in range(n)],
            "days_since_last_call": rng.exponential(20, n).round(1),
            "open_cases": rng.poisson(1.5, n).astype(float),
            "segment": rng.choice(SEGMENTS, n),
        }
    )


def context_for(features: pd.DataFrame, seed: int, deals: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(features)
    return pd.DataFrame(
        {
            "segment": features["segment"],
            "owner_rep_id": rng.choice(["r1", "r2", "r3"], n),
            "team": rng.choice(TEAMS, n),
            "stage": rng.choice(["Discovery", "Proposal"], n) if deals else None,
            "value": rng.integers(1, 100, n) * 1000.0,
            "account_id": [f"A{i % N_ACCOUNTS:03d}" for i in range(n)] if deals else None,
        }
    )


def champion_models() -> dict[str, LoadedModel]:
    """The two synthetic champions the serving, dashboard and reliability tests serve."""
    return {
        "churn": LoadedModel("churn", train("churn", 1), "3", {"roc_auc": 0.8}),
        "deal_win": LoadedModel("deal_win", train("deal_win", 2), "5", {"roc_auc": 0.7}),
    }


def keyed_settings(home: Path) -> Settings:
    """Settings for the workspace `home` with one test key per role."""
    return Settings(home=home, api_keys=",".join(f"{role}:{key}" for role, key in KEYS.items()))


@pytest.fixture(scope="session")
def models() -> dict[str, LoadedModel]:
    return champion_models()


def build_workspace(home: Path, models: dict[str, LoadedModel]) -> dict[str, pd.DataFrame]:
    """Two scoring runs per target in the warehouse and the latest feature rows."""
    latest = {}
    with connect(home / "warehouse.duckdb") as con:
        for target, id_column, n, prefix in (
            ("churn", "account_id", N_ACCOUNTS, "A"),
            ("deal_win", "opportunity_id", N_DEALS, "O"),
        ):
            for run, as_of in enumerate(AS_OF):
                features = feature_rows(id_column, n, seed=10 + run, prefix=prefix)
                context = context_for(features, seed=20, deals=target == "deal_win")
                scored = score_frame(
                    models[target].model,
                    features,
                    context,
                    as_of=as_of,
                    model_version=models[target].version,
                    scored_at=as_of,
                )
                append_scores(con, scored)
            table = "features_account" if target == "churn" else "features_opportunity"
            rows = features.assign(cutoff=AS_OF[1])
            if target == "deal_win":
                rows = rows.assign(
                    account_id=context["account_id"],
                    snapshot="cutoff",
                    deal_touches_30d=6.0,
                    days_since_last_deal_touch=5.0,
                )
                rows = pd.concat([rows, closed_deal_features()], ignore_index=True)
            replace_table(con, table, rows)
            latest[target] = features
        for name, frame in contract_tables().items():
            replace_table(con, name, frame)
    return latest


@pytest.fixture(scope="session")
def workspace(tmp_path_factory, models) -> tuple[Settings, dict[str, pd.DataFrame]]:
    home = tmp_path_factory.mktemp("serving") / "workspace"
    latest = build_workspace(home, models)
    return keyed_settings(home), latest


def make_client(settings: Settings, models: dict, **options) -> TestClient:
    app = create_app(
        settings,
        provider=StaticProvider(models),
        options=ServeOptions(poll_seconds=3600, **options),
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def client(workspace, models):
    settings, _ = workspace
    with make_client(settings, models) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def headers() -> dict[str, dict[str, str]]:
    """`X-API-Key` headers by role."""
    return {role: {"X-API-Key": key} for role, key in KEYS.items()}


@pytest.fixture(scope="session")
def new_client(workspace, models):
    """Build another client on the same workspace (own provider and options)."""

    def build(provider_models=None, **options) -> TestClient:
        return make_client(workspace[0], provider_models or models, **options)

    return build
