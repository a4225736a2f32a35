"""Monitoring's drift measures on planted shifts, and no alarm when nothing changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.drift import (
    Thresholds,
    feature_drift,
    profile,
    realised,
    score_drift,
    score_profile,
)

KINDS = {"calls": "numeric", "call_minutes": "numeric", "segment": "categorical"}


def population(n: int, seed: int, *, call_rate: float = 4.0, enterprise: float = 0.3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "calls": rng.poisson(call_rate, n).astype(float),
            "call_minutes": rng.gamma(2.0, 3.0, n),
            "segment": np.where(rng.random(n) < enterprise, "enterprise", "smb"),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_an_unchanged_population_raises_no_alarm(seed: int) -> None:
    reference = profile(population(5000, seed), KINDS)
    drift = feature_drift(reference, population(3000, seed + 100))
    assert (drift["status"] == "ok").all(), drift
    assert drift["psi"].max() < 0.02


def test_a_shifted_call_mix_is_flagged_on_that_feature_only() -> None:
    reference = profile(population(5000, 1), KINDS)
    drift = feature_drift(reference, population(3000, 2, call_rate=7.0)).set_index("feature")
    assert drift.loc["calls", "status"] == "alert"
    assert drift.loc["calls", "psi"] > 0.25
    assert drift.loc["calls", "wasserstein"] > 1.0  # moved by ~1.5 standard deviations
    assert drift.loc[["call_minutes", "segment"], "status"].eq("ok").all()


def test_a_feature_that_stops_arriving_is_a_broken_pipeline_not_drift() -> None:
    reference = profile(population(5000, 1), KINDS)
    now = population(3000, 2)
    now.loc[now.index[:2700], "call_minutes"] = np.nan
    drift = feature_drift(reference, now).set_index("feature")
    assert drift.loc["call_minutes", "status"] == "broken"
    assert "stopped arriving" in drift.loc["call_minutes", "reason"]
    assert drift.loc["call_minutes", "null_rate"] == pytest.approx(0.9)


def test_a_column_missing_altogether_is_broken_too() -> None:
    reference = profile(population(2000, 1), KINDS)
    drift = feature_drift(reference, population(500, 2).drop(columns="segment"))
    assert drift.set_index("feature").loc["segment", "status"] == "broken"


def test_a_segment_mix_shift_and_unseen_categories() -> None:
    reference = profile(population(5000, 1), KINDS)
    now = population(3000, 2, enterprise=0.8)
    now.loc[now.index[:300], "segment"] = "public_sector"
    row = feature_drift(reference, now).set_index("feature").loc["segment"]
    assert row["status"] == "alert"
    assert row["out_of_range"] == pytest.approx(0.1)


def test_values_outside_the_training_range_warn() -> None:
    reference = profile(population(5000, 1), KINDS)
    now = population(3000, 2)
    now.loc[now.index[:300], "call_minutes"] = 10_000.0
    row = feature_drift(reference, now, Thresholds(psi_warn=5, psi_alert=5)).set_index("feature")
    assert row.loc["call_minutes", "status"] == "warn"
    assert row.loc["call_minutes", "out_of_range"] == pytest.approx(0.1)


def test_score_drift_compares_probabilities_and_band_shares() -> None:
    rng = np.random.default_rng(0)
    before = rng.beta(1, 20, 5000)
    reference = score_profile(before, np.where(before > 0.1, "high", "low"))
    same = rng.beta(1, 20, 3000)
    assert score_drift(reference, same, np.where(same > 0.1, "high", "low"))["status"] == "ok"
    riskier = rng.beta(2, 10, 3000)
    drift = score_drift(reference, riskier, np.where(riskier > 0.1, "high", "low"))
    assert drift["status"] == "alert"
    assert drift["bands"]["high"] > drift["bands_reference"]["high"] + 0.3


@pytest.mark.parametrize("seed", range(6))
def test_outcomes_drawn_from_their_own_probabilities_are_calibrated(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 8, 4000)
    y = (rng.random(len(p)) < p).astype(int)
    result = realised(y, p, backtest_auc_low=0.6)
    assert result.status == "ok", result.reasons
    assert abs(result.z) < 3
    assert result.ece <= result.ece_floor


def test_a_changed_churn_rate_with_unchanged_behaviour_is_flagged() -> None:
    rng = np.random.default_rng(9)
    p = rng.beta(1, 8, 4000)
    y = (rng.random(len(p)) < np.minimum(2 * p, 1)).astype(int)  # twice the churn, same ranks
    result = realised(y, p, backtest_auc_low=0.6)
    assert result.status == "alert"
    assert any("observed rate" in r for r in result.reasons)
    assert result.roc_auc > 0.6  # ranking still fine: it is the level that moved


def test_realised_auc_below_the_backtest_interval_is_flagged() -> None:
    rng = np.random.default_rng(3)
    p = rng.beta(1, 8, 4000)
    y = (rng.random(len(p)) < p.mean()).astype(int)  # outcomes no longer follow the scores
    result = realised(y, p, backtest_auc_low=0.7)
    assert any("ROC AUC" in r for r in result.reasons)


def test_too_few_matured_outcomes_decide_nothing() -> None:
    result = realised(np.array([1, 1, 1]), np.array([0.01, 0.02, 0.03]), backtest_auc_low=0.9)
    assert result.status == "ok" and result.n == 3
