"""Calibrators fitted on a held-out time slice of the booster's log-odds, chosen by log loss."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from barometer.model.artefact import Calibrator

CLIP = 1e-4
MIN_ISOTONIC_CLASS = 30  # rows of each class before isotonic is considered: a step function
# through a handful of positives fits their noise


def fit_platt(raw: np.ndarray, y: np.ndarray) -> Calibrator:
    """`sigmoid(a * raw + b)` fitted by (almost unpenalised) logistic regression."""
    model = LogisticRegression(C=1e6, max_iter=1000).fit(np.asarray(raw).reshape(-1, 1), y)
    return Calibrator("platt", a=float(model.coef_[0, 0]), b=float(model.intercept_[0]))


def fit_isotonic(raw: np.ndarray, y: np.ndarray) -> Calibrator:
    """Monotone step function through the slice, kept away from exact 0 and 1."""
    iso = IsotonicRegression(y_min=CLIP, y_max=1 - CLIP, out_of_bounds="clip").fit(raw, y)
    return Calibrator(
        "isotonic",
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in iso.y_thresholds_),
    )


FITTERS = {"platt": fit_platt, "isotonic": fit_isotonic}


def _halves(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % 2 == 0


def cross_fitted_log_loss(method: str, raw: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Log loss when each half of the slice is calibrated by a fit on the other half."""
    first = _halves(len(y), seed)
    predicted = np.empty(len(y))
    for fit_on in (first, ~first):
        if len(np.unique(y[fit_on])) < 2:
            return float("inf")
        calibrator = FITTERS[method](raw[fit_on], y[fit_on])
        predicted[~fit_on] = calibrator(raw[~fit_on])
    return float(log_loss(y, np.clip(predicted, CLIP, 1 - CLIP), labels=[0, 1]))


def choose_calibrator(
    raw: np.ndarray, y: np.ndarray, methods: tuple[str, ...] = ("platt", "isotonic")
) -> tuple[Calibrator, dict[str, float]]:
    """Pick the method with the lowest cross-fitted log loss, refit it on the whole slice
    (Platt alone when either class has fewer than `MIN_ISOTONIC_CLASS` rows)."""
    raw, y = np.asarray(raw, dtype=float), np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        raise ValueError("The calibration slice holds only one class; widen holdout_cutoffs.")
    if min(int(y.sum()), int(len(y) - y.sum())) < MIN_ISOTONIC_CLASS and "platt" in methods:
        methods = ("platt",)
    with threadpool_limits(1, user_api="blas"):  # tiny fits: thread contention costs more
        scores = {m: cross_fitted_log_loss(m, raw, y) for m in methods}
        best = min(scores, key=scores.get)
        return FITTERS[best](raw, y), scores
