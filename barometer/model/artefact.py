"""The scoring artefact: a model of one kind, its calibrator, and additive reasons.

Training builds a `ScoringModel`; explanations, the scoring job and the API load it. The kind is
whichever candidate won the backtest (`kind`: `lightgbm`, `logistic` or `bgnbd`, see
`barometer.model.scorers`); everything downstream uses this one interface and never asks which.
It answers two questions for a batch of feature rows:

- `predict_proba`: the calibrated probability a user sees;
- `explain`: the model's per-feature log-odds contributions (TreeSHAP for trees, exact terms for a
  linear model, exact Shapley values for BG/NBD) re-expressed in probability points so that
  `base_probability + contributions.sum(axis=1) == probability`.

How reasons add up to a calibrated score: the contributions are exact on the uncalibrated model's
log-odds, `raw = base_value + Σ φᵢ`. The calibrator is monotone, so the calibrated change
`Δ = cal(raw) - cal(base_value)` has the sign of `Σ φᵢ`. Each feature receives the share
`φᵢ / Σ φ` of `Δ` (proportional apportioning). Signs and ranking of reasons are preserved and the
points add up exactly to the probability shown.

The artefact is stored without pickle: `model.json` (the fitted encoder, which names the features
and their levels; the calibrator; and for the linear and BG/NBD kinds their coefficients) and,
for trees, `booster.txt` (LightGBM's model text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from barometer.model.encoder import FeatureEncoder
from barometer.model.scorers import (
    SCORERS,
    BGNBDScorer,
    LinearScorer,
    TreeScorer,
    load_booster,
)

if TYPE_CHECKING:  # LightGBM loads only with a tree model (`load_booster`)
    import lightgbm as lgb

CalibrationMethod = Literal["isotonic", "platt", "identity"]
BOOSTER_FILE = "booster.txt"
META_FILE = "model.json"


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, numerically stable for large |x|."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class Calibrator:
    """Maps the booster's log-odds to a calibrated probability.

    `platt`: `sigmoid(a * raw + b)`. `isotonic`: piecewise-linear through (`x`, `y`) on log-odds.
    `identity`: `sigmoid(raw)`.
    """

    method: CalibrationMethod = "identity"
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "platt":
            return sigmoid(self.a * raw + self.b)
        if self.method == "isotonic":
            return np.clip(np.interp(raw, self.x, self.y), 0.0, 1.0)
        return sigmoid(raw)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "a": self.a,
            "b": self.b,
            "x": list(self.x),
            "y": list(self.y),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(data["method"], data["a"], data["b"], tuple(data["x"]), tuple(data["y"]))


@dataclass(frozen=True)
class Explanation:
    """Calibrated probabilities and their additive reasons for a batch of rows.

    The arrays are what `explain_matrix` computes; `points` and `log_odds` label them as frames on
    first use (a one-row request that reads the arrays never pays for two DataFrames).
    """

    probability: np.ndarray  # (n,)
    base_probability: float  # calibrated probability of the model's expected log-odds
    point_values: np.ndarray  # (n, features): probability points; rows add up to prob - base
    phi: np.ndarray  # (n, features): raw TreeSHAP values on the booster's log-odds
    raw_base_value: float
    feature_names: list[str]
    index: pd.Index | None = None

    @cached_property
    def points(self) -> pd.DataFrame:
        """`point_values` with feature names as columns and the rows' index."""
        return pd.DataFrame(self.point_values, columns=self.feature_names, index=self.index)

    @cached_property
    def log_odds(self) -> pd.DataFrame:
        """`phi` with feature names as columns and the rows' index."""
        return pd.DataFrame(self.phi, columns=self.feature_names, index=self.index)


