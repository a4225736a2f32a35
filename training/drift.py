"""Drift between a model's reference data and the population it scores: monitoring's pure part.

A *profile* summarises a frame once, when a model is trained, in a JSON-able dict: for numeric
features 101 quantiles, decile bin edges and shares, the null rate, the range and the spread; for
categorical ones the share of each category. `feature_drift` compares a scored frame with it:

- **PSI** (population stability index) over the reference's decile bins, non-null values only.
  Rule of thumb: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
- **Wasserstein distance** between the quantile functions, in units of the reference's standard
  deviation (so 0.5 means the distribution moved by half a typical spread).
- **Null rate** against the reference's. A feature that stops arriving (its null rate jumps) is a
  broken pipeline, not drift, and gets its own status.
- **Out-of-range share**: values outside the reference's range (numeric), or categories it never
  saw (categorical).

`score_drift` does the same for calibrated probabilities and band shares; `realised` scores served
predictions against the outcomes that matured since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training import metrics as m

QUANTILES = np.linspace(0, 1, 101)
SHARE_FLOOR = 1e-4  # PSI's log needs non-zero shares; an empty bin counts as 0.01 %
MISSING = "(missing)"
UNSEEN = "(unseen)"


@dataclass(frozen=True)
class Thresholds:
    """When a check warns or alerts; experiment configs can override every field."""

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    null_jump: float = 0.3  # absolute rise in the null rate that means "stopped arriving"
    out_of_range_warn: float = 0.05
    score_psi_alert: float = 0.25
    calibration_z: float = 3.0  # observed rate this many binomial SEs from the predicted mean
    min_outcomes: int = 50  # realised checks need at least this many matured predictions


# ------------------------------------------------------------------------------ profiles


def numeric_profile(values: pd.Series) -> dict:
    """A numeric column's reference summary (see the module docstring)."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    present = x[np.isfinite(x)]
    if not len(present):
        return {"kind": "numeric", "null_rate": 1.0, "rows": len(x)}
    edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9)))
    return {
        "kind": "numeric",
        "rows": len(x),
        "null_rate": 1 - len(present) / len(x),
        "quantiles": np.quantile(present, QUANTILES).tolist(),
        "edges": edges.tolist(),
        "shares": _bin_shares(present, edges).tolist(),
        "lo": float(present.min()),
        "hi": float(present.max()),
        "std": float(present.std()),
        "mean": float(present.mean()),
    }


def categorical_profile(values: pd.Series) -> dict:
    """A categorical (or yes/no) column's reference summary: the share of each category."""
    text = values.astype("object").where(values.notna(), None)
    present = text.dropna().astype(str)
    shares = present.value_counts(normalize=True)
    return {
        "kind": "categorical",
        "rows": len(values),
        "null_rate": 1 - len(present) / len(values) if len(values) else 1.0,
        "shares": {str(k): float(v) for k, v in shares.items()},
    }


def profile(frame: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, dict]:
    """Profiles of the features in `kinds` (`numeric` / `categorical` / `bool`) present in
    `frame`."""
    return {
        name: numeric_profile(frame[name])
        if kind == "numeric"
        else categorical_profile(frame[name])
        for name, kind in kinds.items()
        if name in frame.columns
    }


def _bin_shares(present: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of `present` in the bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    return counts / max(len(present), 1)


# ------------------------------------------------------------------------------ distances


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=float), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_drift(reference: dict, values: pd.Series) -> dict:
    """PSI, Wasserstein distance (in reference standard deviations), null rates, out-of-range."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    present = x[np.isfinite(x)]
    out = _null_rates(reference, len(present), len(x))
    if "quantiles" not in reference or not len(present):
        return out | {"psi": np.nan, "wasserstein": np.nan, "out_of_range": np.nan}
    edges = np.asarray(reference["edges"])
    spread = reference["std"] or 1.0
    gap = np.abs(np.quantile(present, QUANTILES) - np.asarray(reference["quantiles"]))
    outside = (present < reference["lo"]) | (present > reference["hi"])
    return out | {
        "psi": psi(reference["shares"], _bin_shares(present, edges)),
        "wasserstein": float(gap.mean() / spread),
        "out_of_range": float(outside.mean()),
    }


def categorical_drift(reference: dict, values: pd.Series) -> dict:
    """PSI over the reference's categories plus an "unseen" bin, null rates, unseen share."""
    present = values.astype("object").dropna().astype(str)
    out = _null_rates(reference, len(present), len(values))
    if not len(present):
        return out | {"psi": np.nan, "wasserstein": np.nan, "out_of_range": np.nan}
    known = list(reference["shares"])
    now = present.where(present.isin(known), UNSEEN).value_counts(normalize=True)
    expected = [reference["shares"][k] for k in known] + [0.0]
    actual = [float(now.get(k, 0.0)) for k in [*known, UNSEEN]]
    return out | {"psi": psi(expected, actual), "wasserstein": np.nan, "out_of_range": actual[-1]}


def _null_rates(reference: dict, present: int, rows: int) -> dict:
    return {
        "null_rate_reference": float(reference["null_rate"]),
        "null_rate": 1 - present / rows if rows else np.nan,
    }


# ------------------------------------------------------------------------------ checks


