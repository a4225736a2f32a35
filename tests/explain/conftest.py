"""A small synthetic churn model with known effects, and a hand-made registry describing it."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import Calibrator, ScoringModel
from barometer.model.encoder import FeatureEncoder
from features.registry import Feature

REGISTRY = (
    Feature(
        "days_since_connected_call",
        "account",
        "cadence",
        "Days since the last connected call",
        90,
        actionable=True,
        unit="days",
    ),
    Feature(
        "escalated_cases_90d",
        "account",
        "service_quality",
        "Escalated cases, last 90 days",
        90,
        actionable=False,
        unit="cases",
    ),
    Feature(
        "first_contact_resolution",
        "account",
        "service_quality",
        "Share of cases resolved at first contact, last 90 days",
        90,
        actionable=True,
        unit="share",
    ),
    Feature(
        "contacts_reached_90d",
        "account",
        "reach",
        "Distinct contacts reached, last 90 days",
        90,
        actionable=True,
        unit="contacts",
    ),
    Feature("last_nps", "account", "customer_voice", "Last NPS score", None),
    Feature(
        "emails_sent_30d",
        "account",
        "cadence",
        "Emails sent, last 30 days",
        30,
        actionable=True,
        unit="emails",
    ),
    Feature("arr", "account", "account_context", "Annual recurring revenue", None),
    Feature("segment", "account", "account_context", "Segment", None, kind="categorical"),
)
FEATURES = [f.name for f in REGISTRY]
SEGMENTS = ["enterprise", "mid_market", "smb"]


def synthetic_accounts(n: int, seed: int) -> pd.DataFrame:
    """Account features drawn independently; emails have no effect on churn."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "days_since_connected_call": rng.integers(0, 90, n).astype(float),
            "escalated_cases_90d": rng.poisson(0.7, n).astype(float),
            "first_contact_resolution": rng.uniform(0, 1, n).round(2),
            "contacts_reached_90d": rng.integers(0, 8, n).astype(float),
            "last_nps": rng.integers(0, 11, n).astype(float),
            "emails_sent_30d": rng.integers(0, 20, n).astype(float),
            "arr": rng.lognormal(10, 1, n).round(0),
            "segment": rng.choice(SEGMENTS, n),
        }
    )


def true_churn_logit(frame: pd.DataFrame) -> pd.Series:
    """Known effects: silence (saturating at 30 days), escalations, low FCR, few contacts, NPS."""
    return (
        -1.0
        + 2.0 * np.minimum(frame["days_since_connected_call"], 30) / 30
        + 0.8 * frame["escalated_cases_90d"]
        - 1.5 * frame["first_contact_resolution"]
        - 0.3 * frame["contacts_reached_90d"]
        - 0.15 * (frame["last_nps"] - 5)
    )


def train_model(frame: pd.DataFrame, label: np.ndarray, target: str = "churn") -> ScoringModel:
    kinds = {n: "categorical" if n == "segment" else "numeric" for n in FEATURES}
    encoder = FeatureEncoder(kinds).fit(frame)
    data = lgb.Dataset(
        encoder.transform(frame), label, categorical_feature=[FEATURES.index("segment")]
    )
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": 15,
        "min_data_in_leaf": 20,
        "learning_rate": 0.1,
        "seed": 1,
        "num_threads": 1,
        "deterministic": True,
    }
    booster = lgb.train(params, data, 80)
    return ScoringModel(target, encoder, booster, Calibrator("platt", a=0.9, b=0.05))


@pytest.fixture(scope="session")
def accounts() -> pd.DataFrame:
    return synthetic_accounts(4000, seed=11)


@pytest.fixture(scope="session")
def churn_model(accounts: pd.DataFrame) -> ScoringModel:
    rng = np.random.default_rng(12)
    label = (rng.random(len(accounts)) < 1 / (1 + np.exp(-true_churn_logit(accounts)))).astype(int)
    return train_model(accounts, label)


@pytest.fixture(scope="session")
def registry() -> tuple[Feature, ...]:
    return REGISTRY


@pytest.fixture(scope="session")
def win_model(accounts: pd.DataFrame) -> ScoringModel:
    """A deal-win model on the same columns: contacts and first-contact resolution help."""
    rng = np.random.default_rng(13)
    logit = -1 + 0.4 * accounts["contacts_reached_90d"] + 1.2 * accounts["first_contact_resolution"]
    label = (rng.random(len(accounts)) < 1 / (1 + np.exp(-logit))).astype(int)
    return train_model(accounts, label, target="deal_win")
