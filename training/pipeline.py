"""One training run, wired: guards → split plan → (tuning) → backtest of every candidate →
choice → report → MLflow run → registration of the winner.

Pure steps live in the other modules; this file only sequences them and does the logging I/O.
Nothing is registered unless every artifact is logged and a candidate beats the base rate.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd

from barometer.model.store import VersionInfo
from barometer.settings import Settings
from training import lifecycle
from training import reference as monitoring_reference
from training.config import ExperimentConfig
from training.evaluate import (
    ENTITY,
    MODEL,
    FoldResult,
    backtest,
    backtest_auc_ci,
    candidate_kinds,
    detail_report,
    fold_metrics,
    learning_curve,
    make_plan,
    pooled_entities,
    pooled_positive_entities,
    summarise,
)
from training.fit import FeatureKinds, tune
from training.guards import (
    Choice,
    check_label_counts,
    check_positive_entities,
    choose_model,
    leakage_message,
)
from training.metrics import percentile_interval
from training.splits import SplitPlan

# The rows a scoring would have scored at the given cutoffs, labelled or not (None: unknown).
Population = Callable[[list], "pd.DataFrame | None"]


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
    plan: SplitPlan | None = None
    choice: Choice | None = None
    ci: tuple[float, float] = (float("nan"), float("nan"))
    entities: int = 0  # distinct entities the CI resamples
    positive_entities: int = 0  # of them, those with a positive label in a test window
    build: dict = field(default_factory=dict)

    @property
    def winner(self) -> str | None:
        return self.choice.winner if self.choice else None

    @property
    def model(self):
        """The registered (or, when refused, the LightGBM) model of the final fold."""
        return self.final.models[self.winner or MODEL]

    def estimate_words(self) -> str:
        """e.g. 'lightgbm backtest ROC AUC 0.812, 95% CI ±0.041 (0.771-0.853, bootstrap over 250
        entities, 31 of them with the outcome)': an interval over entities of which one or two
        had the outcome rests on those one or two."""
        kind = self.winner or MODEL
        auc = self.summary.loc[kind, "roc_auc_mean"]
        low, high = self.ci
        return (
            f"{kind} backtest ROC AUC {auc:.3f}, 95% CI ±{(high - low) / 2:.3f} "
            f"({low:.3f}-{high:.3f}, bootstrap over {self.entities:,} entities, "
            f"{self.positive_entities:,} of them with the outcome)"
        )


def backtest_id(snapshot: str, config: ExperimentConfig, plan: SplitPlan | None = None) -> str:
    """Identifies the data and folds of a backtest: equal ids mean comparable metrics."""
    text = snapshot + json.dumps(config.split.model_dump(), sort_keys=True)
    if plan is not None:
        text += json.dumps(plan.as_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pre_checks(
    frame: pd.DataFrame, config: ExperimentConfig, leaky: list[str], entity: str | None = None
) -> list[str]:
    """Label-count guards (raise) and the leakage warning (returned, and warned)."""
    check_positive_entities(frame, config.guards, config.target, entity)
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
    frame: pd.DataFrame, kinds: FeatureKinds, config: ExperimentConfig, plan: SplitPlan
) -> tuple[dict, dict]:
    """Optuna on the latest split's holdout when enabled (same params then used in every fold)."""
    if not config.tuning.enabled:
        return {}, {}
    split = plan.splits[-1]
    return tune(frame.loc[split.train], frame.loc[split.holdout], kinds, config, config.tuning)


def run_training(
    frame: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    settings: Settings,
    *,
    group: str | None = None,
    entity: str | None = None,
    leaky: list[str] | None = None,
    registry_hash: str = "",
    register: bool = True,
    build: dict | None = None,
    population: Population | None = None,
) -> TrainResult:
    """Backtest every candidate, log the run, and register the winner if one beats the base rate.

    `build` is what the feature build decided (`features.build.build_meta`): logged with the run
    and stored in the model's metadata. `population` gives the rows a scoring would have scored
    at given cutoffs, labelled or not (`training.data.load_population`): the monitoring
    reference describes those at the test cutoffs; without it, the labelled test rows.
    """
    build = build or {}
    entity = entity or group
    notes = pre_checks(frame, config, leaky or [], entity)
    plan = make_plan(frame, config, group, entity)
    overrides, tuning_info = tuned_overrides(frame, kinds, config, plan)
    candidates = candidate_kinds(frame, kinds, config)
    result = _evaluate(
        frame, kinds, config, plan, candidates, overrides, notes, group, entity, build
    )
    info = RunInfo(plan, result.choice, build, candidates)
    result.run_id, model_uri, tags = _record_run(
        frame,
        kinds,
        config,
        settings,
        result,
        info,
        overrides,
        tuning_info,
        notes,
        registry_hash,
        population,
    )
    if register and result.winner is not None:
        result.version = lifecycle.register(settings, config.target, model_uri, tags)
    return result


