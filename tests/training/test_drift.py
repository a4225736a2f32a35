"""Monitoring's drift measures on planted shifts, and no alarm when nothing changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.drift import (
    Thresholds,
    auc_standard_error,
    band_cuts,
    feature_drift,
    importance_shares,
    profile,
    realised,
    retrain_signal,
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


@pytest.mark.parametrize("rows", [40, 150, 400])
def test_small_samples_of_an_unchanged_population_stay_below_their_chance_level(rows) -> None:
    """A few dozen rows give a PSI well above 0.1 by chance; the check allows for it."""
    reference = profile(population(5000, 1), KINDS)
    seen = []
    for seed in range(40):
        drift = feature_drift(reference, population(rows, 100 + seed))
        seen.append((drift["status"] == "alert").any())
        assert (drift["psi"] < drift["psi_chance"]).mean() >= 2 / 3
    assert sum(seen) <= 2  # at most 5% of draws; the chance level is a 99% quantile per feature


def test_a_sparse_feature_with_an_empty_bin_is_not_a_shift() -> None:
    """An empty bin once counted as 0.01%, which alone made a PSI of 0.7 on a few dozen rows."""
    rng = np.random.default_rng(0)
    reference = profile(pd.DataFrame({"calls": rng.gamma(2.0, 3.0, 2000)}), {"calls": "numeric"})
    now = pd.DataFrame({"calls": np.sort(rng.gamma(2.0, 3.0, 45))[5:]})  # the lowest bin empty
    row = feature_drift(reference, now).iloc[0]
    assert row["status"] in ("ok", "warn"), row.to_dict()


def test_a_feature_that_goes_constant_is_broken_not_drift() -> None:
    """A CRM that stops logging durations makes average minutes read 0 for everyone."""
    reference = profile(population(5000, 1), KINDS)
    now = population(3000, 2).assign(call_minutes=0.0)
    row = feature_drift(reference, now).set_index("feature").loc["call_minutes"]
    assert row["status"] == "broken"
    assert "stopped arriving" in row["reason"] and "read 0" in row["reason"]


def test_a_feature_mostly_zero_in_training_too_is_not_broken() -> None:
    rng = np.random.default_rng(4)
    kinds = {"escalations": "numeric"}
    before = pd.DataFrame({"escalations": np.where(rng.random(4000) < 0.93, 0.0, 1.0)})
    now = pd.DataFrame({"escalations": np.where(rng.random(2000) < 0.96, 0.0, 1.0)})
    row = feature_drift(profile(before, kinds), now).iloc[0]
    assert row["status"] != "broken"


def test_yes_no_features_compare_as_yes_no_however_stored() -> None:
    rng = np.random.default_rng(2)
    flags = rng.random(3000) < 0.3
    reference = profile(pd.DataFrame({"champion": flags}), {"champion": "bool"})
    stored_as_floats = pd.DataFrame({"champion": (rng.random(2000) < 0.3).astype(float)})
    row = feature_drift(reference, stored_as_floats).iloc[0]
    assert row["status"] == "ok" and row["out_of_range"] == 0.0


def test_band_shares_of_the_reference_are_read_at_todays_cuts() -> None:
    """Bands come from the scoring run (their names and cuts are the run's); the reference's
    shares are its probabilities counted under those same cuts."""
    rng = np.random.default_rng(0)
    before = rng.beta(1, 20, 20_000)
    reference = score_profile(before)
    now = rng.beta(1, 20, 5000)
    bands = np.where(now >= 0.15, "high", np.where(now >= 0.08, "medium", "low"))
    result = score_drift(reference, now, bands)
    expected = {
        "high": (before >= 0.15).mean(),
        "medium": ((before >= 0.08) & (before < 0.15)).mean(),
    }
    for band, share in expected.items():
        assert result["bands_reference"][band] == pytest.approx(share, abs=0.003)
    assert sum(result["bands_reference"].values()) == pytest.approx(1.0)
    assert min(result["bands_reference"].values()) >= 0


def test_band_cuts_are_the_lowest_probability_of_each_band() -> None:
    p = np.array([0.01, 0.05, 0.2, 0.3, 0.6, 0.9])
    bands = np.array(["low", "low", "medium", "medium", "high", "high"])
    assert band_cuts(p, bands) == [("low", 0.0), ("medium", 0.2), ("high", 0.6)]


def test_a_realised_auc_inside_its_own_noise_is_not_flagged() -> None:
    """On 30 positives an AUC has a standard error near 0.04: a dip below the backtest's
    interval by less than that is chance, a drop to 0.6 is not."""
    rng = np.random.default_rng(8)
    p = rng.beta(1, 30, 1500)
    y = (rng.random(len(p)) < p).astype(int)
    result = realised(y, p, backtest_auc_low=result_auc(y, p) + 0.02)
    assert "roc_auc" not in result.flags and result.auc_se > 0.02
    assert "roc_auc" in realised(y, p, backtest_auc_low=result_auc(y, p) + 0.2).flags


def result_auc(y, p) -> float:
    from training.metrics import roc_auc

    return roc_auc(y, p)


def test_auc_standard_error_matches_hanley_mcneil() -> None:
    # Hanley & McNeil (1982), table 2: AUC 0.8 on 50 positives and 50 negatives -> SE 0.0447.
    assert auc_standard_error(0.8, 50, 50) == pytest.approx(0.0447, abs=0.0005)


def test_a_miscalibrated_level_shows_in_the_rate_and_the_ece_but_is_said_once() -> None:
    rng = np.random.default_rng(9)
    p = rng.beta(1, 8, 4000)
    y = (rng.random(len(p)) < np.minimum(2 * p, 1)).astype(int)
    result = realised(y, p, backtest_auc_low=0.6)
    assert {"rate", "ece"} <= set(result.flags)
    assert len(result.reasons) == 1 and "observed rate" in result.reasons[0]


def drift_table(importance: dict[str, float], shifted: str) -> pd.DataFrame:
    reference = profile(population(5000, 1), KINDS)
    now = population(3000, 2)
    if shifted == "calls":
        now = population(3000, 2, call_rate=7.0)
    return feature_drift(reference, now, importance=importance)


def test_drift_in_a_feature_the_model_relies_on_asks_for_retraining() -> None:
    features = drift_table({"calls": 0.6, "call_minutes": 0.3, "segment": 0.1}, "calls")
    signal = retrain_signal(features, None, None)
    assert signal.status == "retrain" and signal.needs_retraining
    assert "60% of the model's attributions" in signal.reasons[0] and "calls" in signal.reasons[0]


def test_drift_in_a_feature_the_model_barely_uses_is_only_noted() -> None:
    features = drift_table({"calls": 0.02, "call_minutes": 0.9, "segment": 0.08}, "calls")
    signal = retrain_signal(features, None, None)
    assert signal.status == "watch" and not signal.needs_retraining
    assert "calls (PSI" in signal.notes[0] and "2.0%" in signal.notes[0]
    lowered = retrain_signal(features, None, None, Thresholds(drift_importance=0.01))
    assert lowered.needs_retraining


def test_drift_with_no_newer_labels_is_held_to_watch_and_says_why() -> None:
    features = drift_table({"calls": 0.6, "call_minutes": 0.3, "segment": 0.1}, "calls")
    held = retrain_signal(features, None, None, labels=("2024-10-01", "2024-10-01"))
    assert held.status == "watch" and not held.needs_retraining and held.reasons == ()
    assert "60% of the model's attributions" in held.notes[0]
    assert "same labelled history" in held.notes[1] and "2024-10-01" in held.notes[1]
    newer = retrain_signal(features, None, None, labels=("2024-10-01", "2024-11-01"))
    assert newer.status == "retrain" and newer.needs_retraining
    unknown = retrain_signal(features, None, None, labels=("2024-10-01", None))
    assert unknown.status == "retrain"


def test_a_broken_feature_marks_the_pipeline_however_little_it_weighs() -> None:
    reference = profile(population(5000, 1), KINDS)
    now = population(3000, 2).assign(call_minutes=np.nan)
    features = feature_drift(reference, now, importance={"call_minutes": 0.001, "calls": 0.999})
    signal = retrain_signal(features, None, ("2026-01-01", ["observed rate 9% against 3%"]))
    assert signal.status == "broken" and signal.pipeline_broken and signal.needs_retraining
    assert signal.reasons[0].startswith("call_minutes stopped arriving")
    assert signal.reasons[1] == "predictions of 2026-01-01: observed rate 9% against 3%"


def test_nothing_moved_is_ok() -> None:
    reference = profile(population(5000, 1), KINDS)
    features = feature_drift(reference, population(3000, 2))
    score = {"status": "ok", "reason": ""}
    assert retrain_signal(features, score, ("2026-01-01", [])).status == "ok"


def test_importance_shares_add_up_to_one() -> None:
    points = pd.DataFrame({"a": [0.1, -0.1], "b": [0.3, -0.1], "c": [0.0, 0.0]})
    shares = importance_shares(points)
    assert shares == pytest.approx({"a": 1 / 3, "b": 2 / 3, "c": 0.0})


def test_experiment_configs_carry_monitoring_thresholds() -> None:
    from training.config import ExperimentConfig, default_config_path, load_config

    for target in ("churn", "deal_win"):
        assert load_config(default_config_path(target)).monitoring == Thresholds()
    custom = ExperimentConfig.model_validate({"target": "churn", "monitoring": {"psi_alert": 0.4}})
    assert custom.monitoring.psi_alert == 0.4
    with pytest.raises(ValueError, match="psi_alrt"):
        ExperimentConfig.model_validate({"target": "churn", "monitoring": {"psi_alrt": 0.4}})
