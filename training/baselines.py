"""Reference baselines measured in the same run (base rate, recency/frequency), and the BG/NBD fit.

The baselines that are real models, logistic regression and BG/NBD, are candidates
(`training.fit.fit_candidate`): the backtest may pick one and register it. BG/NBD (Fader, Hardie &
Lee 2005) is fitted here: the `lifetimes` package is unmaintained and not installed, so its
log-likelihood is maximised with `scipy.optimize.minimize`; P(alive) and the scoring formula live
with the artefact (`barometer.model.scorers.BGNBDScorer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln
from sklearn.linear_model import LogisticRegression

from barometer.model.scorers import BGNBDScorer
from training.config import ExperimentConfig

Predictor = Callable[[pd.DataFrame], np.ndarray]


def base_rate(rows: pd.DataFrame) -> Predictor:
    """Every row gets the positive rate of `rows`."""
    rate = float(rows["label"].mean())
    return lambda frame: np.full(len(frame), rate)


def _platt_on(score_train: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Map a one-dimensional score to a probability with a logistic fit on training rows."""
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(score_train.reshape(-1, 1), y)
    return lambda score: fit.predict_proba(np.asarray(score).reshape(-1, 1))[:, 1]


def _ecdf(reference: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    ordered = np.sort(reference[~np.isnan(reference)])
    return lambda v: np.searchsorted(ordered, v, side="right") / max(len(ordered), 1)


def recency_frequency(
    train: pd.DataFrame,
    recency: str,
    frequency: str,
    r_dir: int,
    f_dir: int,
    calibrate: pd.DataFrame | None = None,
) -> Predictor:
    """Unfitted heuristic: `r_dir`·rank(recency) + `f_dir`·rank(frequency), mapped to a probability.

    Ranks are the training distribution's percentiles; no recency (never active) ranks as the
    longest silence, no frequency as zero. Only the 1-D mapping to a probability is fitted, on
    `calibrate` (default `train`).
    """
    rec_rank = _ecdf(pd.to_numeric(train[recency], errors="coerce").to_numpy(float))
    freq_rank = _ecdf(pd.to_numeric(train[frequency], errors="coerce").to_numpy(float))

    def score(frame: pd.DataFrame) -> np.ndarray:
        rec = pd.to_numeric(frame[recency], errors="coerce").to_numpy(float)
        freq = pd.to_numeric(frame[frequency], errors="coerce").fillna(0).to_numpy(float)
        return r_dir * np.where(np.isnan(rec), 1.0, rec_rank(rec)) + f_dir * freq_rank(freq)

    fit_on = train if calibrate is None else calibrate
    to_prob = _platt_on(score(fit_on), fit_on["label"].to_numpy(int))
    return lambda frame: to_prob(score(frame))


def informative_column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    """The first of `names` that takes at least two values in `frame` (missing counts as a value
    of its own): a purchase log has no calls, so `days_since_last_touch` tells its customers
    nothing apart and the heuristic falls back to the purchase columns."""
    for name in names:
        if name in frame.columns and frame[name].nunique(dropna=False) > 1:
            return name
    return None


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD parameters (r, alpha, a, b); times in days."""

    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        """P(still active | x repeat events, last at t_x, observed for `age`)."""
        scorer = BGNBDScorer(self.r, self.alpha, self.a, self.b, 0.0, (0.0, 0.0, 0.0))
        return scorer.p_alive(x, t_x, age)


def bgnbd_log_likelihood(params: np.ndarray, x, t_x, age) -> float:
    """Total BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6) of log-parameters.

    `r·log α − (r+x)·log(α+T)` is written `−x·log(α+T) − r·log1p(T/α)`: the two large terms of
    the textbook form cancel when α and r are large (little heterogeneity), and their rounding
    error reads as likelihood (a fit on the retail log climbed to r ~1e17 on it)."""
    r, alpha, a, b = np.exp(params)
    rising = gammaln(r + x) - gammaln(r)
    with np.errstate(invalid="ignore"):
        alive = betaln(a, b + x) - betaln(a, b) - x * np.log(alpha + age)
        alive -= r * np.log1p(age / alpha)
        died = betaln(a + 1, b + x - 1) - betaln(a, b) - x * np.log(alpha + t_x)
        died -= r * np.log1p(t_x / alpha)
    died = np.where(x > 0, died, -np.inf)
    return float(np.sum(rising + np.logaddexp(alive, died)))


# Parameters stay within [1e-8, 1e8]: beyond, a gamma or beta mixing distribution is a point
# mass for any purpose, and gammaln(r + x) − gammaln(r) loses its digits.
LOG_BOUNDS = [(np.log(1e-8), np.log(1e8))] * 4


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> BGNBD:
    """Maximum-likelihood BG/NBD parameters with scipy (bounded Nelder–Mead on log-parameters),
    the best of a few starts (one of them at the observed purchase rate)."""
    x, t_x, age = (np.asarray(v, dtype=float) for v in (x, t_x, age))
    scale = max(float(np.mean(age)), 1.0)
    rate = float(np.mean(x + 1)) / scale
    starts = [
        [0.5, scale / 10, 1.0, 1.0],
        [1.0, 1.0 / rate, 1.0, 10.0],
        [10.0, 10.0 / rate, 1.0, 10.0],
    ]
    best = None
    for start in starts:
        result = minimize(
            lambda p: -bgnbd_log_likelihood(p, x, t_x, age),
            x0=np.log(start),
            method="Nelder-Mead",
            bounds=LOG_BOUNDS,
            options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-8},
        )
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise ValueError("BG/NBD: the log-likelihood is not finite at any start")
    return BGNBD(*np.exp(best.x).tolist())


def fit_baselines(
    train: pd.DataFrame, calibrate: pd.DataFrame, config: ExperimentConfig
) -> dict[str, Predictor]:
    """The reference baselines the config and the frame allow. They know what the candidates
    know: ranks come from the training rows, probabilities from the calibration slice (the base
    rate is that slice's rate, as a candidate without features would be calibrated to it; the
    training rows' rate would lag an outcome rate that moves over time and flatter every
    candidate's log loss). The heuristic takes the first recency and frequency columns that tell
    the training rows apart, and is left out when none does."""
    out: dict[str, Predictor] = {"base_rate": base_rate(calibrate)}
    h = config.heuristic
    recency = informative_column(train, h.recency_columns)
    frequency = informative_column(train, h.frequency_columns)
    if recency and frequency:
        out["recency_frequency"] = recency_frequency(
            train, recency, frequency, h.recency_direction, h.frequency_direction, calibrate
        )
    return out
