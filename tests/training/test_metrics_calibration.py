"""Metrics with known answers; calibrators recover known distortions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training import metrics as m
from training.calibration import choose_calibrator, fit_platt
from training.guards import base_rate_problems


def test_lift_capture_and_value_capture_known_answers() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    p = np.linspace(1, 0, 10)  # the first row is the riskiest
    lift, capture = m.lift_and_capture(y, p, 0.2)
    assert capture == pytest.approx(2 / 3) and lift == pytest.approx(1.0 / 0.3)
    arr = np.array([100, 300, 0, 0, 0, 0, 0, 0, 0, 600], dtype=float)
    assert m.value_capture(y, p, arr, 0.1) == pytest.approx(0.1)
    assert m.value_capture(y, p, arr, 0.2) == pytest.approx(0.4)


def test_ece_is_zero_when_calibrated_and_large_when_not() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(200_000)
    y = (rng.random(p.size) < p).astype(int)
    assert m.expected_calibration_error(y, p) < 0.005
    assert m.expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.15


def test_bootstrap_interval_brackets_the_auc_and_win_rate_bands() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(2000)
    y = (rng.random(p.size) < p).astype(int)
    low, high = m.bootstrap_auc(y, p, n=100)
    assert low < m.roc_auc(y, p) < high and high - low < 0.06
    bands = m.score_bands(y, p)
    assert len(bands) == 5 and (bands["observed"].diff().dropna() > 0).all()


def test_core_metrics_on_a_single_class_are_nan_not_errors() -> None:
    out = m.core_metrics(np.zeros(5, int), np.full(5, 0.1))
    assert np.isnan(out["roc_auc"]) and out["brier"] == pytest.approx(0.01)


def test_platt_recovers_slope_and_intercept() -> None:
    rng = np.random.default_rng(2)
    raw = rng.normal(0, 2, 20_000)
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-(0.5 * raw - 1.0)))).astype(int)
    cal = fit_platt(raw, y)
    assert cal.a == pytest.approx(0.5, abs=0.05) and cal.b == pytest.approx(-1.0, abs=0.08)


def test_choice_by_validation_prefers_isotonic_for_a_step_distortion() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 1, 6000)
    truth = np.where(raw > 0.5, 0.8, 0.1)  # not a sigmoid of raw: Platt cannot fit it
    y = (rng.random(raw.size) < truth).astype(int)
    calibrator, scores = choose_calibrator(raw, y)
    assert calibrator.method == "isotonic" and scores["isotonic"] < scores["platt"]
    assert abs(calibrator(np.array([2.0]))[0] - 0.8) < 0.05
    with pytest.raises(ValueError, match="only one class"):
        choose_calibrator(raw, np.zeros(raw.size, int))


def test_bootstrap_auc_equals_scoring_each_resample_with_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = (rng.random(3000) < 0.3).astype(int)
    p = np.round(rng.random(3000) + 0.4 * y, 2)  # many ties
    draws = np.random.default_rng(0)
    aucs = []
    for _ in range(60):
        pick = draws.integers(0, len(y), len(y))
        aucs.append(roc_auc_score(y[pick], p[pick]))
    expected = np.percentile(aucs, [2.5, 97.5])
    assert m.bootstrap_auc(y, p, n=60, seed=0) == pytest.approx(tuple(expected), abs=1e-12)


def test_ece_noise_floor_of_true_probabilities_grows_when_rows_share_outcomes() -> None:
    rng = np.random.default_rng(4)
    # 250 deals × 6 snapshots whose scores stay close to the deal's own
    p = np.clip(np.repeat(rng.random(250), 6) + rng.normal(0, 0.02, 1500), 0, 1)
    rows = m.ece_if_calibrated(p, n=100)
    deals = m.ece_if_calibrated(p, np.repeat(np.arange(250), 6), n=100)
    assert 0.01 < np.median(rows) < 0.04  # true probabilities do not score 0 on 1,500 rows
    assert np.median(deals) > 1.3 * np.median(rows)
    y = (rng.random(p.size) < p).astype(int)
    assert m.expected_calibration_error(y, p) < np.percentile(rows, 99)


def test_bootstrap_over_entities_is_not_fooled_by_repeated_rows() -> None:
    """An entity seen at five cutoffs is one piece of evidence, not five: resampling rows would
    shrink the interval by about √5, resampling entities keeps it."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.5 + 0.2 * (y - 0.5) + rng.normal(0, 0.25, 300), 0, 1)
    once = np.subtract(*m.bootstrap_auc(y, p, n=400, seed=1)[::-1])
    y5, p5, ids = np.repeat(y, 5), np.repeat(p, 5), np.repeat(np.arange(300), 5)
    rows = np.subtract(*m.bootstrap_auc(y5, p5, n=400, seed=1)[::-1])
    entities = np.subtract(*m.bootstrap_auc(y5, p5, n=400, seed=1, clusters=ids)[::-1])
    assert rows < 0.6 * once  # the naive interval is far too narrow
    assert entities == pytest.approx(once, rel=0.2)


