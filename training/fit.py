"""Fit the candidate scoring models on a train slice, calibrated on a holdout slice.

Every candidate becomes the same artefact (`ScoringModel`): the LightGBM booster, logistic
regression on the same features (`LinearScorer`), or BG/NBD on the purchase-log summary
(`BGNBDScorer`); each is calibrated on the holdout the same way.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import NamedTuple

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from barometer.model.artefact import ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.model.scorers import BGNBD_INPUTS, BGNBDScorer, LinearScorer
from training.baselines import fit_bgnbd
from training.calibration import choose_calibrator
from training.config import ExperimentConfig, ImbalanceConfig, LightGBMConfig, TuningConfig
from training.metrics import roc_auc

FeatureKinds = dict[str, str]  # feature name -> numeric | categorical | bool


def fit_encoder(train: pd.DataFrame, kinds: FeatureKinds) -> FeatureEncoder:
    """The model's encoder, its categories learned from the training rows."""
    return FeatureEncoder(dict(kinds)).fit(train)


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
    encoder = fit_encoder(train, kinds)
    x_train, x_hold = encoder.transform(train), encoder.transform(holdout)
    y_train, y_hold = train["label"].to_numpy(int), holdout["label"].to_numpy(int)
    categorical = [i for i, n in enumerate(names) if n in encoder.categories_]
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
        "params": params,
    }
    return ScoringModel(
        config.target,
        encoder,
        booster,
        calibrator,
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
        scored = model.predict_proba(holdout)
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


MIN_LEVEL_ROWS = 5  # rarer category levels share the "other" coefficient


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    categories: dict[str, list[str]],
    c: float = 1.0,
    monotone: dict[str, int] | None = None,
) -> LinearScorer:
    """L2 logistic regression on the encoded matrix: median-filled numbers clipped to their 1st-99th
    training percentiles and standardised, a missing indicator (where training had missing
    values), one column per category level with at least `MIN_LEVEL_ROWS` rows plus one for the
    rest. `monotone` ({feature: 1 | -1}) business rules hold as for LightGBM: a coefficient of
    the wrong sign is fixed at 0 and the rest refitted."""
    numeric = [i for i, n in enumerate(names) if n not in categories]
    scaling, number_blocks = _scaled_numbers(x[:, numeric])
    level_blocks, levels = _level_indicators(x, names, categories)
    design = np.hstack(number_blocks + level_blocks)
    rules = {numeric.index(names.index(n)): d for n, d in (monotone or {}).items() if n in names}
    coef, intercept = _fit_within_signs(design, y, c, rules)
    k, flagged = len(numeric), scaling.flagged
    missing_coef = np.zeros(k)
    missing_coef[flagged] = coef[k : k + flagged.sum()]
    categorical = _level_coefficients(coef[k + int(flagged.sum()) :], levels)
    draft = LinearScorer(
        intercept,
        tuple(numeric),
        tuple(scaling.fill.tolist()),
        tuple(scaling.mean.tolist()),
        tuple(scaling.scale.tolist()),
        tuple(coef[:k].tolist()),
        tuple(missing_coef.tolist()),
        tuple([0.0] * k),
        tuple(c | {"offset": 0.0} for c in categorical),
        tuple(np.asarray(scaling.low, dtype=float).tolist()),
        tuple(np.asarray(scaling.high, dtype=float).tolist()),
    )
    means = draft.terms(x).mean(axis=0)  # each feature's mean term: its exact SHAP offset
    return dataclasses.replace(
        draft,
        offset=tuple(float(means[i]) for i in numeric),
        categorical=tuple(c | {"offset": float(means[c["position"]])} for c in categorical),
    )


class _NumberScaling(NamedTuple):
    """How the numeric columns are filled, clipped and standardised, and which get a missing
    indicator."""

    fill: np.ndarray
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    flagged: np.ndarray


