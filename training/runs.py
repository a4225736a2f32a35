"""Warehouse-to-registry workflows behind `barometer train | evaluate | promote`."""

from __future__ import annotations

import json
from functools import partial

import pandas as pd

from barometer.model.status import TrainingStatus, write_status
from barometer.model.store import champion_version, client, registered_name
from barometer.settings import Settings
from training import lifecycle
from training.config import ExperimentConfig, resolve_config  # noqa: F401 (the callers of runs)
from training.data import (
    TARGETS,
    NoDataForTarget,
    feature_kinds,
    load_build_meta,
    load_frame,
    load_population,
    registry_hash,
)
from training.evaluate import (
    MODEL,
    backtest,
    backtest_auc_ci,
    candidate_kinds,
    fold_metrics,
    make_plan,
    summarise,
)
from training.guards import GuardError, base_rate_problems
from training.leakage import suspicious_features
from training.pipeline import TrainResult, backtest_id, run_training


def train_target(
    settings: Settings, config: ExperimentConfig, engine: str = "duckdb"
) -> TrainResult:
    """Load the warehouse frame (`engine="spark"`: a sample of the lake's feature tables, see
    `training.lake_sample`), check for leakage, train, log and (if it earns it) register."""
    sample = None
    t = TARGETS[config.target]
    try:  # a refusal is written down too: the service says why there is no model
        if engine == "spark":
            from training.lake_sample import sample_frame

            frame, sample = sample_frame(settings, config)
        else:
            frame = load_frame(settings, config)
        kinds = feature_kinds(config, list(frame.columns))
        leaky = suspicious_features(frame, kinds, config.guards.leakage_auc)
        result = run_training(
            frame,
            kinds,
            config,
            settings,
            group=t.group,
            entity=t.key,
            leaky=leaky,
            registry_hash=registry_hash(),
            build=load_build_meta(settings),
            population=None if engine == "spark" else partial(load_population, settings, t.name),
        )
    except (GuardError, NoDataForTarget) as exc:
        count, need = getattr(exc, "count", None), getattr(exc, "need", None)
        write_status(settings, TrainingStatus(config.target, False, str(exc), count, need))
        raise
    refused = "; ".join(result.refusals) if result.version is None else ""
    write_status(settings, TrainingStatus(config.target, result.version is not None, refused))
    if sample is not None:
        from training.lake_sample import record_sample

        result.report["sample"] = record_sample(settings, result, sample)
    return result


def _version_config(settings: Settings, run_id: str) -> tuple[ExperimentConfig, dict[str, str]]:
    """The config and feature kinds a version was trained with (from its run's artifacts)."""
    import mlflow.artifacts

    lifecycle.configure(settings)
    config_text = mlflow.artifacts.load_text(f"runs:/{run_id}/report/config.json")
    kinds_text = mlflow.artifacts.load_text(f"runs:/{run_id}/report/features.json")
    config = ExperimentConfig.model_validate(json.loads(config_text))
    return config, json.loads(kinds_text)["features"]


def evaluate_version(
    settings: Settings, target: str, version: str | None = None
) -> tuple[str, pd.DataFrame]:
    """Re-run a version's recipe (its model kind) as a backtest on the current data; tag the
    version with it.

    Defaults to the champion (else the newest version). This is what makes a champion trained on
    older data comparable with a new candidate: both carry metrics with the same `backtest_id`.
    """
    mc, name = client(settings), registered_name(target)
    if version is None:
        info = champion_version(settings, target)
        version = info.version if info else lifecycle._version(settings, target, None).version
    mv = mc.get_model_version(name, str(version))
    config, kinds = _version_config(settings, mv.run_id)
    frame = load_frame(settings, config)
    t = TARGETS[target]
    build = load_build_meta(settings)
    plan = make_plan(frame, config, t.group, t.key)
    kind = (mv.tags or {}).get("model_kind", MODEL)
    if kind not in candidate_kinds(frame, kinds, config):
        raise ValueError(f"v{version} is a {kind} model, which this data no longer allows.")
    horizon = int(build.get("churn", {}).get("horizon_days", 90))
    results = backtest(
        frame,
        kinds,
        config,
        group=t.group,
        entity=t.key,
        plan=plan,
        candidates=[kind],
        horizon_days=horizon,
    )
    summary = summarise(fold_metrics(results))
    low, high = backtest_auc_ci(results, config.report.bootstrap, config.lightgbm.seed, scorer=kind)
    beats = not base_rate_problems(summary, kind, low)
    bid = backtest_id(lifecycle.frame_hash(frame), config, plan)
    tags = {"backtest_id": bid, "beats_baselines": str(beats).lower()}
    tags |= {f"backtest_{k}": f"{v:.6f}" for k, v in summary.loc[kind].items()}
    tags |= {"backtest_roc_auc_ci_low": f"{low:.6f}", "backtest_roc_auc_ci_high": f"{high:.6f}"}
    for key, value in tags.items():
        mc.set_model_version_tag(name, str(version), key, value)
    out = settings.artifacts_dir / target
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".backtest_v{version}.csv"
    summary.reset_index(names="scorer").to_csv(tmp, index=False)
    tmp.replace(out / f"backtest_v{version}.csv")
    return str(version), summary
