"""Simulator → ingest → features → train both targets: the ground truth is recovered.

Simulates 2,000 accounts over 30 months (seed 7), ingests them, builds every registry feature and
label at 27 monthly cutoffs, and trains both models with the shipped experiment configs.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.conftest import simulated_workspace
from training.evaluate import MODEL
from training.runs import resolve_config, train_target

ACCOUNTS = 2000  # at 1,500 the churn gap over logistic is +0.006 and deal-win ECE 0.075


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    settings = simulated_workspace(tmp_path_factory.mktemp("e2e"), ACCOUNTS)
    return settings, {
        t: train_target(settings, resolve_config(t, None)) for t in ("churn", "deal_win")
    }


def test_churn_model_beats_every_baseline_and_is_registered(trained) -> None:
    """Measured (seed 7, 2,000 accounts): LightGBM 0.830 vs logistic 0.828; both far above the
    base rate and the recency/frequency rule. Within `min_auc_margin` the simpler model wins."""
    result = trained[1]["churn"]
    summary = result.summary
    baselines = summary.index.drop(MODEL)
    # The simulator writes no purchase/usage events, so BG/NBD (which needs them) is not run.
    assert set(baselines) == {"base_rate", "logistic", "recency_frequency"}
    for name in ("base_rate", "recency_frequency"):
        assert summary.loc[MODEL, "roc_auc_mean"] > summary.loc[name, "roc_auc_mean"] + 0.01
        assert summary.loc[MODEL, "log_loss_mean"] < summary.loc[name, "log_loss_mean"]
    assert result.refusals == [] and result.version is not None
    lead = summary.loc[MODEL, "roc_auc_mean"] - summary.loc["logistic", "roc_auc_mean"]
    margin = resolve_config("churn", None).guards.min_auc_margin
    winner = MODEL if lead > margin else "logistic"
    assert result.winner == winner and result.version.tags["model_kind"] == winner
    assert result.plan.folds == 3 and result.plan.holdout_by == "time"  # 30 months: full size


def test_deal_win_registers_the_best_honest_model(trained) -> None:
    """Measured (seed 7, 2,000 accounts): LightGBM 0.838 vs logistic 0.828 (+0.011), base rate
    0.500, recency_frequency 0.600. The simulator's deal effects are non-linear (saturating
    cadence, amount x decision-maker interaction), so trees edge out logistic regression; the
    margin is near `min_auc_margin`, so either may be registered, but one always is."""
    result = trained[1]["deal_win"]
    summary = result.summary
    for name in ("base_rate", "recency_frequency"):
        assert summary.loc[MODEL, "roc_auc_mean"] > summary.loc[name, "roc_auc_mean"] + 0.05
    assert summary.loc[MODEL, "roc_auc_mean"] > summary.loc["logistic", "roc_auc_mean"]
    assert result.version is not None and result.refusals == []
    lead = summary.loc[MODEL, "roc_auc_mean"] - summary.loc["logistic", "roc_auc_mean"]
    assert result.winner == (MODEL if lead > 0.01 else "logistic")


def test_churn_calibration_error_on_the_test_period(trained) -> None:
    """Measured ECE (seed 7, 2,000 accounts): 0.008 on 4.9k test rows."""
    assert trained[1]["churn"].report["metrics"]["ece"] <= 0.03


def test_deal_win_calibration_error_is_within_the_noise_of_its_test_period(trained) -> None:
    """The 0.03 goal is below this test period's own noise, so deal win is held to 0.05.

    The test period holds 1,526 snapshot rows but only 255 deals, and a deal's snapshots share
    one outcome. Outcomes drawn from the model's own probabilities (a perfectly calibrated model)
    score ECE 0.033 at the median here (95% up to 0.049); on seed 11 the medians are 0.031-0.035
    per fold, and such a model misses 0.03 in 54-69% of draws. Measured (seed 7): ECE 0.044
    (fold mean 0.059). Earlier measurements on this test period: Platt is chosen in every
    fold; isotonic-only, a 4- or 6-cutoff calibration slice, smaller trees or larger leaves moved
    the fold mean between 0.046 and 0.058, within the noise (experiments/README.md).
    The goal itself is checked where the floor is small: `test_calibration_at_scale.py` (slow,
    10,000 accounts: ECE 0.026 on a floor of 0.015).
    """
    metrics = trained[1]["deal_win"].report["metrics"]
    assert metrics["ece"] <= 0.05
    assert metrics["ece_if_calibrated_median"] >= 0.02  # the report shows the floor it sits on


@pytest.mark.parametrize("kind", ["registered", "lightgbm", "logistic"])
def test_reaching_the_decision_maker_never_lowers_win_probability(trained, kind) -> None:
    """`lightgbm.monotone` binds every candidate: trees by LightGBM's constraint, logistic
    regression by fixing a wrong-signed coefficient at 0."""
    _, results = trained
    final = results["deal_win"].final
    model = results["deal_win"].model if kind == "registered" else final.models[kind]
    rows = final.predictions.join(_frame_of(trained, "deal_win"))
    reached = model.predict_proba(rows.assign(deal_reached_decision_maker=True))
    not_reached = model.predict_proba(rows.assign(deal_reached_decision_maker=False))
    assert np.all(reached >= not_reached)
    assert np.mean(reached - not_reached) > 0.02  # the effect is real, not flat


def test_reaching_the_decision_maker_lowers_churn_risk_on_average(trained) -> None:
    _, results = trained
    final = results["churn"].final
    rows = final.predictions.join(_frame_of(trained, "churn"))
    reached = final.model.predict_proba(rows.assign(reached_decision_maker_90d=True))
    not_reached = final.model.predict_proba(rows.assign(reached_decision_maker_90d=False))
    assert np.mean(reached) < np.mean(not_reached)


def _frame_of(trained, target: str):
    from training.data import load_frame

    settings, _ = trained
    return load_frame(settings, resolve_config(target, None)).drop(columns=["label"])


def test_the_deal_win_monitoring_reference_is_every_deal_open_at_the_test_cutoffs(trained):
    """A deal is labelled once it has closed, so the labelled deals of the latest cutoffs are the
    fast closers. The reference monitoring compares a scoring with is every deal open at the
    test cutoffs, as a scoring on those days would have seen them, labelled or not."""
    from features.warehouse import connect
    from training.reference import load_reference

    settings, results = trained
    reference = load_reference(settings, results["deal_win"].run_id)
    period = reference["period"]
    with connect(settings.warehouse_path, read_only=True) as con:
        open_deals, labelled = con.execute(
            """select count(*), count(l.label) from features_opportunity f
               left join (select distinct opportunity_id, label, label_time
                          from labels_deal_win) l
                 on l.opportunity_id = f.opportunity_id and f.cutoff < l.label_time
               where f.snapshot = 'cutoff' and f.cutoff between $first and $last""",
            {"first": period["first_cutoff"], "last": period["last_cutoff"]},
        ).fetchall()[0]
    assert labelled < open_deals
    assert period["rows"] == open_deals
    assert load_reference(settings, results["churn"].run_id)["period"]["rows"] > 0
