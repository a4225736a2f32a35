"""Rolling-origin backtest of the candidates and the baselines, learning curve, detailed report.

Candidates are the models that can be registered (`CANDIDATES`: LightGBM, logistic regression,
and BG/NBD when the data has a purchase or usage log); baselines are references (base rate,
the recency/frequency heuristic). Each fold fits every candidate on the fold's past, calibrates
it on the fold's calibration slice, and scores the fold's test period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from training import metrics as m
from training.baselines import fit_baselines
from training.config import ExperimentConfig
from training.fit import FeatureKinds, fit_candidate, has_purchase_log
from training.splits import Split, SplitPlan, plan_split, recent_fraction

MODEL = "lightgbm"
CANDIDATES = ("bgnbd", "logistic", "lightgbm")  # simplest first
ENTITY = "_entity"  # the predictions' column of entity ids (for bootstraps over entities)


@dataclass
class FoldResult:
    """One fold: its split, the fitted candidates and every scorer's test predictions."""

    fold: int
    split: Split
    models: dict[str, ScoringModel]
    predictions: pd.DataFrame  # index = test rows; columns: label, <candidate>…, <baseline>…
    baseline_names: list[str] = field(default_factory=list)

    @property
    def candidate_names(self) -> list[str]:
        return list(self.models)

    @property
    def scorers(self) -> list[str]:
        return [*self.models, *self.baseline_names]

    @property
    def model(self) -> ScoringModel:
        """The fold's LightGBM model."""
        return self.models[MODEL]


def candidate_kinds(frame: pd.DataFrame, kinds: FeatureKinds, config: ExperimentConfig) -> list:
    """The candidates this data allows, simplest first: BG/NBD needs a purchase or usage log."""
    out = [k for k in CANDIDATES if k != "bgnbd"]
    if config.target == "churn" and config.bgnbd.enabled and has_purchase_log(frame, kinds):
        out.insert(0, "bgnbd")
    return out


def make_plan(
    frame: pd.DataFrame, config: ExperimentConfig, group: str | None, entity: str | None
) -> SplitPlan:
    """`plan_split` with the config's limits (raises `SplitError` with what to change)."""
    s = config.split
    return plan_split(
        frame,
        max_folds=s.folds,
        test_cutoffs=s.test_cutoffs,
        holdout_cutoffs=s.holdout_cutoffs,
        holdout=s.holdout,
        min_labelled=s.min_labelled_cutoffs,
        step=s.fold_step,
        group=group,
        entity=entity,
    )


def run_fold(
    frame: pd.DataFrame,
    fold: int,
    split: Split,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    overrides: dict | None = None,
    candidates: list[str] | None = None,
    horizon_days: int = 90,
    entity: str | None = None,
) -> FoldResult:
    """Fit the candidates and baselines on the fold's past; score its test period."""
    train, holdout, test = frame.loc[split.train], frame.loc[split.holdout], frame.loc[split.test]
    models, scored = {}, {"label": test["label"].to_numpy(int)}
    for kind in candidates or [MODEL]:
        models[kind] = fit_candidate(kind, train, holdout, kinds, config, overrides, horizon_days)
        scored[kind] = models[kind].predict_proba(test)
    baselines = fit_baselines(train, holdout, config)  # what the candidates learn from
    for name, predict in baselines.items():
        scored[name] = predict(test)
    if entity is not None:
        scored[ENTITY] = test[entity].to_numpy()
    predictions = pd.DataFrame(scored, index=test.index)
    return FoldResult(fold, split, models, predictions, list(baselines))


def backtest(
    frame: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    *,
    group: str | None = None,
    entity: str | None = None,
    overrides: dict | None = None,
    plan: SplitPlan | None = None,
    candidates: list[str] | None = None,
    horizon_days: int = 90,
) -> list[FoldResult]:
    """Rolling-origin backtest over the plan's folds (default `make_plan`), oldest first; the last
    fold's models are the ones a run registers."""
    entity = entity or group
    plan = plan or make_plan(frame, config, group, entity)
    candidates = candidates or candidate_kinds(frame, kinds, config)
    return [
        run_fold(frame, i, split, kinds, config, overrides, candidates, horizon_days, entity)
        for i, split in enumerate(plan.splits)
    ]


