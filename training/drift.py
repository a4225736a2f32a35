"""Drift between a model's reference data and the population it scores: monitoring's pure part.

A *profile* summarises a frame once, when a model is trained, in a JSON-able dict: for numeric
features 101 quantiles, decile bin edges and shares, the null rate, the range and the spread; for
categorical ones the share of each category. `feature_drift` compares a scored frame with it:

- **PSI** (population stability index) over the reference's decile bins, non-null values only.
  Rule of thumb: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one. A few
  hundred rows give a PSI of a few hundredths by chance alone (`psi_chance`: n·PSI is about
  chi-square with bins - 1 degrees of freedom), so a shift is called only above both the rule of
  thumb and the chance level for the rows at hand.
- **Wasserstein distance** between the quantile functions, in units of the reference's standard
  deviation (so 0.5 means the distribution moved by half a typical spread).
- **Null rate** against the reference's. A feature that stops arriving (its null rate jumps) is a
  broken pipeline, not drift, and gets its own status.
- **Out-of-range share**: values outside the reference's range (numeric), or categories it never
  saw (categorical).

`score_drift` does the same for calibrated probabilities and band shares; `realised` scores served
predictions against the outcomes that matured since; `retrain_signal` weighs them all into one
verdict, counting a feature's drift by its share of the model's attributions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from training import metrics as m

QUANTILES = np.linspace(0, 1, 101)
SCORE_QUANTILES = np.linspace(0, 1, 1001)  # band shares under any cut, to 0.1 %
SHARE_FLOOR = 1e-4  # PSI's log needs non-zero shares; without row counts an empty bin is 0.01 %
SMOOTHING = 0.5  # rows added to each bin before a PSI (see `psi`)
CONSTANT_SHARE = 0.95  # a feature reading one value in this share of rows has gone constant
COMMON_VALUES = 10  # values a numeric profile keeps the share of (those above 1 %)
MISSING = "(missing)"
UNSEEN = "(unseen)"


class Thresholds(BaseModel):
    """When a check warns or alerts, and when the target needs retraining: the `monitoring:` block
    of an experiment config (`training.config`); experiments/README.md explains each default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    psi_warn: float = Field(0.1, gt=0, description="Feature PSI from which it has moved.")
    psi_alert: float = Field(0.25, gt=0, description="Feature PSI from which it has shifted.")
    null_jump: float = Field(
        0.3, gt=0, le=1, description='Rise in the null rate that means "stopped arriving".'
    )
    out_of_range_warn: float = Field(
        0.05, gt=0, le=1, description="Share of values outside the training range that warns."
    )
    score_psi_alert: float = Field(
        0.25, gt=0, description="PSI of the calibrated probabilities that alerts."
    )
    calibration_z: float = Field(
        3.0, gt=0, description="Observed rate this many binomial SEs from the predicted mean."
    )
    auc_z: float = Field(
        2.0,
        ge=0,
        description="Realised ROC AUC this many of its own SEs below the backtest's interval.",
    )
    min_outcomes: int = Field(
        50, ge=1, description="Realised checks need at least this many matured predictions."
    )
    drift_importance: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Retrain when shifted features carry this share of the model's attributions.",
    )
    chance: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description="A PSI below this quantile of what sampling alone gives is never a shift.",
    )


DEFAULTS = Thresholds()

# ------------------------------------------------------------------------------ profiles


