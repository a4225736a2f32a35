"""The model on a synthetic panel with known signal: beats baselines, is calibrated, guards work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.evaluate import (
    MODEL,
    backtest,
    backtest_auc_ci,
    detail_report,
    fold_metrics,
    learning_curve,
    summarise,
)
from training.fit import fit_scoring_model, tune
from training.guards import GuardError, check_label_counts, choose_model
from training.splits import time_split

from .conftest import KINDS, make_panel, small_config


@pytest.fixture(scope="module")
def results(panel: pd.DataFrame):
    return backtest(panel, KINDS, small_config())


def _choice(results, margin: float = 0.01):
    summary = summarise(fold_metrics(results))
    candidates = results[-1].candidate_names
    lows = {k: backtest_auc_ci(results, n=100, scorer=k)[0] for k in candidates}
    return choose_model(summary, candidates, lows, margin), summary


def test_trees_win_on_thresholds_and_interactions_and_are_calibrated(results) -> None:
    choice, summary = _choice(results)
    assert len(results) == 3
    assert choice.winner == MODEL and choice.runner_up == "logistic"
    assert summary.loc[MODEL, "roc_auc_mean"] > summary.loc["logistic", "roc_auc_mean"] + 0.01
    assert choice.margin == pytest.approx(
        summary.loc[MODEL, "roc_auc_mean"] - summary.loc["logistic", "roc_auc_mean"]
    )
    assert summary.loc[MODEL, "ece_mean"] <= 0.03
    assert summary.loc[MODEL, "roc_auc_std"] > 0  # three genuinely different folds


def test_reasons_of_the_trained_model_add_up_and_follow_the_signal(results, panel) -> None:
    model = results[-1].model
    rows = panel.head(200)
    explanation = model.explain(rows)
    total = explanation.base_probability + explanation.points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, model.predict_proba(rows), atol=1e-9)
    quiet = rows.assign(days_since_last_touch=90.0)
    busy = rows.assign(days_since_last_touch=5.0)
    assert (model.predict_proba(quiet) >= model.predict_proba(busy)).mean() > 0.95


def test_detail_report_tables(results, panel) -> None:
    final = results[-1]
    test = panel.loc[final.split.test]
    report = detail_report(test, final.predictions[MODEL].to_numpy(), small_config())
    metrics = report["metrics"]
    assert metrics["roc_auc_ci_low"] < metrics["roc_auc"] < metrics["roc_auc_ci_high"]
    assert 0.1 < metrics["value_capture_top10"] < metrics["value_capture_top20"] <= 1
    assert set(report["by_segment"]["group"]) == {"smb", "mid_market", "enterprise"}
    assert report["lift"]["capture"].iloc[-1] == pytest.approx(1.0)


def test_learning_curve_improves_with_more_history(panel) -> None:
    split = time_split(panel, test_cutoffs=2, holdout_cutoffs=2)
    config = small_config(report={"learning_curve_fractions": [0.15, 1.0]})
    curve = learning_curve(panel, split, KINDS, config)
    assert list(curve["fraction"]) == [0.15, 1.0]
    assert curve["train_rows"].is_monotonic_increasing
    assert curve["log_loss"].iloc[-1] < curve["log_loss"].iloc[0]


def test_balanced_weights_keep_calibration(panel) -> None:
    rare = make_panel(n_entities=400, seed=3).assign(
        label=lambda f: (f["label"] & (np.random.default_rng(0).random(len(f)) < 0.3)).astype(int)
    )
    split = time_split(rare, test_cutoffs=2, holdout_cutoffs=2)
    train, hold, test = (rare.loc[i] for i in (split.train, split.holdout, split.test))
    rate = test["label"].mean()
    for strategy in ("none", "balanced"):
        config = small_config(imbalance={"strategy": strategy})
        p = fit_scoring_model(train, hold, KINDS, config).predict_proba(test)
        assert abs(p.mean() - rate) < 0.02, strategy  # weights do not inflate probabilities


def test_too_few_labels_is_refused_with_the_minimum(panel) -> None:
    config = small_config(guards={"min_positives": 10**6})
    with pytest.raises(GuardError, match=r"positive labels \(minimum 1000000\)"):
        check_label_counts(panel, config.guards, "churn")


def test_noise_registers_nothing_and_says_nothing_beats_the_base_rate() -> None:
    noise = make_panel(n_entities=300, seed=9, signal=0.0)
    choice, _ = _choice(backtest(noise, KINDS, small_config()))
    assert choice.winner is None
    assert choice.refusals[0].startswith("nothing beats the base rate")
    assert "lightgbm" in choice.refusals[0] and "logistic" in choice.refusals[0]


def test_tuning_respects_its_trial_budget(panel) -> None:
    split = time_split(panel, test_cutoffs=2, holdout_cutoffs=2)
    config = small_config(tuning={"enabled": True, "trials": 3, "time_budget_s": 60})
    params, info = tune(
        panel.loc[split.train], panel.loc[split.holdout], KINDS, config, config.tuning
    )
    assert info["trials"] == 3 and {"learning_rate", "num_leaves"} <= set(params)
    assert 0.5 < info["best_holdout_auc"] <= 1


def test_logistic_candidate_obeys_the_monotone_rules() -> None:
    """A business rule binds logistic regression too: a coefficient of the wrong sign is 0."""
    from training.fit import fit_linear

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 2))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 1])))).astype(int)
    free = fit_linear(x, y, ["a", "b"], {})
    ruled = fit_linear(x, y, ["a", "b"], {}, monotone={"b": 1})
    assert free.coef[1] < 0 and ruled.coef[1] == 0.0
    assert ruled.coef[0] > 0  # the other feature keeps its (refitted) effect


def test_noise_under_a_moving_outcome_rate_registers_nothing() -> None:
    """No behaviour predicts churn, but the churn rate climbs over the history (as on
    RavenStack). Every candidate's calibrator carries its calibration slice's rate into the test
    window, so its probabilities follow the rate from fold to fold. That is not skill: the
    interval of the backtest AUC is the folds' mean (ranking the folds' rows together put
    logistic regression's interval at 0.522-0.555 around a mean of 0.501, and registered it),
    and the base rate it must beat in log loss is the calibration slice's, not the older
    training rows'."""
    noise = make_panel(n_entities=600, seed=9, signal=0.0)
    climb = np.linspace(0.1, 0.45, noise["cutoff"].nunique())
    step = noise["cutoff"].rank(method="dense").astype(int).to_numpy() - 1
    rng = np.random.default_rng(9)
    noise["label"] = (rng.random(len(noise)) < climb[step]).astype(int)
    results = backtest(noise, KINDS, small_config(), entity="account_id")
    choice, summary = _choice(results)
    assert choice.winner is None, choice.notes
    for kind in ("logistic", "lightgbm"):
        low, high = backtest_auc_ci(results, n=100, scorer=kind)
        assert low < summary.loc[kind, "roc_auc_mean"] < high and low < 0.5
    base = summary.loc["base_rate", "log_loss_mean"]
    assert min(summary.loc[k, "log_loss_mean"] for k in ("logistic", "lightgbm")) > base - 0.01


