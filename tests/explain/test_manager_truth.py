"""Service's contribution and the bookings forecast against planted truth.

One simulated company (3,000 accounts). A churn model and a deal-win model are fitted on the
registry's point-in-time features with labels known before the dates they are used at, as
training would. The contribution report's retention figure must bracket the simulator's own
answer (`data.simulator.truth`: the same draws re-decided at the reference service rates); the
expected-bookings forecast, made at each past quarter start from the model's probabilities, must
bracket the bookings that followed in most quarters.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.settings import DEFAULT_STAGE_ORDER
from data.simulator import simulate
from data.simulator.truth import churn_state, service_retention_truth
from explain.contribution import service_contribution
from explain.sales_pipeline import backtest, quarter_starts, stage_history_probabilities
from features.engine import compute_features
from features.labels import churn_labels, deal_win_labels
from features.registry import BY_NAME, REGISTRY

N_ACCOUNTS, SEED = 3000, 5
AS_OF = pd.Timestamp("2025-04-01")
ORIGIN = pd.Timestamp("2024-01-01")  # the deal model learns from deals closed before this


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    return simulate(N_ACCOUNTS, seed=SEED)


def fit(frame: pd.DataFrame, target: str, entity: str, names: list[str]) -> ScoringModel:
    kinds = {n: BY_NAME[n].kind for n in names}
    frame = numeric(frame, names)
    encoder = FeatureEncoder(kinds).fit(frame[names])
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": 15,
        "min_data_in_leaf": 40 if entity == "account" else 30,
        "learning_rate": 0.05,
        "num_threads": 2,
        "seed": 1,
        "deterministic": True,
    }
    data = lgb.Dataset(
        encoder.transform(frame[names]),
        frame["label"].to_numpy(),
        categorical_feature=[names.index(c) for c in names if kind(c) == "c"],
    )
    return ScoringModel(target, encoder, lgb.train(params, data, 200))


def kind(name: str) -> str:
    return {"categorical": "c", "bool": "b"}.get(BY_NAME[name].kind, "n")


def numeric(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    return frame.assign(**{n: frame[n].astype(float) for n in names if kind(n) == "b"})


@pytest.fixture(scope="module")
def churn(world):
    """The churn model (labels known by the cutoff) and active accounts' rows at the cutoff."""
    cutoffs = pd.date_range("2023-06-01", AS_OF, freq="2MS")
    features = compute_features(world, "account", cutoffs)
    frame = features.merge(churn_labels(world, cutoffs), on=["account_id", "cutoff"])
    names = [f.name for f in REGISTRY if f.entity == "account" and f.name in frame]
    model = fit(frame[frame["label_time"] < AS_OF], "churn", "account", names)
    acc = world["accounts"]
    active = acc[(acc["created_at"] < AS_OF) & ~(acc["churned_at"] < AS_OF)]
    rows = features[features["cutoff"] == AS_OF].drop(columns=["arr"])
    rows = rows.merge(active[["account_id", "arr"]], on="account_id")
    return model, numeric(rows, names)


@pytest.fixture(scope="module")
def contribution(world, churn):
    model, rows = churn
    tables = {k: world[k] for k in ("reps", "accounts", "cases", "opportunities", "nps")}
    return service_contribution(
        model, rows, tables | {"activities": world["activities"]}, as_of=AS_OF
    )


def test_retention_saved_brackets_the_simulators_answer(contribution) -> None:
    state = churn_state(N_ACCOUNTS, SEED, str(AS_OF.date()))
    reference = contribution.reference
    truth = service_retention_truth(state, reference["fcr"], reference["escalation"])
    total = contribution.total
    assert truth["saved"].sum() > 0  # service beats its worst quartile
    assert total["retention_low"] <= truth["saved"].sum() <= total["retention_high"]
    assert total["retention_low"] > 0
    assert len(contribution.accounts) == len(truth)  # the same active accounts


def test_the_ratio_is_revenue_over_hours(contribution) -> None:
    total = contribution.total
    revenue = total["retention_saved"] + total["expansion"]
    assert total["revenue_per_hour"] == pytest.approx(revenue / total["hours"])
    assert total["ratio_low"] < total["revenue_per_hour"] < total["ratio_high"]
    team = contribution.by_team.set_index("team").loc["service"]
    assert team["retention_saved"] == pytest.approx(contribution.by_rep["retention_saved"].sum())
    assert team["hours"] == pytest.approx(total["hours"])
    assert "worst quartile" in contribution.sentence and "per service hour" in contribution.sentence


@pytest.fixture(scope="module")
def deal_model(world):
    """A deal-win model that learns from deals closed before `ORIGIN`, and its probabilities
    at every quarter start from then on (the scores a service would have stored)."""
    cutoffs = pd.date_range("2023-04-01", AS_OF, freq="MS")
    cutoffs = [c for c in cutoffs if c < ORIGIN or c.month in (1, 4, 7, 10)]
    features = compute_features(world, "opportunity", cutoffs)
    labels = deal_win_labels(world, cutoffs)
    frame = features.merge(labels, on=["opportunity_id", "cutoff"])
    names = [
        f.name
        for f in REGISTRY
        if f.entity == "opportunity" and f.name in frame and f.family != "rep_context"
    ]
    model = fit(frame[frame["label_time"] < ORIGIN], "deal_win", "opportunity", names)
    rows = numeric(features[features["snapshot"] == "cutoff"], names)
    return model, rows


def test_the_bookings_forecast_is_backtested_per_quarter(world, deal_model) -> None:
    model, rows = deal_model

    def scored(q: pd.Timestamp):
        at = rows[rows["cutoff"] == q]
        return pd.Series(model.predict_proba(at), index=at["opportunity_id"].to_numpy()), "model"

    quarters = quarter_starts(ORIGIN, pd.Timestamp("2025-07-01"))
    table = backtest(
        world["opportunities"], world["opportunity_stages"], DEFAULT_STAGE_ORDER, quarters, scored
    )
    assert list(table["quarter"]) == [f"{q.year}-Q{q.quarter}" for q in quarters]
    assert table["within_interval"].sum() >= len(table) - 1
    error = (table["forecast"] - table["actual"]).abs().sum() / table["actual"].sum()
    assert error < 0.2
    assert (table["low"] < table["forecast"]).all() and (table["forecast"] < table["high"]).all()


def test_stage_history_backtest_runs_without_a_model_and_says_so(world) -> None:
    opps, stages = world["opportunities"], world["opportunity_stages"]
    quarters = quarter_starts(ORIGIN, pd.Timestamp("2025-07-01"))[:2]
    table = backtest(
        opps,
        stages,
        DEFAULT_STAGE_ORDER,
        quarters,
        lambda q: (stage_history_probabilities(opps, stages, DEFAULT_STAGE_ORDER, q), "history"),
    )
    assert len(table) == 2 and (table["source"] == "history").all()
    assert np.isfinite(table["forecast"]).all() and (table["actual"] > 0).all()