def _evaluate(
    frame: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    plan: SplitPlan,
    candidates: list[str],
    overrides: dict,
    notes: list[str],
    group: str | None,
    entity: str | None,
    build: dict,
) -> TrainResult:
    """Backtest the candidates, choose one, and report on the final fold; the run id is filled in
    once the MLflow run exists."""
    horizon = int(build.get("churn", {}).get("horizon_days", 90))
    results = backtest(
        frame,
        kinds,
        config,
        group=group,
        entity=entity,
        overrides=overrides,
        plan=plan,
        candidates=candidates,
        horizon_days=horizon,
    )
    summary = summarise(fold_metrics(results))
    choice, ci = _choose_winner(results, summary, candidates, config)
    final = results[-1]
    report, learning = _final_fold_report(
        frame, kinds, config, final, choice.winner or MODEL, ci, overrides, group, horizon
    )
    return TrainResult(
        "",
        summary,
        report,
        learning,
        choice.refusals,
        notes + choice.notes,
        final=final,
        plan=plan,
        choice=choice,
        ci=ci,
        entities=pooled_entities(results),
        positive_entities=pooled_positive_entities(results),
        build=build,
    )


def _final_fold_report(
    frame: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    final: FoldResult,
    kind: str,
    ci: tuple[float, float],
    overrides: dict,
    group: str | None,
    horizon: int,
) -> tuple[dict, pd.DataFrame]:
    """The chosen model's detailed report on the final fold's test rows (with the backtest
    interval) and its learning curve."""
    test = frame.loc[final.split.test]
    predictions = final.predictions
    entities = predictions[ENTITY].to_numpy() if ENTITY in predictions.columns else None
    report = detail_report(test, predictions[kind].to_numpy(), config, group, entities)
    report["metrics"] |= {"backtest_roc_auc_ci_low": ci[0], "backtest_roc_auc_ci_high": ci[1]}
    learning = learning_curve(
        frame,
        final.split,
        kinds,
        config,
        overrides,
        full=final.models[kind],
        kind=kind,
        horizon_days=horizon,
    )
    return report, learning


def _choose_winner(
    results: list[FoldResult],
    summary: pd.DataFrame,
    candidates: list[str],
    config: ExperimentConfig,
) -> tuple[Choice, tuple[float, float]]:
    """The chosen candidate and the plain 95% bootstrap interval of the model it picks."""
    n, seed = config.report.bootstrap, config.lightgbm.seed
    draws = {k: backtest_auc_ci(results, n, seed, scorer=k, draws=True) for k in candidates}
    cis = {k: percentile_interval(d) for k, d in draws.items()}
    # Each candidate is one more chance for noise to clear 0.5, so the guard's interval widens
    # with their number (Bonferroni); the run reports the plain 95% interval.
    guard = 1 - 0.05 / len(candidates)
    lows = {k: percentile_interval(d, guard)[0] for k, d in draws.items()}
    choice = choose_model(summary, candidates, lows, config.guards.min_auc_margin)
    return choice, cis[choice.winner or MODEL]


def _record_run(
    frame: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    settings: Settings,
    result: TrainResult,
    info: RunInfo,
    overrides: dict,
    tuning_info: dict,
    notes: list[str],
    registry_hash: str,
    population: Population | None = None,
) -> tuple[str, str, dict]:
    """Log the run and its scoring model to MLflow: its run id, the model's URI and the tags the
    registered version carries."""
    final, model = result.final, result.model
    test = frame.loc[final.split.test]
    snapshot = lifecycle.frame_hash(frame)
    lifecycle.configure(settings)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, config.target)) as run:
        model.metadata.update(
            _model_metadata(run.info.run_id, snapshot, registry_hash, config, info.plan, info.build)
        )
        _log_run(
            frame,
            kinds,
            config,
            final,
            model,
            result.summary,
            result.report,
            result.learning,
            overrides,
            tuning_info,
            info,
        )
        _log_monitoring_reference(test, result, kinds, population)
        tags = _run_tags(run.info.run_id, snapshot, registry_hash, config, result)
        _tag_run(tags, len(notes), info.choice, result.summary)
        model_uri = lifecycle.log_scoring_model(model, test.head(50))
    return run.info.run_id, model_uri, tags


def _tag_run(tags: dict, warnings: int, choice: Choice, summary: pd.DataFrame) -> None:
    """Set the run's tags, its count of pre-check warnings, its choice in words and any refusals."""
    mlflow.set_tags({k: v for k, v in tags.items() if k != "run_id"} | {"warnings": warnings})
    mlflow.set_tag("choice", choice.words(summary))
    if choice.refusals:
        mlflow.set_tag("refused", "; ".join(choice.refusals))


def _model_metadata(
    run_id: str,
    snapshot: str,
    registry_hash: str,
    config: ExperimentConfig,
    plan: SplitPlan,
    build: dict,
) -> dict:
    """What the scoring model carries about the run and the data that trained it."""
    return dict(
        run_id=run_id,
        data_snapshot=snapshot,
        registry_hash=registry_hash,
        cutoff_frequency=build.get("cutoff_frequency", ""),
        backtest=plan.as_dict(),
        **({"churn": build["churn"]} if config.target == "churn" and "churn" in build else {}),
    )