def _scaled_numbers(xs: np.ndarray) -> tuple[_NumberScaling, list[np.ndarray]]:
    """The scaling learnt from the numeric columns `xs`, and their design blocks: the filled,
    clipped, standardised values, then the missing indicators."""
    missing = np.isnan(xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
        fill = np.nan_to_num(np.nanmedian(xs, axis=0)) if len(xs) else np.zeros(xs.shape[1])
    filled = np.where(missing, fill, xs)
    low, high = np.percentile(filled, [1, 99], axis=0) if len(xs) else (fill, fill)
    filled = np.clip(filled, low, high)
    mean = filled.mean(axis=0)
    scale = filled.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    flagged = missing.any(axis=0)
    scaling = _NumberScaling(fill, low, high, mean, scale, flagged)
    return scaling, [(filled - mean) / scale, missing[:, flagged].astype(float)]


def _level_indicators(
    x: np.ndarray, names: list[str], categories: dict[str, list[str]]
) -> tuple[list[np.ndarray], list[tuple[int, list[int], int]]]:
    """One-hot blocks per categorical column (frequent levels, then one for the rest), and for
    each its (position, frequent codes, number of levels)."""
    blocks, levels = [], []
    for i, name in enumerate(names):
        if name not in categories:
            continue
        codes = x[:, i]
        counts = np.bincount(np.nan_to_num(codes, nan=-1).astype(int) + 1)[1:]
        frequent = [k for k, n in enumerate(counts) if n >= MIN_LEVEL_ROWS]
        onehot = np.column_stack([codes == k for k in frequent] + [~np.isin(codes, frequent)])
        blocks.append(onehot.astype(float))
        levels.append((i, frequent, len(categories[name])))
    return blocks, levels


def _fit_within_signs(
    design: np.ndarray, y: np.ndarray, c: float, rules: dict[int, int]
) -> tuple[np.ndarray, float]:
    """Coefficients (one per design column) and intercept of the logistic regression, refitted
    with each coefficient whose sign breaks its rule fixed at 0 until none does."""
    fixed: set[int] = set()
    while True:
        free = [j for j in range(design.shape[1]) if j not in fixed]
        # One BLAS thread: these small fits run 20-100x slower when BLAS threads contend.
        with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = LogisticRegression(C=c, max_iter=2000).fit(design[:, free], y)
        coef = np.zeros(design.shape[1])
        coef[free] = fit.coef_[0]
        wrong = {j for j, d in rules.items() if coef[j] * d < 0}
        if not wrong:
            return coef, float(fit.intercept_[0])
        fixed |= wrong


def _level_coefficients(coef: np.ndarray, levels: list[tuple[int, list[int], int]]) -> list[dict]:
    """Per categorical column, the coefficient of each code (`other` for rare or unseen ones),
    read from the one-hot blocks' coefficients in order."""
    categorical = []
    at = 0
    for position, frequent, width in levels:
        own, other = coef[at : at + len(frequent)], float(coef[at + len(frequent)])
        at += len(frequent) + 1
        per_code = [other] * width
        for code, value in zip(frequent, own, strict=True):
            per_code[code] = float(value)
        categorical.append({"position": position, "levels": per_code, "other": other})
    return categorical


def _calibrated(
    model: ScoringModel, holdout: pd.DataFrame, config: ExperimentConfig, metadata: dict
) -> ScoringModel:
    """`model` with a calibrator fitted on the holdout's raw scores."""
    raw = model.raw_score(holdout)
    calibrator, scores = choose_calibrator(raw, holdout["label"].to_numpy(int), config.calibration)
    model.calibrator = calibrator
    model.metadata = metadata | {"calibration_log_loss": scores, "kind": model.kind}
    return model


C_GRID = (0.01, 0.1, 1.0)  # L2 strength, chosen on the holdout like LightGBM's rounds


def fit_logistic_model(
    train: pd.DataFrame, holdout: pd.DataFrame, kinds: FeatureKinds, config: ExperimentConfig
) -> ScoringModel:
    """Logistic regression on `train`, its L2 strength chosen by the holdout's log loss (as
    early stopping chooses LightGBM's rounds), then calibrated on the holdout."""
    names = list(kinds)
    encoder = fit_encoder(train, kinds)
    x, x_hold = encoder.transform(train), encoder.transform(holdout)
    y, y_hold = train["label"].to_numpy(int), holdout["label"].to_numpy(int)
    rules = dict(config.lightgbm.monotone)
    fits = {c: fit_linear(x, y, names, encoder.categories_, c, rules) for c in C_GRID}
    losses = {c: _log_loss(y_hold, fits[c].raw(x_hold)) for c in C_GRID}
    best = min(C_GRID, key=lambda c: (losses[c], -c))
    model = ScoringModel(config.target, encoder, core=fits[best], num_threads=1)
    return _calibrated(model, holdout, config, {"params": {"C": best, "holdout_log_loss": losses}})


def _log_loss(y: np.ndarray, raw: np.ndarray) -> float:
    """Mean log loss of log-odds `raw` (numerically stable)."""
    return float(np.mean(np.logaddexp(0.0, raw) - y * raw))


def has_purchase_log(frame: pd.DataFrame, kinds: FeatureKinds) -> bool:
    """BG/NBD needs the purchase-log summary features, with some purchases or usage in them."""
    if not set(BGNBD_INPUTS) <= set(kinds) or not set(BGNBD_INPUTS) <= set(frame.columns):
        return False
    return bool(pd.to_numeric(frame["usage_days_total"], errors="coerce").fillna(0).sum() > 0)


def fit_bgnbd_model(
    train: pd.DataFrame, holdout: pd.DataFrame, config: ExperimentConfig, horizon_days: int
) -> ScoringModel:
    """BG/NBD fitted on the latest training cutoff's customers, calibrated on `holdout`."""
    names = list(BGNBD_INPUTS)
    encoder = fit_encoder(train, dict.fromkeys(names, "numeric"))
    values = pd.DataFrame(encoder.transform(train), columns=names, index=train.index)
    latest = values[train["cutoff"] == train["cutoff"].max()]
    days, first, last = (latest[n].to_numpy() for n in names)
    age = np.nan_to_num(first)
    t_x = np.clip(age - np.where(np.isnan(last), age, last), 0, age)
    params = fit_bgnbd(np.maximum(np.nan_to_num(days) - 1, 0), t_x, age)
    reference = tuple(float(np.nan_to_num(values[n].median())) for n in names)
    core = BGNBDScorer(params.r, params.alpha, params.a, params.b, float(horizon_days), reference)
    model = ScoringModel(config.target, encoder, core=core, num_threads=1)
    return _calibrated(
        model,
        holdout,
        config,
        {"params": {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b}},
    )


def fit_candidate(
    kind: str,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    kinds: FeatureKinds,
    config: ExperimentConfig,
    overrides: dict | None = None,
    horizon_days: int = 90,
) -> ScoringModel:
    """One candidate kind fitted on `train` and calibrated on `holdout`."""
    if kind == "lightgbm":
        model = fit_scoring_model(train, holdout, kinds, config, overrides)
        model.metadata["kind"] = "lightgbm"
        return model
    if kind == "logistic":
        return fit_logistic_model(train, holdout, kinds, config)
    if kind == "bgnbd":
        return fit_bgnbd_model(train, holdout, config, horizon_days)
    raise ValueError(f"unknown model kind {kind!r}")