def fold_metrics(results: list[FoldResult]) -> pd.DataFrame:
    """Long table: one row per (fold, scorer) with the core metrics."""
    rows = []
    for result in results:
        y = result.predictions["label"].to_numpy()
        for scorer in result.scorers:
            metrics = m.core_metrics(y, result.predictions[scorer].to_numpy())
            rows.append({"fold": result.fold, "scorer": scorer, **metrics})
    return pd.DataFrame(rows)


def backtest_auc_ci(
    results: list[FoldResult],
    n: int,
    seed: int = 0,
    scorer: str = MODEL,
    level: float = 0.95,
    draws: bool = False,
) -> tuple[float, float] | np.ndarray:
    """Bootstrap CI of a scorer's backtest ROC AUC: the mean over folds of each fold's AUC (the
    `roc_auc_mean` the choice compares), resampling entities when the predictions carry them
    (their rows are not independent, and an entity tested in several folds is drawn in all)."""
    pooled = pd.concat([r.predictions.assign(_fold=r.fold) for r in results])
    clusters = pooled[ENTITY].to_numpy() if ENTITY in pooled.columns else None
    return m.bootstrap_auc(
        pooled["label"].to_numpy(),
        pooled[scorer].to_numpy(),
        n=n,
        seed=seed,
        level=level,
        clusters=clusters,
        folds=pooled["_fold"].to_numpy(),
        draws=draws,
    )


def pooled_entities(results: list[FoldResult], label: int | None = None) -> int:
    """Distinct entities in the pooled test predictions (rows when entities are not known); with
    `label`, only those with that label."""
    pooled = pd.concat([r.predictions for r in results])
    if label is not None:
        pooled = pooled[pooled["label"] == label]
    return int(pooled[ENTITY].nunique()) if ENTITY in pooled.columns else len(pooled)


def pooled_positive_entities(results: list[FoldResult]) -> int:
    """Distinct entities with the outcome in the pooled test predictions: how many outcomes the
    entity bootstrap really resamples."""
    return pooled_entities(results, label=1)


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
    kind: str = MODEL,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """Test metrics when training `kind` on only the most recent fraction of the training
    history.

    `full`, the model already fitted on all of `split.train` with the same config and overrides
    (the backtest's final fold), stands in for the point that would refit it identically.
    """
    holdout, test = frame.loc[split.holdout], frame.loc[split.test]
    y = test["label"].to_numpy(int)
    rows = []
    for fraction in config.report.learning_curve_fractions:
        index = recent_fraction(frame, split.train, fraction)
        train = frame.loc[index]
        if train["label"].nunique() < 2:
            continue
        if full is not None and len(index) == len(split.train):
            model = full
        else:
            model = fit_candidate(kind, train, holdout, kinds, config, overrides, horizon_days)
        p = model.predict_proba(test)
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
    test: pd.DataFrame,
    p: np.ndarray,
    config: ExperimentConfig,
    group: str | None = None,
    clusters: np.ndarray | None = None,
) -> dict:
    """Tables for the final test period: reliability, lift, capture, bands, segments, stages, CI.

    `ece_if_calibrated_median|p95` put the ECE in scale: what true probabilities would score on
    this test period (rows of one `group` share their outcome). The ROC AUC's CI resamples the
    rows' entities (`clusters`, one per row) when given, as the backtest's does.
    """
    y = test["label"].to_numpy(int)
    r = config.report
    seed = config.lightgbm.seed
    low, high = m.bootstrap_auc(y, p, n=r.bootstrap, seed=seed, clusters=clusters)
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