def test_the_estimate_names_how_many_tested_entities_had_the_outcome() -> None:
    """A CI resampling entities says little when only one or two of them had the outcome (a
    short, small history: one churned account in the holdout), so the estimate line says how
    many did."""
    from training.evaluate import pooled_entities, pooled_positive_entities
    from training.pipeline import TrainResult

    panel = make_panel(n_entities=150, n_cutoffs=12, seed=4)
    results = backtest(panel, KINDS, small_config(), entity="account_id")
    tested = pd.concat([panel.loc[r.predictions.index] for r in results])
    positives = tested.loc[tested["label"] == 1, "account_id"].nunique()
    assert pooled_entities(results) == tested["account_id"].nunique()
    assert 0 < pooled_positive_entities(results) == positives < pooled_entities(results)
    run = TrainResult(
        "",
        summarise(fold_metrics(results)),
        {},
        pd.DataFrame(),
        ci=(0.7, 0.8),
        entities=66,
        positive_entities=1,
    )
    words = run.estimate_words()
    assert words.endswith("(0.700-0.800, bootstrap over 66 entities, 1 of them with the outcome)")


def test_the_test_window_interval_resamples_entities_not_their_repeated_rows(panel) -> None:
    """An account is tested at several cutoffs; its rows are not independent draws, so the
    latest test window's ROC AUC interval resamples accounts (as the backtest's does). Ten
    identical copies of each row make the interval look about three times narrower when rows
    are resampled, and leave the interval over accounts as it was."""
    test = panel[panel["cutoff"] == panel["cutoff"].max()]
    rng = np.random.default_rng(0)
    p = 1 / (1 + np.exp(-(test["label"].to_numpy() + rng.normal(0, 1.2, len(test)))))
    config = small_config()
    copies = pd.concat([test] * 10)
    once = detail_report(test, p, config, clusters=test["account_id"].to_numpy())["metrics"]
    tenfold = detail_report(
        copies, np.tile(p, 10), config, clusters=copies["account_id"].to_numpy()
    )["metrics"]
    rows = detail_report(copies, np.tile(p, 10), config)["metrics"]

    def width(metrics: dict) -> float:
        return metrics["roc_auc_ci_high"] - metrics["roc_auc_ci_low"]

    assert tenfold["roc_auc"] == pytest.approx(once["roc_auc"])
    assert width(tenfold) == pytest.approx(width(once), rel=0.25)
    assert width(rows) < width(tenfold) / 2


def test_training_reports_the_latest_window_interval_over_accounts(panel, tmp_path) -> None:
    """Through the pipeline: the latest test window's interval is the bootstrap over the rows'
    accounts, not over the rows (each account is tested at two cutoffs)."""
    from barometer.settings import Settings
    from training import metrics as m
    from training.evaluate import ENTITY
    from training.pipeline import run_training

    config = small_config()
    settings = Settings(home=tmp_path / "workspace")
    result = run_training(panel, KINDS, config, settings, entity="account_id", register=False)
    kind = result.winner or MODEL
    test = panel.loc[result.final.split.test]
    p = result.final.predictions[kind].to_numpy()
    draws = {"n": config.report.bootstrap, "seed": config.lightgbm.seed}
    accounts = result.final.predictions[ENTITY].to_numpy()
    over_accounts = m.bootstrap_auc(test["label"].to_numpy(), p, clusters=accounts, **draws)
    over_rows = m.bootstrap_auc(test["label"].to_numpy(), p, **draws)
    metrics = result.report["metrics"]
    assert (metrics["roc_auc_ci_low"], metrics["roc_auc_ci_high"]) == over_accounts
    assert over_accounts != over_rows