def feature_status(row: Mapping, thresholds: Thresholds) -> tuple[str, str]:
    """`broken` (stopped arriving), `alert`, `warn` or `ok`, with the reason in plain words."""
    jump = row["null_rate"] - row["null_rate_reference"]
    if jump >= thresholds.null_jump:
        return "broken", (
            f"stopped arriving: missing in {row['null_rate']:.0%} of rows against "
            f"{row['null_rate_reference']:.0%} in training (a data pipeline problem, not drift)"
        )
    value = row["psi"]
    if np.isfinite(value) and value >= thresholds.psi_alert:
        return "alert", f"distribution shifted (PSI {value:.2f} ≥ {thresholds.psi_alert})"
    if np.isfinite(value) and value >= thresholds.psi_warn:
        return "warn", f"distribution moved (PSI {value:.2f} ≥ {thresholds.psi_warn})"
    outside = row["out_of_range"]
    if np.isfinite(outside) and outside >= thresholds.out_of_range_warn:
        return "warn", f"{outside:.0%} of values outside the training range"
    return "ok", ""


def feature_drift(
    reference: Mapping[str, dict], frame: pd.DataFrame, thresholds: Thresholds = Thresholds()
) -> pd.DataFrame:
    """One row per profiled feature: its drift measures, `status` and `reason`."""
    rows = []
    for name, ref in reference.items():
        values = frame[name] if name in frame.columns else pd.Series([None] * len(frame))
        measure = numeric_drift if ref["kind"] == "numeric" else categorical_drift
        rows.append({"feature": name, "kind": ref["kind"], **measure(ref, values)})
    table = pd.DataFrame(rows, columns=DRIFT_COLUMNS[:-2])
    verdicts = [feature_status(r, thresholds) for r in table.to_dict("records")]
    table["status"] = [v[0] for v in verdicts]
    table["reason"] = [v[1] for v in verdicts]
    return table


DRIFT_COLUMNS = [
    "feature",
    "kind",
    "null_rate_reference",
    "null_rate",
    "psi",
    "wasserstein",
    "out_of_range",
    "status",
    "reason",
]


def score_profile(probability: np.ndarray, bands: np.ndarray) -> dict:
    """The reference distribution of calibrated probabilities and the share in each band."""
    shares = pd.Series(np.asarray(bands, dtype=object)).value_counts(normalize=True)
    return numeric_profile(pd.Series(probability)) | {
        "bands": {str(k): float(v) for k, v in shares.items()}
    }


def score_drift(
    reference: dict,
    probability: np.ndarray,
    bands: np.ndarray,
    thresholds: Thresholds = Thresholds(),
) -> dict:
    """PSI of the probabilities, the mean against the reference's, and band shares then and now."""
    drift = numeric_drift(reference, pd.Series(probability))
    now = pd.Series(np.asarray(bands, dtype=object)).value_counts(normalize=True)
    status = "alert" if drift["psi"] >= thresholds.score_psi_alert else "ok"
    return {
        "psi": drift["psi"],
        "wasserstein": drift["wasserstein"],
        "mean": float(np.mean(probability)) if len(probability) else np.nan,
        "mean_reference": float(reference.get("mean", np.nan)),
        "bands_reference": dict(reference.get("bands", {})),
        "bands": {str(k): float(v) for k, v in now.items()},
        "status": status,
        "reason": f"score distribution shifted (PSI {drift['psi']:.2f})" if status != "ok" else "",
    }


# ------------------------------------------------------------------------------ realised


@dataclass(frozen=True)
class Realised:
    """Served predictions scored against the outcomes that matured since."""

    n: int
    positives: int
    roc_auc: float
    brier: float
    ece: float
    ece_floor: float  # 99th percentile ECE of a perfectly calibrated model on these rows
    predicted_rate: float
    observed_rate: float
    z: float  # (observed - predicted) / binomial SE of the predicted mean
    status: str = "ok"
    reasons: tuple[str, ...] = field(default_factory=tuple)


def realised(
    y: np.ndarray,
    p: np.ndarray,
    backtest_auc_low: float | None = None,
    thresholds: Thresholds = Thresholds(),
) -> Realised:
    """AUC, Brier and calibration of predictions `p` whose outcomes `y` are now known.

    The AUC is checked against the lower end of the backtest's confidence interval; calibration
    against the binomial noise of the predicted mean and the ECE a calibrated model would show."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n = len(y)
    if n == 0:
        nan = float("nan")
        return Realised(0, 0, nan, nan, nan, nan, nan, nan, nan, "ok", ("no matured outcomes",))
    se = float(np.sqrt(np.sum(p * (1 - p)))) / n
    z = (y.mean() - p.mean()) / se if se > 0 else 0.0
    auc = m.roc_auc(y, p)
    floor = float(np.quantile(m.ece_if_calibrated(p, n=200), 0.99))
    result = Realised(
        n,
        int(y.sum()),
        auc,
        float(np.mean((p - y) ** 2)),
        m.expected_calibration_error(y, p),
        floor,
        float(p.mean()),
        float(y.mean()),
        float(z),
    )
    reasons = _realised_reasons(result, backtest_auc_low, thresholds)
    if not reasons:
        return result
    return Realised(**{**result.__dict__, "status": "alert", "reasons": tuple(reasons)})


def _realised_reasons(r: Realised, auc_low: float | None, t: Thresholds) -> list[str]:
    if r.n < t.min_outcomes:
        return []
    reasons = []
    if auc_low is not None and np.isfinite(r.roc_auc) and r.roc_auc < auc_low:
        reasons.append(
            f"realised ROC AUC {r.roc_auc:.3f} is below the backtest's interval (≥ {auc_low:.3f})"
        )
    if abs(r.z) >= t.calibration_z:
        reasons.append(
            f"observed rate {r.observed_rate:.1%} against {r.predicted_rate:.1%} predicted "
            f"({r.z:+.1f} standard errors)"
        )
    if r.ece > r.ece_floor and abs(r.z) < t.calibration_z:
        reasons.append(
            f"calibration error {r.ece:.3f} above what chance gives a calibrated model "
            f"({r.ece_floor:.3f})"
        )
    return reasons