def _log_monitoring_reference(
    test: pd.DataFrame, result: TrainResult, kinds: FeatureKinds, population: Population | None
) -> None:
    """What `barometer monitor` compares the scored population with (training.reference): the
    rows a scoring would have scored at the test cutoffs, scored by the registered model, or the
    labelled test rows with their backtest predictions."""
    kind = result.winner or MODEL
    rows = population(test["cutoff"].unique().tolist()) if population is not None else None
    if rows is not None and len(rows):
        probability = result.model.predict_proba(rows)
    else:
        rows, probability = test, result.final.predictions[kind].to_numpy()
    monitoring_reference.log_reference(
        monitoring_reference.build_reference(
            rows, probability, result.model, kinds, result.summary.loc[kind], result.ci
        )
    )


def _run_tags(
    run_id: str, snapshot: str, registry_hash: str, config: ExperimentConfig, result: TrainResult
) -> dict:
    """The run's tags, which the registered version carries too."""
    kind, plan, build = result.winner or MODEL, result.plan, result.build
    low, high = result.ci
    tags = {
        "run_id": run_id,
        "target": config.target,
        "data_snapshot": snapshot,
        "registry_hash": registry_hash,
        "backtest_id": backtest_id(snapshot, config, plan),
        "beats_baselines": str(result.winner is not None).lower(),
        "model_kind": kind,
        "backtest_folds": str(plan.folds),
        "backtest_holdout_by": plan.holdout_by,
        "cutoff_frequency": str(build.get("cutoff_frequency", "")),
        **{f"backtest_{k}": f"{v:.6f}" for k, v in result.summary.loc[kind].items()},
        "backtest_roc_auc_ci_low": f"{low:.6f}",
        "backtest_roc_auc_ci_high": f"{high:.6f}",
    }
    if config.target == "churn" and "churn" in build:
        tags["churn_definition"] = build["churn"]["definition"]
    return tags


@dataclass(frozen=True)
class RunInfo:
    """What sized and decided the run, for its params and artifacts."""

    plan: SplitPlan
    choice: Choice
    build: dict
    candidates: list[str]


def _log_run(
    frame, kinds, config, final, model, summary, report, learning, overrides, tuning_info, info
):
    """Params, metrics, tables, plots and the feature list of one run (inside an active run)."""
    churn = info.build.get("churn", {}) if config.target == "churn" else {}
    mlflow.log_params(
        {
            "target": config.target,
            "rows": len(frame),
            "features": len(kinds),
            "model_kind": model.kind,
            "candidates": ",".join(info.candidates),
            "calibration": model.calibrator.method,
            "best_iteration": final.model.metadata["best_iteration"],
            "cutoff_frequency": info.build.get("cutoff_frequency", ""),
            **{f"churn.{k}": v for k, v in churn.items() if k != "chosen_because"},
            **{f"backtest.{k}": v for k, v in info.plan.as_dict().items()},
            **{f"split.{k}": v for k, v in final.split.describe().items()},
            **{f"lgb.{k}": v for k, v in final.model.metadata["params"].items()},
            **{f"imbalance.{k}": v for k, v in config.imbalance.model_dump().items()},
        }
    )
    for scorer, row in summary.iterrows():
        prefix = "candidate" if scorer in info.candidates else "baseline"
        prefix = "backtest" if scorer == model.kind else f"{prefix}.{scorer}"
        mlflow.log_metrics(lifecycle._finite({f"{prefix}.{k}": v for k, v in row.items()}))
    if info.choice.margin is not None:
        mlflow.log_metric("backtest.winner_auc_margin", info.choice.margin)
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
        lifecycle.write_json(
            folder / "choice.json",
            {
                "winner": info.choice.winner,
                "words": info.choice.words(summary),
                "runner_up": info.choice.runner_up,
                "auc_margin": info.choice.margin,
                "refusals": info.choice.refusals,
                "notes": info.choice.notes,
                "backtest": info.plan.as_dict() | {"words": info.plan.words()},
                "build": info.build,
            },
        )
        _plots(folder, final, model, report, learning, frame.loc[final.split.test])
        mlflow.log_artifacts(str(folder), artifact_path="report")


def _plots(folder: Path, final: FoldResult, model, report: dict, learning, test) -> None:
    from training import plots  # matplotlib loads only in the commands that draw

    scorers = final.scorers
    plots.roc_plot(final.predictions, scorers, folder / "roc.png")
    plots.pr_plot(final.predictions, scorers, folder / "pr.png")
    plots.reliability_plot(report["reliability"], folder / "reliability.png")
    plots.lift_plot(report["lift"], folder / "lift.png")
    if not learning.empty:
        plots.learning_curve_plot(learning, folder / "learning_curve.png")
    plots.shap_summary_plot(model.explain(test.head(2000)).log_odds, folder / "shap_summary.png")
