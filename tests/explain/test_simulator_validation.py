"""On the simulator, the drivers recover the documented true effects (families and signs).

Simulate a small company, build the registry's point-in-time features and labels, fit a plain
LightGBM per target, and compare `drivers` / `family_attribution` with `true_effects`.
"""

from __future__ import annotations

import lightgbm as lgb
import pandas as pd
import pytest

from barometer.model.artefact import ScoringModel
from barometer.model.encoder import FeatureEncoder
from data.simulator import true_effects_records
from explain.drivers import drivers, family_attribution
from features.engine import compute_features
from features.labels import churn_labels, deal_win_labels
from features.registry import BY_NAME, REGISTRY

CUTOFFS = pd.date_range("2023-05-01", "2025-03-01", freq="2MS")
# True behaviour → (registry feature measuring it, sign of the feature relative to the behaviour).
MEASURES = {
    "churn": {
        "touches_90d": ("touches_per_week_90d", 1),
        "silence_60d": ("days_since_last_touch", 1),
        "connected_call_minutes": ("avg_connected_call_minutes_90d", 1),
        "distinct_contacts": ("distinct_contacts_90d", 1),
        "followup_delay_days": ("days_to_follow_up_after_meeting_90d", 1),
        "case_csat": ("avg_case_csat_180d", 1),
        "escalations": ("escalation_rate_180d", 1),
    },
    "deal_win": {
        "decision_maker_reached": ("deal_reached_decision_maker", 1),
        "distinct_contacts": ("deal_distinct_contacts", 1),
        "activities_per_week": ("deal_touches_30d", 1),
    },
}


def fit(frame: pd.DataFrame, target: str, entity: str) -> tuple[ScoringModel, pd.DataFrame]:
    names = [f.name for f in REGISTRY if f.entity == entity and f.name in frame]
    bools = {n: frame[n].astype(float) for n in names if BY_NAME[n].kind == "bool"}
    frame = frame.assign(**bools)
    encoder = FeatureEncoder({n: BY_NAME[n].kind for n in names}).fit(frame)
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": 15,
        "min_data_in_leaf": 40,
        "learning_rate": 0.08,
        "num_threads": 1,
        "seed": 1,
        "deterministic": True,
    }
    data = lgb.Dataset(
        encoder.transform(frame),
        frame["label"].to_numpy(),
        categorical_feature=[names.index(c) for c in encoder.categories_],
    )
    booster = lgb.train(params, data, 150)
    return ScoringModel(target, encoder, booster), frame


@pytest.fixture(scope="module")
def simulated() -> dict[str, pd.DataFrame]:
    from data.simulator import simulate

    return simulate(1500, seed=5)


def effects(outcome: str) -> list[dict]:
    return [e for e in true_effects_records() if e["outcome"] == outcome]


def check(model: ScoringModel, frame: pd.DataFrame, outcome: str) -> None:
    sample = frame.sample(min(2500, len(frame)), random_state=0)
    table = drivers(model, sample, REGISTRY).set_index("feature")
    families = family_attribution(model, sample, REGISTRY)
    true_families = {e["family"] for e in effects(outcome)}
    measured = {BY_NAME[f].family for f, _ in MEASURES[outcome].values()}
    top = list(families["family"].head(3))
    assert set(top) <= true_families | measured, (top, families)
    for effect in effects(outcome):
        if effect["behaviour"] not in MEASURES[outcome]:
            continue  # no registry feature measures it directly (e.g. smb, sourced_by_service)
        feature, sign = MEASURES[outcome][effect["behaviour"]]
        got = table.loc[feature, "direction"]
        assert got == effect["direction"] * sign, (effect["behaviour"], feature, got)


def test_churn_drivers_match_the_true_effects(simulated) -> None:
    features = compute_features(simulated, "account", CUTOFFS)
    frame = features.merge(churn_labels(simulated, CUTOFFS), on=["account_id", "cutoff"])
    model, frame = fit(frame, "churn", "account")
    check(model, frame, "churn")


def test_deal_win_drivers_match_the_true_effects(simulated) -> None:
    features = compute_features(simulated, "opportunity", CUTOFFS)
    labels = deal_win_labels(simulated, CUTOFFS)
    frame = features.merge(labels, on=["opportunity_id", "cutoff"])
    model, frame = fit(frame, "deal_win", "opportunity")
    check(model, frame, "deal_win")
