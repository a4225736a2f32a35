"""Baselines measured in the same run: base rate, logistic regression, recency/frequency, BG/NBD.

BG/NBD (Fader, Hardie & Lee 2005) is implemented here: the `lifetimes` package is unmaintained and
not installed, so its log-likelihood is maximised with `scipy.optimize.minimize` and P(alive)
follows the paper's closed form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training.config import ExperimentConfig
from training.fit import FeatureKinds, as_model_input

Predictor = Callable[[pd.DataFrame], np.ndarray]
BGNBD_COLUMNS = ("bg_frequency", "bg_recency", "bg_age")  # x, t_x, T in days


def base_rate(train: pd.DataFrame) -> Predictor:
    """Every row gets the training positive rate."""
    rate = float(train["label"].mean())
    return lambda frame: np.full(len(frame), rate)


def logistic(train: pd.DataFrame, kinds: FeatureKinds) -> Predictor:
    """L2 logistic regression on the same features (median-imputed, scaled, one-hot)."""
    numeric = [n for n, k in kinds.items() if k != "categorical"]
    categorical = [n for n, k in kinds.items() if k == "categorical"]
    columns = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=5),
                ),
                categorical,
            ),
        ]
    )
    model = make_pipeline(columns, LogisticRegression(C=1.0, max_iter=2000))
    model.fit(as_model_input(train, kinds), train["label"].to_numpy(int))
    return lambda frame: model.predict_proba(as_model_input(frame, kinds))[:, 1]


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
        x, t_x, age = (np.asarray(v, dtype=float) for v in (x, t_x, age))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ratio = (self.a / (self.b + x - 1)) * ((self.alpha + age) / (self.alpha + t_x)) ** (
                self.r + x
            )
        ratio = np.where(x > 0, np.nan_to_num(ratio, nan=np.inf), 0.0)
        return 1.0 / (1.0 + ratio)


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


def bgnbd_churn(train: pd.DataFrame) -> Predictor:
    """Churn probability from 1 - P(alive); the model is fitted on the latest training cutoff."""
    latest = train[train["cutoff"] == train["cutoff"].max()]
    columns = [latest[c].to_numpy(float) for c in BGNBD_COLUMNS]
    model = fit_bgnbd(*columns)

    def dead(frame: pd.DataFrame) -> np.ndarray:
        return 1.0 - model.p_alive(*(frame[c].to_numpy(float) for c in BGNBD_COLUMNS))

    to_prob = _platt_on(dead(train), train["label"].to_numpy(int))
    return lambda frame: to_prob(dead(frame))


def fit_baselines(
    train: pd.DataFrame, kinds: FeatureKinds, config: ExperimentConfig
) -> dict[str, Predictor]:
    """Every baseline the config and the frame allow, fitted on `train`."""
    out: dict[str, Predictor] = {"base_rate": base_rate(train), "logistic": logistic(train, kinds)}
    h = config.heuristic
    if h.recency and h.frequency and {h.recency, h.frequency} <= set(train.columns):
        out["recency_frequency"] = recency_frequency(
            train, h.recency, h.frequency, h.recency_direction, h.frequency_direction
        )
    has_logs = set(BGNBD_COLUMNS) <= set(train.columns) and train["bg_frequency"].sum() > 0
    if config.bgnbd.enabled and has_logs:
        out["bgnbd"] = bgnbd_churn(train)
    return out