def numeric_profile(values: pd.Series, quantiles: np.ndarray = QUANTILES) -> dict:
    """A numeric column's reference summary (see the module docstring)."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = x[np.isfinite(x)]
    if not len(present):
        return {"kind": "numeric", "null_rate": 1.0, "rows": len(x)}
    edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9)))
    return {
        "kind": "numeric",
        "rows": len(x),
        "null_rate": 1 - len(present) / len(x),
        "quantiles": np.quantile(present, quantiles).tolist(),
        "edges": edges.tolist(),
        "shares": _bin_shares(present, edges).tolist(),
        "lo": float(present.min()),
        "hi": float(present.max()),
        "std": float(present.std()),
        "mean": float(present.mean()),
        "common": _common(present),
    }


def _common(present: np.ndarray) -> list[list[float]]:
    """The most frequent values (up to `COMMON_VALUES`, those over 1 %) with their shares."""
    values, counts = np.unique(present, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:COMMON_VALUES]
    shares = counts[order] / len(present)
    return [[float(values[i]), float(s)] for i, s in zip(order, shares, strict=True) if s >= 0.01]


def categorical_profile(values: pd.Series, kind: str = "categorical") -> dict:
    """A categorical (or yes/no) column's reference summary: the share of each category."""
    present = _labels(values, kind).dropna()
    shares = present.value_counts(normalize=True)
    return {
        "kind": kind,
        "rows": len(values),
        "null_rate": 1 - len(present) / len(values) if len(values) else 1.0,
        "shares": {str(k): float(v) for k, v in shares.items()},
    }


def _labels(values: pd.Series, kind: str) -> pd.Series:
    """Category labels as text (None when missing). Yes/no values read `true` / `false` whether
    they arrive as booleans or as 1.0 / 0.0 (the warehouse and pandas store them both ways)."""
    codes, uniques = pd.factorize(values.astype("object"), use_na_sentinel=True)
    word = _yes_no if kind == "bool" else str
    labels = np.array([*(word(u) for u in uniques), None], dtype=object)  # code -1: missing
    return pd.Series(labels[codes], index=values.index, dtype=object)


def _yes_no(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | np.bool_ | int | float | np.number):
        return "true" if value else "false"
    return str(value).strip().lower()


def profile(frame: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, dict]:
    """Profiles of the features in `kinds` (`numeric` / `categorical` / `bool`) present in
    `frame`."""
    return {
        name: numeric_profile(frame[name])
        if kind == "numeric"
        else categorical_profile(frame[name], kind)
        for name, kind in kinds.items()
        if name in frame.columns
    }


