"""What turns a model's encoded feature matrix into log-odds and their per-feature parts.

`ScoringModel` (`barometer.model.artefact`) is the one interface everything downstream uses; it
holds one of these scorers, chosen by the backtest in training:

- `TreeScorer`: a LightGBM booster; parts are TreeSHAP (`pred_contrib`).
- `LinearScorer`: logistic regression on the same features (median-filled numbers clipped to the
  training range's 1st-99th percentiles and standardised, a missing indicator, one column per
  frequent category level; the clipping keeps one extreme value from an extreme score). A linear
  model's exact SHAP values are its terms minus their training means, `φ_j = t_j(x) − E[t_j]`,
  with base value `intercept + Σ E[t_j]`, so `base + Σ φ_j` is the log-odds exactly.
- `BGNBDScorer`: BG/NBD (Fader, Hardie & Lee 2005) on the purchase-log summary (days with a
  purchase or usage, days since the first and the last); its score is the log-odds of no purchase
  within the horizon. Its parts are exact Shapley values of the three inputs against a reference
  customer (the training medians): every one of the 2³ coalitions is evaluated, so they add up
  to `score(x) − score(reference)` exactly.

Every scorer returns `contributions` of shape (n, features + 1), the base value last, and is
stored as JSON (the tree as LightGBM's model text): nothing is pickled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from math import factorial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # LightGBM loads with a tree model only (`load_booster`)
    import lightgbm as lgb

BGNBD_INPUTS = ("usage_days_total", "days_since_first_usage", "days_since_last_usage")
CLIP = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), CLIP, 1 - CLIP)
    return np.log(p) - np.log1p(-p)


def load_booster(path: Path) -> lgb.Booster:
    """A LightGBM booster from its model text; ValueError when the file is corrupt. LightGBM is
    imported here, so loading a logistic or BG/NBD model never pays for it."""
    import lightgbm as lgb

    try:
        return lgb.Booster(model_file=str(path))
    except lgb.basic.LightGBMError as exc:
        raise ValueError(str(exc)) from exc


@dataclass(frozen=True)
class TreeScorer:
    """A LightGBM booster: raw log-odds and TreeSHAP parts."""

    booster: lgb.Booster
    kind = "lightgbm"

    def raw(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        return self.booster.predict(matrix, raw_score=True, num_threads=num_threads)

    def contributions(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        return self.booster.predict(matrix, pred_contrib=True, num_threads=num_threads)


@dataclass(frozen=True)
class LinearScorer:
    """Logistic regression over the encoded matrix (numbers and category codes).

    Numeric column `positions[k]`: `z = (clip(fill-if-missing(x), low, high) − mean) / scale`,
    term `coef·z + missing_coef·[x missing]`. Categorical column: the coefficient of its code
    (`levels[code]`), `other` for missing, unknown or rare levels. `offset` is each feature's mean
    term over the training rows.
    """

    intercept: float
    positions: tuple[int, ...]
    fill: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    missing_coef: tuple[float, ...]
    offset: tuple[float, ...]
    categorical: tuple[dict, ...] = ()  # {"position", "levels": [coef per code], "other", "offset"}
    low: tuple[float, ...] = ()  # clip range per numeric column (empty: no clipping)
    high: tuple[float, ...] = ()
    kind = "logistic"

    def terms(self, matrix: np.ndarray) -> np.ndarray:
        """Each feature's term t_j(x), shape (n, features)."""
        out = np.zeros(matrix.shape, dtype=float)
        if self.positions:
            pos = np.asarray(self.positions, dtype=int)
            x = matrix[:, pos]
            missing = np.isnan(x)
            filled = np.where(missing, self.fill, x)
            if self.low:
                filled = np.clip(filled, self.low, self.high)
            z = (filled - self.mean) / np.asarray(self.scale)
            out[:, pos] = z * np.asarray(self.coef) + missing * np.asarray(self.missing_coef)
        for column in self.categorical:
            codes = matrix[:, column["position"]]
            levels = np.append(np.asarray(column["levels"], dtype=float), column["other"])
            known = ~np.isnan(codes) & (codes >= 0) & (codes < len(levels) - 1)
            index = np.where(known, np.nan_to_num(codes), len(levels) - 1).astype(int)
            out[:, column["position"]] = levels[index]
        return out

    def offsets(self, width: int) -> np.ndarray:
        out = np.zeros(width)
        out[np.asarray(self.positions, dtype=int)] = self.offset
        for column in self.categorical:
            out[column["position"]] = column["offset"]
        return out

    def contributions(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        offsets = self.offsets(matrix.shape[1])
        phi = self.terms(matrix) - offsets
        base = np.full((len(matrix), 1), self.intercept + offsets.sum())
        return np.hstack([phi, base])

    def raw(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        return self.intercept + self.terms(matrix).sum(axis=1)

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> LinearScorer:
        fields = {k: v for k, v in data.items() if k != "kind"}
        for name in (
            "positions",
            "fill",
            "mean",
            "scale",
            "coef",
            "missing_coef",
            "offset",
            "low",
            "high",
        ):
            fields[name] = tuple(fields.get(name, ()))
        fields["categorical"] = tuple(dict(c) for c in fields.get("categorical", ()))
        return cls(**fields)


@dataclass(frozen=True)
class BGNBDScorer:
    """BG/NBD parameters (r, alpha, a, b; days) over `BGNBD_INPUTS` at matrix columns 0, 1, 2."""

    r: float
    alpha: float
    a: float
    b: float
    horizon_days: float
    reference: tuple[float, float, float]  # training medians of the three inputs
    kind = "bgnbd"

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        """P(still active | x repeat purchase days, the last at t_x, observed for `age` days)."""
        x, t_x, age = (np.asarray(v, dtype=float) for v in (x, t_x, age))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            # ((α+T)/(α+t_x))^(r+x) through log1p: exact when α is huge (little heterogeneity)
            growth = np.exp((self.r + x) * np.log1p((age - t_x) / (self.alpha + t_x)))
            ratio = (self.a / (self.b + x - 1)) * growth
        ratio = np.where(x > 0, np.nan_to_num(ratio, nan=np.inf), 0.0)
        return 1.0 / (1.0 + ratio)

    def no_purchase(self, days: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """P(no purchase within the horizon) from the three inputs.

        Alive customers stay alive until their next purchase (BG/NBD's dropout follows a
        purchase), so P(none in H | alive) = E[e^{-λH}] = ((α+T)/(α+T+H))^{r+x}.
        """
        days, first, last = (np.asarray(v, dtype=float) for v in (days, first, last))
        age = np.nan_to_num(np.maximum(first, 0.0))
        recency = np.where(np.isnan(last), age, np.maximum(last, 0.0))
        t_x = np.clip(age - recency, 0.0, age)
        x = np.maximum(np.nan_to_num(days) - 1.0, 0.0)
        alive = self.p_alive(x, t_x, age)
        quiet = np.exp(-(self.r + x) * np.log1p(self.horizon_days / (self.alpha + age)))
        return (1.0 - alive) + alive * quiet

    def score(self, values: np.ndarray) -> np.ndarray:
        return logit(self.no_purchase(values[:, 0], values[:, 1], values[:, 2]))

    def contributions(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """Exact Shapley values of the three inputs against `reference` (2³ coalitions)."""
        x = matrix[:, :3]
        n, players = len(x), 3
        reference = np.broadcast_to(np.asarray(self.reference, dtype=float), x.shape)
        value = {}
        for size in range(players + 1):
            for team in combinations(range(players), size):
                mixed = reference.copy()
                mixed[:, list(team)] = x[:, list(team)]
                value[team] = self.score(mixed)
        phi = np.zeros((n, matrix.shape[1]))
        for i in range(players):
            others = [p for p in range(players) if p != i]
            for size in range(players):
                weight = factorial(size) * factorial(players - size - 1) / factorial(players)
                for team in combinations(others, size):
                    joined = tuple(sorted((*team, i)))
                    phi[:, i] += weight * (value[joined] - value[team])
        base = np.full((n, 1), value[()][0] if n else np.nan)
        return np.hstack([phi, base])

    def raw(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        return self.score(matrix[:, :3])

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> BGNBDScorer:
        fields = {k: v for k, v in data.items() if k != "kind"}
        fields["reference"] = tuple(fields["reference"])
        return cls(**fields)


SCORERS = {"logistic": LinearScorer, "bgnbd": BGNBDScorer}
KINDS = ("lightgbm", *SCORERS)
