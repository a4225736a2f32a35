"""Fit the calibrated LightGBM scoring model on a train slice with a later holdout slice."""

from __future__ import annotations

import time

import lightgbm as lgb
import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from training.calibration import choose_calibrator
from training.config import ExperimentConfig, ImbalanceConfig, LightGBMConfig, TuningConfig
from training.metrics import roc_auc

FeatureKinds = dict[str, str]  # feature name -> numeric | categorical | bool


def learn_categories(frame: pd.DataFrame, kinds: FeatureKinds) -> dict[str, list[str]]:
    """Sorted observed levels of each categorical feature (as strings)."""
    return {
        name: sorted(frame[name].dropna().astype(str).unique().tolist())
        for name, kind in kinds.items()
        if kind == "categorical" and name in frame.columns
    }


def as_model_input(frame: pd.DataFrame, kinds: FeatureKinds) -> pd.DataFrame:
    """Feature columns only; categoricals as strings and bools as 0/1 floats (a new frame)."""
    out = {}
    for name, kind in kinds.items():
        values = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)
        if kind == "categorical":
            out[name] = (
                values.astype("object")
                .where(values.notna(), None)
                .map(lambda v: v if v is None else str(v))
            )
        elif kind == "bool":
            out[name] = pd.to_numeric(values.astype("object"), errors="coerce").astype(float)
        else:
            out[name] = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.DataFrame(out, index=frame.index)


def class_weights(y: np.ndarray, imbalance: ImbalanceConfig) -> np.ndarray | None:
    """Positive-class weight `neg/pos` (capped) for `balanced`; None for `none`."""
    if imbalance.strategy == "none":
        return None
    pos = max(int(y.sum()), 1)
    weight = min((len(y) - pos) / pos, imbalance.max_weight)
    return np.where(y == 1, max(weight, 1.0), 1.0)


def monotone_constraints(cfg: LightGBMConfig, names: list[str]) -> list[int]:
    """LightGBM's per-feature constraint list (0 = free)."""
    unknown = set(cfg.monotone) - set(names)
    if unknown:
        raise ValueError(f"lightgbm.monotone names features not in the model: {sorted(unknown)}")
    return [cfg.monotone.get(n, 0) for n in names]


def lgb_params(cfg: LightGBMConfig, overrides: dict | None = None) -> dict:
    params = {
        "objective": "binary",
        "verbose": -1,
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": cfg.feature_fraction,
        "bagging_fraction": cfg.bagging_fraction,
        "bagging_freq": cfg.bagging_freq,
        "lambda_l2": cfg.lambda_l2,
        "num_threads": cfg.num_threads,
        "seed": cfg.seed,
        "deterministic": True,
        "force_col_wise": True,
    }
    return {**params, **(overrides or {})}


def fit_booster(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    categorical: list[int],
    params: dict,
    cfg: LightGBMConfig,
    weights: np.ndarray | None = None,
) -> lgb.Booster:
    """LightGBM with early stopping on the validation slice."""
    train = lgb.Dataset(
        x_train, y_train, weight=weights, categorical_feature=categorical, free_raw_data=False
    )
    valid = lgb.Dataset(x_valid, y_valid, categorical_feature=categorical, reference=train)
    return lgb.train(
        params,
        train,
        num_boost_round=cfg.max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
    )


def fit_scoring_model(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    overrides: dict | None = None,
) -> ScoringModel:
    """Booster on `train`, early-stopped and calibrated on the later `holdout` slice."""
    names = list(kinds)
    draft = ScoringModel(config.target, names, None, categories=learn_categories(train, kinds))
    x_train, x_hold = (
        draft.matrix(as_model_input(train, kinds)),
        draft.matrix(as_model_input(holdout, kinds)),
    )
    y_train, y_hold = train["label"].to_numpy(int), holdout["label"].to_numpy(int)
    categorical = [i for i, n in enumerate(names) if n in draft.categories]
    params = lgb_params(config.lightgbm, overrides)
    if config.lightgbm.monotone:
        params["monotone_constraints"] = monotone_constraints(config.lightgbm, names)
    booster = fit_booster(
        x_train,
        y_train,
        x_hold,
        y_hold,
        categorical=categorical,
        params=params,
        cfg=config.lightgbm,
        weights=class_weights(y_train, config.imbalance),
    )
    raw = booster.predict(x_hold, raw_score=True, num_threads=config.lightgbm.num_threads)
    calibrator, scores = choose_calibrator(raw, y_hold, config.calibration)
    metadata = {
        "best_iteration": int(booster.best_iteration or booster.current_iteration()),
        "calibration_log_loss": scores,
        "feature_kinds": dict(kinds),
        "params": params,
    }
    return ScoringModel(
        config.target,
        names,
        booster,
        calibrator,
        draft.categories,
        metadata,
        num_threads=config.lightgbm.num_threads,
    )


def tune(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    tuning: TuningConfig,
) -> tuple[dict, dict]:
    """Bounded optuna search (trials and wall time) on holdout AUC; returns (best params, info)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        overrides = {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 200, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        }
        model = fit_scoring_model(train, holdout, kinds, config, overrides)
        scored = model.predict_proba(as_model_input(holdout, kinds))
        return roc_auc(holdout["label"].to_numpy(int), scored)

    started = time.monotonic()
    sampler = optuna.samplers.TPESampler(seed=config.lightgbm.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=tuning.trials, timeout=tuning.time_budget_s)
    info = {
        "trials": len(study.trials),
        "seconds": round(time.monotonic() - started, 1),
        "best_holdout_auc": study.best_value,
    }
    return dict(study.best_params), info