def _bin_shares(present: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of `present` in the bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    return counts / max(len(present), 1)


# ------------------------------------------------------------------------------ distances


def psi(
    expected: np.ndarray,
    actual: np.ndarray,
    rows: int | None = None,
    reference_rows: int | None = None,
) -> float:
    """Population stability index between two share vectors over the same bins.

    With the row counts behind the shares, each bin's count gets half a row added first (the
    Jeffreys correction): a bin left empty by a few dozen rows then weighs what such a sample can
    tell, not log(1e-4)."""

    def smooth(shares: np.ndarray, n: int | None) -> np.ndarray:
        if not n:
            return np.maximum(shares, SHARE_FLOOR)
        return (shares * n + SMOOTHING) / (n + SMOOTHING * len(shares))

    e = smooth(np.asarray(expected, dtype=float), reference_rows)
    a = smooth(np.asarray(actual, dtype=float), rows)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_chance(bins: int, rows: int, reference_rows: int, quantile: float = 0.99) -> float:
    """The PSI two samples of one population reach by chance at `quantile`: PSI is close to a
    symmetric chi-square divergence, so n·PSI (n the harmonic combination of both sizes) is about
    chi-square with `bins - 1` degrees of freedom."""
    from scipy.stats import chi2  # here: scipy.stats is half a second of every command's start

    if bins < 2 or rows < 1:
        return 0.0
    inverse = 1 / rows + (1 / reference_rows if reference_rows else 0.0)
    return float(chi2.ppf(quantile, bins - 1) * inverse)


def numeric_drift(reference: dict, values: pd.Series, quantile: float = 0.99) -> dict:
    """PSI (and its chance level), Wasserstein distance (in reference standard deviations), null
    rates, out-of-range share."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = x[np.isfinite(x)]
    out = _null_rates(reference, len(present), len(x))
    if "quantiles" not in reference or not len(present):
        return (
            out
            | {"psi": np.nan, "psi_chance": np.nan, "wasserstein": np.nan}
            | {"out_of_range": np.nan}
        )
    edges = np.asarray(reference["edges"])
    spread = reference["std"] or 1.0
    levels = np.linspace(0, 1, len(reference["quantiles"]))
    gap = np.abs(np.quantile(present, levels) - np.asarray(reference["quantiles"]))
    outside = (present < reference["lo"]) | (present > reference["hi"])
    ref_rows = round(reference.get("rows", 0) * (1 - reference["null_rate"]))
    shares = _bin_shares(present, edges)
    return (
        out
        | constant(reference, present)
        | {
            "psi": psi(reference["shares"], shares, len(present), ref_rows),
            "psi_chance": psi_chance(len(edges) + 1, len(present), ref_rows, quantile),
            "wasserstein": float(gap.mean() / spread),
            "out_of_range": float(outside.mean()),
        }
    )


def constant(reference: dict, present: np.ndarray) -> dict:
    """The value most rows read now, its share, and its share in the reference (values under
    1 % there count as 0)."""
    values, counts = np.unique(present, return_counts=True)
    top = int(np.argmax(counts))
    value = float(values[top])
    if "common" in reference:
        before = dict((float(v), float(s)) for v, s in reference["common"]).get(value, 0.0)
    else:
        before = np.nan  # a reference recorded without its common values
    return {"mode": value, "mode_share": float(counts[top] / len(present))} | {
        "mode_share_reference": before
    }


def categorical_drift(reference: dict, values: pd.Series, quantile: float = 0.99) -> dict:
    """PSI over the reference's categories plus an "unseen" bin, null rates, unseen share."""
    present = _labels(values, reference.get("kind", "categorical")).dropna()
    out = _null_rates(reference, len(present), len(values))
    if not len(present):
        return (
            out
            | {"psi": np.nan, "psi_chance": np.nan, "wasserstein": np.nan}
            | {"out_of_range": np.nan}
        )
    known = list(reference["shares"])
    now = present.where(present.isin(known), UNSEEN).value_counts(normalize=True)
    expected = [reference["shares"][k] for k in known] + [0.0]
    actual = [float(now.get(k, 0.0)) for k in [*known, UNSEEN]]
    ref_rows = round(reference.get("rows", 0) * (1 - reference["null_rate"]))
    return out | {
        "psi": psi(expected, actual, len(present), ref_rows),
        "psi_chance": psi_chance(len(known), len(present), ref_rows, quantile),
        "wasserstein": np.nan,
        "out_of_range": actual[-1],
    }


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
    share, before = row.get("mode_share", np.nan), row.get("mode_share_reference", np.nan)
    if share >= CONSTANT_SHARE and share - before >= thresholds.null_jump:
        return "broken", (
            f"stopped arriving: {share:.0%} of rows now read {row['mode']:g}, against "
            f"{before:.0%} in training (one value where values varied: a data pipeline problem, "
            "not drift)"
        )
    value = row["psi"]
    chance = row.get("psi_chance", 0.0)
    chance = chance if np.isfinite(chance) else 0.0
    alert, warn = max(thresholds.psi_alert, chance), max(thresholds.psi_warn, chance)
    few = ", what chance can give on this few rows" if chance > thresholds.psi_alert else ""
    if np.isfinite(value) and value >= alert:
        return "alert", f"distribution shifted (PSI {value:.2f} ≥ {alert:.2f}{few})"
    if np.isfinite(value) and value >= warn:
        few = ", what chance can give on this few rows" if chance > thresholds.psi_warn else ""
        return "warn", f"distribution moved (PSI {value:.2f} ≥ {warn:.2f}{few})"
    outside = row["out_of_range"]
    if np.isfinite(outside) and outside >= thresholds.out_of_range_warn:
        what = "new categories" if row.get("kind") != "numeric" else "outside the training range"
        return "warn", f"{outside:.0%} of values {what}"
    return "ok", ""


DRIFT_COLUMNS = [
    "feature",
    "kind",
    "importance",
    "null_rate_reference",
    "null_rate",
    "psi",
    "psi_chance",
    "wasserstein",
    "out_of_range",
    "mode",
    "mode_share",
    "mode_share_reference",
    "status",
    "reason",
]


def feature_drift(
    reference: Mapping[str, dict],
    frame: pd.DataFrame,
    thresholds: Thresholds = DEFAULTS,
    importance: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per profiled feature: its drift measures, its share of the model's attributions
    (`importance`; equal shares when not given), `status` and `reason`."""
    rows = []
    for name, ref in reference.items():
        values = frame[name] if name in frame.columns else pd.Series([None] * len(frame))
        measure = numeric_drift if ref["kind"] == "numeric" else categorical_drift
        rows.append(
            {"feature": name, "kind": ref["kind"], **measure(ref, values, thresholds.chance)}
        )
    table = pd.DataFrame(rows, columns=DRIFT_COLUMNS[:-2])
    equal = 1 / len(reference) if len(reference) else np.nan
    table["importance"] = [
        float((importance or {}).get(n, equal if not importance else 0.0)) for n in table["feature"]
    ]
    verdicts = [feature_status(r, thresholds) for r in table.to_dict("records")]
    table["status"] = [v[0] for v in verdicts]
    table["reason"] = [v[1] for v in verdicts]
    return table


def importance_shares(points: pd.DataFrame) -> dict[str, float]:
    """Each feature's share of the mean absolute contribution (`ScoringModel.explain(...).points`):
    how much of the model's scores it moves, whatever the model kind."""
    weight = points.abs().mean()
    total = float(weight.sum())
    if not total > 0:
        return {str(k): 1 / len(weight) for k in weight.index} if len(weight) else {}
    return {str(k): float(v / total) for k, v in weight.items()}


# ------------------------------------------------------------------------------ scores


def score_profile(probability: np.ndarray, bands: np.ndarray | None = None) -> dict:
    """The reference distribution of calibrated probabilities (1001 quantiles, so a band's share
    can be read under any cut) and, when given, the share in each band."""
    out = numeric_profile(pd.Series(np.asarray(probability, dtype=float)), SCORE_QUANTILES)
    if bands is not None:
        shares = pd.Series(np.asarray(bands, dtype=object)).value_counts(normalize=True)
        out["bands"] = {str(k): float(v) for k, v in shares.items()}
    return out


def band_cuts(probability: np.ndarray, bands: np.ndarray) -> list[tuple[str, float]]:
    """The bands of one scoring run as `(band, lowest probability in it)`, lowest band first.

    Bands are whatever the scoring run named them (read from the `scores` table): each is a range
    of probabilities, so its lowest member is where it starts."""
    frame = pd.DataFrame({"p": np.asarray(probability, dtype=float), "band": bands})
    starts = frame.groupby("band", sort=False)["p"].min().sort_values()
    cuts = [(str(b), float(lo)) for b, lo in starts.items()]
    return [(cuts[0][0], 0.0), *cuts[1:]] if cuts else []


def shares_under(reference: dict, cuts: Sequence[tuple[str, float]]) -> dict[str, float]:
    """The reference's share in each band of `cuts` (its quantile function read at the cuts)."""
    q = np.asarray(reference.get("quantiles", []), dtype=float)
    if not len(q) or not cuts:
        return {}
    below = [min(np.searchsorted(q, lo, side="left") / (len(q) - 1), 1.0) for _, lo in cuts]
    below.append(1.0)
    below[0] = 0.0
    return {band: float(below[i + 1] - below[i]) for i, (band, _) in enumerate(cuts)}


def score_drift(
    reference: dict,
    probability: np.ndarray,
    bands: np.ndarray,
    thresholds: Thresholds = DEFAULTS,
) -> dict:
    """PSI of the probabilities, the mean against the reference's, and band shares now and in the
    reference period under today's cuts (or the shares stored with the reference when it cannot
    be read at them)."""
    p = np.asarray(probability, dtype=float)
    drift = numeric_drift(reference, pd.Series(p), thresholds.chance)
    now = pd.Series(np.asarray(bands, dtype=object)).value_counts(normalize=True)
    then = shares_under(reference, band_cuts(p, np.asarray(bands, dtype=object))) if len(p) else {}
    alert = max(thresholds.score_psi_alert, drift["psi_chance"] or 0.0)
    shifted = bool(np.isfinite(drift["psi"]) and drift["psi"] >= alert)
    return {
        "psi": drift["psi"],
        "psi_chance": drift["psi_chance"],
        "wasserstein": drift["wasserstein"],
        "rows": int(len(p)),
        "mean": float(p.mean()) if len(p) else np.nan,
        "mean_reference": float(reference.get("mean", np.nan)),
        "bands_reference": then or dict(reference.get("bands", {})),
        "bands": {str(k): float(v) for k, v in now.items()},
        "status": "alert" if shifted else "ok",
        "reason": (
            f"score distribution shifted (PSI {drift['psi']:.2f} ≥ {alert:.2f}; mean "
            f"{p.mean():.1%} against {reference.get('mean', np.nan):.1%} in the test period)"
            if shifted
            else ""
        ),
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
    auc_se: float = float("nan")  # the realised AUC's standard error (Hanley & McNeil)
    rate_se: float = float("nan")  # binomial SE of the predicted mean
    flags: dict[str, str] = field(default_factory=dict)  # check -> what is wrong


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil's standard error of a ROC AUC measured on these class sizes."""
    if not np.isfinite(auc) or positives < 1 or negatives < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
        positives * negatives
    )
    return float(np.sqrt(max(var, 0.0)))


def realised(
    y: np.ndarray,
    p: np.ndarray,
    backtest_auc_low: float | None = None,
    thresholds: Thresholds = DEFAULTS,
) -> Realised:
    """AUC, Brier and calibration of predictions `p` whose outcomes `y` are now known.

    The AUC is checked against the lower end of the backtest's confidence interval, allowing for
    its own sampling error; calibration against the binomial noise of the predicted mean and the
    ECE a calibrated model would show on these rows."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n = len(y)
    if n == 0:
        nan = float("nan")
        return Realised(0, 0, nan, nan, nan, nan, nan, nan, nan, "ok", ("no matured outcomes",))
    se = float(np.sqrt(np.sum(p * (1 - p)))) / n
    z = (y.mean() - p.mean()) / se if se > 0 else 0.0
    auc = m.roc_auc(y, p)
    positives = int(y.sum())
    floor = float(np.quantile(m.ece_if_calibrated(p, n=200), 0.99))
    result = Realised(
        n,
        positives,
        auc,
        float(np.mean((p - y) ** 2)),
        m.expected_calibration_error(y, p),
        floor,
        float(p.mean()),
        float(y.mean()),
        float(z),
        auc_se=auc_standard_error(auc, positives, n - positives),
        rate_se=se,
    )
    flags = realised_flags(result, backtest_auc_low, thresholds)
    # The signal's reasons: a miscalibrated level shows in the ECE too; it is said once.
    reasons = [flags[k] for k in ("roc_auc", "rate") if k in flags]
    if "ece" in flags and "rate" not in flags:
        reasons.append(flags["ece"])
    status = "alert" if reasons else "ok"
    return Realised(
        **{**result.__dict__, "status": status, "reasons": tuple(reasons)} | {"flags": flags}
    )


def realised_flags(r: Realised, auc_low: float | None, t: Thresholds) -> dict[str, str]:
    """What is wrong with a realised run, per check (`roc_auc`, `rate`, `ece`); {} below
    `min_outcomes` matured predictions."""
    if r.n < t.min_outcomes:
        return {}
    flags = {}
    margin = t.auc_z * r.auc_se if np.isfinite(r.auc_se) else 0.0
    if auc_low is not None and np.isfinite(r.roc_auc) and r.roc_auc + margin < auc_low:
        flags["roc_auc"] = (
            f"realised ROC AUC {r.roc_auc:.3f} (± {r.auc_se:.3f}) is below the backtest's "
            f"interval (≥ {auc_low:.3f})"
        )
    if abs(r.z) >= t.calibration_z:
        flags["rate"] = (
            f"observed rate {r.observed_rate:.1%} against {r.predicted_rate:.1%} predicted "
            f"({r.z:+.1f} standard errors)"
        )
    if r.ece > r.ece_floor:
        flags["ece"] = (
            f"calibration error {r.ece:.3f} above what chance gives a calibrated model "
            f"({r.ece_floor:.3f})"
        )
    return flags


# ------------------------------------------------------------------------------ the verdict


def newer_labels(trained_through: str | None, labelled_through: str | None) -> bool:
    """Whether a cutoff after the champion's last labelled one is labelled (unknown: yes)."""
    if trained_through is None or labelled_through is None:
        return True
    return pd.Timestamp(labelled_through) > pd.Timestamp(trained_through)


@dataclass(frozen=True)
class Signal:
    """The target's verdict: `broken` (fix the data pipeline first), `retrain`, `watch`
    (something moved: too little, or with no newer labels to retrain on) or `ok`, with the
    reasons and the notes."""

    status: str
    needs_retraining: bool
    pipeline_broken: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "needs_retraining": self.needs_retraining,
            "pipeline_broken": self.pipeline_broken,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


def retrain_signal(
    features: pd.DataFrame | None,
    score: Mapping | None,
    realised: tuple[str, Sequence[str]] | None,
    thresholds: Thresholds = DEFAULTS,
    labels: tuple[str | None, str | None] = (None, None),
) -> Signal:
    """Weigh one day's checks: features that stopped arriving (always reported: a pipeline
    problem), shifted features by their share of the model's attributions, the score
    distribution, and what was wrong with the latest judged realised run (`(its as-of date,
    Realised.reasons)`).

    `labels` is (the champion's latest labelled training cutoff, the warehouse's latest labelled
    cutoff). When nothing newer than the champion's is labelled (right after training, or when
    the scored population has aged past the training data before later outcomes are known), a
    retrain would fit the same history again: the reasons to retrain are kept as notes, with
    why, and the status is `watch`."""
    broken, retrain, notes = [], [], []
    if features is not None and len(features):
        for row in features[features["status"] == "broken"].itertuples():
            broken.append(f"{row.feature} {row.reason}")
        shifted = features[features["status"] == "alert"].sort_values("importance", ascending=False)
        weight = float(shifted["importance"].sum())
        named = ", ".join(f"{r.feature} (PSI {r.psi:.2f})" for r in shifted.head(5).itertuples())
        more = f" and {len(shifted) - 5} more" if len(shifted) > 5 else ""
        if len(shifted) and weight >= thresholds.drift_importance:
            retrain.append(
                f"features carrying {weight:.0%} of the model's attributions shifted: {named}{more}"
            )
        elif len(shifted):
            notes.append(
                f"{named}{more} shifted, but carry only {weight:.1%} of the model's attributions "
                f"(retraining from {thresholds.drift_importance:.0%})"
            )
        moved = int((features["status"] == "warn").sum())
        if moved:
            notes.append(f"{moved} feature{'s' if moved > 1 else ''} moved a little (warn)")
    if score is not None and score.get("status") == "alert":
        retrain.append(str(score["reason"]))
    if realised is not None:
        day, reasons = realised
        retrain += [f"predictions of {day}: {reason}" for reason in reasons]
    if retrain and not newer_labels(*labels):
        trained = pd.Timestamp(labels[0])
        notes = [
            *retrain,
            "retraining now would learn from the same labelled history as the champion (its "
            f"latest labelled cutoff, {trained:%Y-%m-%d}, is still the newest): retrain once "
            "later cutoffs' outcomes are known",
            *notes,
        ]
        retrain = []
    status = "broken" if broken else "retrain" if retrain else "watch" if notes else "ok"
    return Signal(status, bool(retrain), bool(broken), tuple(broken + retrain), tuple(notes))
