"""One training run, wired: guards → (tuning) → backtest → report → MLflow run → registration.

Pure steps live in the other modules; this file only sequences them and does the logging I/O.
Nothing is registered unless every artifact is logged and the model beats the baselines.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd

from barometer.model.store import VersionInfo
from barometer.settings import Settings
from training import lifecycle, plots
from training.config import ExperimentConfig
from training.evaluate import (
    MODEL,
    FoldResult,
    backtest,
    detail_report,
    fold_metrics,
    learning_curve,
    pooled_auc_ci,
    summarise,
)
from training.fit import FeatureKinds, as_model_input, tune
from training.guards import check_beats_baselines, check_label_counts, leakage_message
from training.splits import time_split


class LeakageWarning(UserWarning):
    """A feature predicts the label suspiciously well."""


@dataclass
class TrainResult:
    """What a run produced and decided."""

    run_id: str
    summary: pd.DataFrame
    report: dict
    learning: pd.DataFrame
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    version: VersionInfo | None = None
    final: FoldResult | None = None


def backtest_id(snapshot: str, config: ExperimentConfig) -> str:
    """Identifies the data and folds of a backtest: equal ids mean comparable metrics."""
    text = snapshot + json.dumps(config.split.model_dump(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pre_checks(frame: pd.DataFrame, config: ExperimentConfig, leaky: list[str]) -> list[str]:
    """Label-count guard (raises) and the leakage warning (returned, and warned)."""
    check_label_counts(frame, config.guards, config.target)
    if not leaky:
        return []
    message = leakage_message(leaky, config.target)
    if config.guards.leakage == "fail":
        from training.guards import GuardError

        raise GuardError(message)
    warnings.warn(message, LeakageWarning, stacklevel=2)
    return [message]


def tuned_overrides(
    frame: pd.DataFrame, kinds: FeatureKinds, config: ExperimentConfig, group: str | None
) -> tuple[dict, dict]:
    """Optuna on the latest split's holdout when enabled (same params then used in every fold)."""
    if not config.tuning.enabled:
        return {}, {}
    s = config.split
    split = time_split(
        frame, test_cutoffs=s.test_cutoffs, holdout_cutoffs=s.holdout_cutoffs, group=group
    )
    return tune(frame.loc[split.train], frame.loc[split.holdout], kinds, config, config.tuning)


def run_training(
    frame: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    settings: Settings,
    *,
    group: str | None = None,
    leaky: list[str] | None = None,
    registry_hash: str = "",
    register: bool = True,
) -> TrainResult:
    """Train, evaluate and log one model; register it only if it beats the baselines."""
    notes = pre_checks(frame, config, leaky or [])
    overrides, tuning_info = tuned_overrides(frame, kinds, config, group)
    results = backtest(frame, kinds, config, group=group, overrides=overrides)
    summary = summarise(fold_metrics(results))
    final = results[-1]
    test = frame.loc[final.split.test]
    report = detail_report(test, final.predictions[MODEL].to_numpy(), config, group)
    learning = learning_curve(frame, final.split, kinds, config, overrides, full=final.model)
    low, high = pooled_auc_ci(results, config.report.bootstrap, config.lightgbm.seed)
    report["metrics"] |= {"backtest_roc_auc_ci_low": low, "backtest_roc_auc_ci_high": high}
    refusals = check_beats_baselines(summary, config.guards.min_auc_margin, auc_ci_low=low)
    snapshot = lifecycle.frame_hash(frame)
    lifecycle.configure(settings)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, config.target)) as run:
        final.model.metadata.update(
            run_id=run.info.run_id, data_snapshot=snapshot, registry_hash=registry_hash
        )
        _log_run(frame, kinds, config, final, summary, report, learning, overrides, tuning_info)
        tags = {
            "run_id": run.info.run_id,
            "target": config.target,
            "data_snapshot": snapshot,
            "registry_hash": registry_hash,
            "backtest_id": backtest_id(snapshot, config),
            "beats_baselines": str(not refusals).lower(),
            **{f"backtest_{k}": f"{v:.6f}" for k, v in summary.loc[MODEL].items()},
        }
        mlflow.set_tags({k: v for k, v in tags.items() if k != "run_id"} | {"warnings": len(notes)})
        if refusals:
            mlflow.set_tag("refused", "; ".join(refusals))
        sample = as_model_input(test.head(50), kinds)
        model_uri = lifecycle.log_scoring_model(final.model, sample)
    result = TrainResult(run.info.run_id, summary, report, learning, refusals, notes, final=final)
    if register and not refusals:
        result.version = lifecycle.register(settings, config.target, model_uri, tags)
    return result


def _log_run(frame, kinds, config, final, summary, report, learning, overrides, tuning_info):
    """Params, metrics, tables, plots and the feature list of one run (inside an active run)."""
    mlflow.log_params(
        {
            "target": config.target,
            "rows": len(frame),
            "features": len(kinds),
            "calibration": final.model.calibrator.method,
            "best_iteration": final.model.metadata["best_iteration"],
            **{f"split.{k}": v for k, v in final.split.describe().items()},
            **{f"lgb.{k}": v for k, v in final.model.metadata["params"].items()},
            **{f"imbalance.{k}": v for k, v in config.imbalance.model_dump().items()},
        }
    )
    for scorer, row in summary.iterrows():
        prefix = "backtest" if scorer == MODEL else f"baseline.{scorer}"
        mlflow.log_metrics(lifecycle._finite({f"{prefix}.{k}": v for k, v in row.items()}))
    mlflow.log_metrics(lifecycle._finite({f"test.{k}": v for k, v in report["metrics"].items()}))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tables = {k: v for k, v in report.items() if isinstance(v, pd.DataFrame)}
        tables |= {
            "backtest_summary": summary.reset_index(names="scorer"),
            "learning_curve": learning,
        }
        lifecycle.log_tables(tables, folder)
        lifecycle.write_json(folder / "features.json", {"features": kinds})
        lifecycle.write_json(folder / "config.json", config.model_dump(mode="json"))
        lifecycle.write_json(folder / "tuning.json", {"overrides": overrides, **tuning_info})
        _plots(folder, final, report, learning, frame.loc[final.split.test], kinds)
        mlflow.log_artifacts(str(folder), artifact_path="report")


def _plots(folder: Path, final: FoldResult, report: dict, learning, test, kinds) -> None:
    scorers = [MODEL, *final.baseline_names]
    plots.roc_plot(final.predictions, scorers, folder / "roc.png")
    plots.pr_plot(final.predictions, scorers, folder / "pr.png")
    plots.reliability_plot(report["reliability"], folder / "reliability.png")
    plots.lift_plot(report["lift"], folder / "lift.png")
    if not learning.empty:
        plots.learning_curve_plot(learning, folder / "learning_curve.png")
    rows = as_model_input(test.head(2000), kinds)
    plots.shap_summary_plot(final.model.explain(rows).log_odds, folder / "shap_summary.png")
