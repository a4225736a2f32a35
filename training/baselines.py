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


def base_rate(train: pd.DataFrame) -> Predictor:
    """Every row gets the training positive rate."""
    rate = float(train["label"].mean())
    return lambda frame: np.full(len(frame), rate)


def _platt_on(score_train: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Map a one-dimensional score to a probability with a logistic fit on training rows."""
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(score_train.reshape(-1, 1), y)
    return lambda score: fit.predict_proba(np.asarray(score).reshape(-1, 1))[:, 1]


def _ecdf(reference: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    ordered = np.sort(reference[~np.isnan(reference)])
    return lambda v: np.searchsorted(ordered, v, side="right") / max(len(ordered), 1)


def recency_frequency(
    train: pd.DataFrame, recency: str, frequency: str, r_dir: int, f_dir: int
) -> Predictor:
    """Unfitted heuristic: `r_dir`·rank(recency) + `f_dir`·rank(frequency), mapped to a probability.

    Ranks are the training distribution's percentiles; no recency (never active) ranks as the
    longest silence, no frequency as zero. Only the 1-D mapping to a probability is fitted.
    """
    rec_rank = _ecdf(pd.to_numeric(train[recency], errors="coerce").to_numpy(float))
    freq_rank = _ecdf(pd.to_numeric(train[frequency], errors="coerce").to_numpy(float))

    def score(frame: pd.DataFrame) -> np.ndarray:
        rec = pd.to_numeric(frame[recency], errors="coerce").to_numpy(float)
        freq = pd.to_numeric(frame[frequency], errors="coerce").fillna(0).to_numpy(float)
        return r_dir * np.where(np.isnan(rec), 1.0, rec_rank(rec)) + f_dir * freq_rank(freq)

    to_prob = _platt_on(score(train), train["label"].to_numpy(int))
    return lambda frame: to_prob(score(frame))


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
    """Total BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6) of log-parameters."""
    r, alpha, a, b = np.exp(params)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + age)
    died = betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    died = np.where(x > 0, died, -np.inf)
    return float(np.sum(common + np.logaddexp(alive, died)))


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> BGNBD:
    """Maximum-likelihood BG/NBD parameters with scipy (Nelder–Mead on log-parameters)."""
    x, t_x, age = (np.asarray(v, dtype=float) for v in (x, t_x, age))
    result = minimize(
        lambda p: -bgnbd_log_likelihood(p, x, t_x, age),
        x0=np.log([0.5, max(float(np.mean(age)), 1.0) / 10, 1.0, 1.0]),
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-8},
    )
    return BGNBD(*np.exp(result.x).tolist())


def fit_baselines(train: pd.DataFrame, config: ExperimentConfig) -> dict[str, Predictor]:
    """The reference baselines the config and the frame allow, fitted on `train`."""
    out: dict[str, Predictor] = {"base_rate": base_rate(train)}
    h = config.heuristic
    if h.recency and h.frequency and {h.recency, h.frequency} <= set(train.columns):
        out["recency_frequency"] = recency_frequency(
            train, h.recency, h.frequency, h.recency_direction, h.frequency_direction
        )
    return out
