"""Rolling-origin backtest of the model and its baselines, learning curve and detailed report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from training import metrics as m
from training.baselines import fit_baselines
from training.config import ExperimentConfig
from training.fit import FeatureKinds, as_model_input, fit_scoring_model
from training.splits import Split, recent_fraction, rolling_origin

MODEL = "model"


@dataclass
class FoldResult:
    """One fold: its split, the fitted model and every scorer's test predictions."""

    fold: int
    split: Split
    model: ScoringModel
    predictions: pd.DataFrame  # index = test rows; columns: label, model, <baseline>…
    baseline_names: list[str] = field(default_factory=list)


def run_fold(
    frame: pd.DataFrame,
    fold: int,
    split: Split,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    overrides: dict | None = None,
) -> FoldResult:
    """Fit model and baselines on the fold's past; score its test period."""
    train, holdout, test = frame.loc[split.train], frame.loc[split.holdout], frame.loc[split.test]
    model = fit_scoring_model(train, holdout, kinds, config, overrides)
    scored = {"label": test["label"].to_numpy(int)}
    scored[MODEL] = model.predict_proba(as_model_input(test, kinds))
    baselines = fit_baselines(train, kinds, config)  # the same rows the booster learns from
    for name, predict in baselines.items():
        scored[name] = predict(test)
    predictions = pd.DataFrame(scored, index=test.index)
    return FoldResult(fold, split, model, predictions, list(baselines))


def backtest(
    frame: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    *,
    group: str | None = None,
    overrides: dict | None = None,
) -> list[FoldResult]:
    """Rolling-origin backtest over `config.split.folds` folds, oldest first; last = final model."""
    s = config.split
    splits = rolling_origin(
        frame,
        folds=s.folds,
        test_cutoffs=s.test_cutoffs,
        holdout_cutoffs=s.holdout_cutoffs,
        step=s.fold_step,
        group=group,
    )
    return [run_fold(frame, i, split, kinds, config, overrides) for i, split in enumerate(splits)]


def fold_metrics(results: list[FoldResult]) -> pd.DataFrame:
    """Long table: one row per (fold, scorer) with the core metrics."""
    rows = []
    for result in results:
        y = result.predictions["label"].to_numpy()
        for scorer in [MODEL, *result.baseline_names]:
            metrics = m.core_metrics(y, result.predictions[scorer].to_numpy())
            rows.append({"fold": result.fold, "scorer": scorer, **metrics})
    return pd.DataFrame(rows)


def pooled_auc_ci(results: list[FoldResult], n: int, seed: int = 0) -> tuple[float, float]:
    """Bootstrap CI of the model's ROC AUC over every fold's test predictions pooled."""
    pooled = pd.concat([r.predictions for r in results])
    return m.bootstrap_auc(pooled["label"].to_numpy(), pooled[MODEL].to_numpy(), n=n, seed=seed)


def summarise(per_fold: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over folds per scorer (index: scorer; columns: `<metric>_mean|std`)."""
    out = {}
    for scorer, rows in per_fold.groupby("scorer", sort=False):
        out[scorer] = m.summarise_folds(rows.drop(columns=["fold", "scorer"]).to_dict("records"))
    return pd.DataFrame(out).T


def learning_curve(
    frame: pd.DataFrame,
    split: Split,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    overrides: dict | None = None,
    full: ScoringModel | None = None,
) -> pd.DataFrame:
    """Test metrics when training on only the most recent fraction of the training history.

    `full`, the model already fitted on all of `split.train` with the same config and overrides
    (the backtest's final fold), stands in for the point that would refit it identically.
    """
    holdout, test = frame.loc[split.holdout], frame.loc[split.test]
    y = test["label"].to_numpy(int)
    x_test = as_model_input(test, kinds)
    rows = []
    for fraction in config.report.learning_curve_fractions:
        index = recent_fraction(frame, split.train, fraction)
        train = frame.loc[index]
        if train["label"].nunique() < 2:
            continue
        if full is not None and len(index) == len(split.train):
            model = full
        else:
            model = fit_scoring_model(train, holdout, kinds, config, overrides)
        p = model.predict_proba(x_test)
        rows.append(
            {
                "fraction": fraction,
                "train_rows": len(train),
                "roc_auc": m.roc_auc(y, p),
                "log_loss": m.core_metrics(y, p)["log_loss"],
            }
        )
    return pd.DataFrame(rows)


def detail_report(
    test: pd.DataFrame, p: np.ndarray, config: ExperimentConfig, group: str | None = None
) -> dict:
    """Tables for the final test period: reliability, lift, capture, bands, segments, stages, CI.

    `ece_if_calibrated_median|p95` put the ECE in scale: what true probabilities would score on
    this test period (rows of one `group` share their outcome).
    """
    y = test["label"].to_numpy(int)
    r = config.report
    seed = config.lightgbm.seed
    low, high = m.bootstrap_auc(y, p, n=r.bootstrap, seed=seed)
    groups = test[group].to_numpy() if group and group in test.columns else None
    floor = m.ece_if_calibrated(p, groups, n=r.bootstrap, seed=seed)
    report: dict = {
        "metrics": m.core_metrics(y, p)
        | {
            "roc_auc_ci_low": low,
            "roc_auc_ci_high": high,
            "ece_if_calibrated_median": float(np.median(floor)),
            "ece_if_calibrated_p95": float(np.percentile(floor, 95)),
        },
        "reliability": m.reliability_curve(y, p),
        "lift": m.lift_curve(y, p),
    }
    if r.value_column and r.value_column in test.columns:
        value = test[r.value_column].to_numpy(float)
        report["metrics"]["value_capture_top10"] = m.value_capture(y, p, value, 0.1)
        report["metrics"]["value_capture_top20"] = m.value_capture(y, p, value, 0.2)
    if config.target == "deal_win":
        report["score_bands"] = m.score_bands(y, p)
    for column in r.segment_columns:
        if column in test.columns:
            report[f"by_{column}"] = m.by_group(y, p, test[column])
    if r.stage_column and r.stage_column in test.columns:
        report["by_stage"] = m.by_group(y, p, test[r.stage_column])
    return report