def test_backtest_interval_is_of_the_fold_mean_not_of_folds_ranked_together() -> None:
    """Scores that only follow the outcome rate from one period to the next rank nothing inside
    a period: each fold's AUC is 0.5, and so must be the interval. Pooling the folds' rows would
    read the rate moving between periods as skill."""
    rng = np.random.default_rng(5)
    rates = np.repeat([0.1, 0.2, 0.3], 2000)
    folds = np.repeat([0, 1, 2], 2000)
    y = (rng.random(rates.size) < rates).astype(int)
    ids = np.tile(np.arange(2000), 3)
    pooled = m.bootstrap_auc(y, rates, n=100, clusters=ids)
    per_fold = m.bootstrap_auc(y, rates, n=100, clusters=ids, folds=folds)
    assert pooled[0] > 0.55  # the pooled reading claims skill that is not there
    assert per_fold == (0.5, 0.5)


def test_an_interval_resting_on_one_entity_with_the_outcome_reaches_chance() -> None:
    """One churned account among 66, each seen at three cutoffs, ranked above 78% of the rest: a
    third of the resamples miss it and have nothing to rank, so the interval must reach 0.5 (the
    guard then refuses the model). Forty such accounts give an interval well above chance."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(66), 3)
    y = (ids == 0).astype(int)
    p = rng.uniform(size=y.size)
    p[y == 1] = np.quantile(p, 0.78)
    assert roc_auc_score(y, p) > 0.75
    low, high = m.bootstrap_auc(y, p, n=200, clusters=ids)
    assert low == 0.5 and high > 0.75
    summary = pd.DataFrame({"roc_auc_mean": [roc_auc_score(y, p)]}, index=["lightgbm"])
    assert base_rate_problems(summary, "lightgbm", low)  # refused

    ids = np.repeat(np.arange(400), 3)
    y = (ids < 40).astype(int)
    p = rng.normal(size=y.size) + 1.2 * y
    low, high = m.bootstrap_auc(y, p, n=200, clusters=ids)
    assert 0.7 < low < roc_auc_score(y, p) < high


def test_a_fold_with_one_class_in_the_data_is_left_out_of_the_interval_as_of_the_mean() -> None:
    """A fold without positives has no AUC, so the backtest's mean leaves it out; its resamples
    must not count it as chance every time, which would pull the interval halfway to 0.5."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    folds = np.repeat([0, 1], 300)
    y = np.where(folds == 0, rng.random(600) < 0.3, 0).astype(int)
    p = rng.random(600) + 0.5 * y
    auc = roc_auc_score(y[:300], p[:300])
    low, high = m.bootstrap_auc(y, p, n=200, seed=2, folds=folds)
    assert 0.7 < low < auc < high