@dataclass
class ScoringModel:
    """A calibrated classifier over named features.

    `encoder` (`barometer.model.encoder.FeatureEncoder`, fitted on the training rows) turns raw
    feature rows into the float matrix every kind reads; `matrix` is that transform. A tree model
    keeps its LightGBM `booster`; the other kinds keep their coefficients in `core` (and no
    booster).
    """

    target: str
    encoder: FeatureEncoder
    booster: lgb.Booster | None = None
    calibrator: Calibrator = field(default_factory=Calibrator)
    metadata: dict = field(default_factory=dict)
    num_threads: int = 1
    core: LinearScorer | BGNBDScorer | None = None

    @property
    def kind(self) -> str:
        """Which model won the backtest: lightgbm, logistic or bgnbd."""
        return self.core.kind if self.core is not None else TreeScorer.kind

    @property
    def scorer(self) -> TreeScorer | LinearScorer | BGNBDScorer:
        return self.core if self.core is not None else TreeScorer(self.booster)

    @cached_property
    def feature_names(self) -> list[str]:
        """The model's features, in the matrix's column order."""
        return self.encoder.feature_names

    @property
    def categories(self) -> dict[str, list[str]]:
        """{categorical feature: its levels, in code order} (learned by the encoder)."""
        return self.encoder.categories_

    def matrix(self, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Raw feature rows (a DataFrame, or an object array in feature order) as the float matrix
        the scorer reads: `encoder.transform`."""
        return np.asarray(self.encoder.transform(rows), dtype=float)

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds."""
        return self.raw_matrix(self.matrix(frame))

    def raw_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Uncalibrated log-odds of rows already encoded by `matrix`."""
        return self.scorer.raw(matrix, num_threads=self.num_threads)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The calibrated probability a user sees."""
        return self.calibrator(self.raw_score(frame))

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Log-odds contributions, shape (n, features + 1); the last column is the base value."""
        return self.scorer.contributions(self.matrix(frame), num_threads=self.num_threads)

    def explain(self, frame: pd.DataFrame) -> Explanation:
        """Calibrated probabilities with reasons in probability points that add up to them."""
        return self.explain_matrix(self.matrix(frame), index=frame.index)

    def explain_matrix(self, matrix: np.ndarray, index: pd.Index | None = None) -> Explanation:
        """`explain` for rows already encoded by `matrix` (serving caches them per model)."""
        contrib = self.scorer.contributions(matrix, num_threads=self.num_threads)
        phi, base = contrib[:, :-1], contrib[:, -1]
        probability = self.calibrator(base + phi.sum(axis=1))
        base_probability = self.calibrator(base[:1])
        points = apportion(phi, probability - base_probability)
        return Explanation(
            probability=probability,
            base_probability=float(base_probability[0]) if len(base) else float("nan"),
            point_values=points,
            phi=phi,
            raw_base_value=float(base[0]) if len(base) else float("nan"),
            feature_names=self.feature_names,
            index=index,
        )

    def save(self, folder: Path) -> Path:
        """Write `model.json` (and a tree's `booster.txt`) into `folder` (created)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.core is None:
            self.booster.save_model(str(folder / BOOSTER_FILE))
        meta = {
            "target": self.target,
            "kind": self.kind,
            "encoder": self.encoder.to_dict(),
            "calibrator": self.calibrator.to_dict(),
            "metadata": self.metadata,
        }
        if self.core is not None:
            meta["scorer"] = self.core.to_dict()
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: Path, *, num_threads: int = 1) -> ScoringModel:
        """Read a model written by `save`; a clear error when a file is missing or corrupt."""
        folder = Path(folder)
        if not (folder / META_FILE).is_file():
            raise FileNotFoundError(f"Model artefact incomplete: {folder / META_FILE} is missing.")
        try:
            meta = json.loads((folder / META_FILE).read_text())
            kind = meta.get("kind", TreeScorer.kind)
            booster, core = None, None
            if kind == TreeScorer.kind:
                if not (folder / BOOSTER_FILE).is_file():
                    raise FileNotFoundError(
                        f"Model artefact incomplete: {folder / BOOSTER_FILE} is missing."
                    )
                booster = load_booster(folder / BOOSTER_FILE)
            elif kind in SCORERS:
                core = SCORERS[kind].from_dict(meta["scorer"])
            else:
                raise ValueError(f"unknown model kind {kind!r}")
            encoder = stored_encoder(meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"Model artefact in {folder} is corrupt: {exc}") from exc
        return cls(
            target=meta["target"],
            encoder=encoder,
            booster=booster,
            calibrator=Calibrator.from_dict(meta["calibrator"]),
            metadata=meta.get("metadata", {}),
            num_threads=num_threads,
            core=core,
        )


def stored_encoder(meta: dict) -> FeatureEncoder:
    """The encoder `model.json` holds; artefacts written before it was stored whole keep the
    feature list, the levels, and the kinds in their metadata."""
    if "encoder" in meta:
        return FeatureEncoder.from_dict(meta["encoder"])
    categories = meta["categories"]
    known = meta.get("metadata", {}).get("feature_kinds", {})
    kinds = {
        name: "categorical" if name in categories else known.get(name, "numeric")
        for name in meta["feature_names"]
    }
    return FeatureEncoder.from_dict({"kinds": kinds, "categories": categories})


def apportion(phi: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Share each row's calibrated change `delta` among features in proportion to `phi`.

    >>> apportion(np.array([[1.0, 3.0]]), np.array([0.2])).round(3).tolist()
    [[0.05, 0.15]]
    """
    total = phi.sum(axis=1, keepdims=True)
    safe = np.where(np.abs(total) > 1e-12, total, 1.0)
    share = np.where(np.abs(total) > 1e-12, phi / safe, 0.0)
    return share * np.asarray(delta, dtype=float)[:, None]
