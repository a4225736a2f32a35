"""Evaluation metrics on (label, probability) arrays: discrimination, calibration, lift, capture."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

EPS = 1e-6


def _both_classes(y: np.ndarray) -> bool:
    return len(np.unique(y)) == 2


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present."""
    return float(roc_auc_score(y, p)) if _both_classes(y) else float("nan")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Count-weighted mean |observed rate - mean predicted| over equal-width probability bins.

    The same bins as `reliability_curve`, summed with `np.bincount` (the noise floor calls it
    hundreds of times).

    >>> expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0]))
    0.0
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if not len(p):
        return float("nan")
    which = _bin_of(p, bins)
    gap = np.bincount(which, weights=y, minlength=bins) - np.bincount(which, p, minlength=bins)
    return float(np.abs(gap).sum() / len(p))


def _bin_of(p: np.ndarray, bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)


def ece_if_calibrated(
    p: np.ndarray, groups: np.ndarray | None = None, *, n: int = 200, seed: int = 0
) -> np.ndarray:
    """ECEs a perfectly calibrated model would score here: `n` outcome draws from `p` itself.

    The ECE of a finite test set is not 0 even for true probabilities; this is its noise floor.
    Rows of one group (the snapshots of one deal) share one uniform draw, so their outcomes move
    together as the real ones do, which widens the floor towards the number of groups.
    """
    p = np.asarray(p, dtype=float)
    codes = np.arange(len(p)) if groups is None else pd.factorize(np.asarray(groups))[0]
    rng = np.random.default_rng(seed)
    size = int(codes.max()) + 1 if len(codes) else 0
    return np.array([expected_calibration_error(rng.random(size)[codes] < p, p) for _ in range(n)])


def reliability_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per non-empty bin: mean predicted probability, observed rate and count."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    which = _bin_of(p, bins)
    frame = pd.DataFrame({"bin": which, "y": y, "p": p})
    table = frame.groupby("bin").agg(
        predicted=("p", "mean"), observed=("y", "mean"), count=("y", "size")
    )
    return table.reset_index()


def top_fraction_mask(p: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the `fraction` highest-scored rows (ties broken by position, stable)."""
    n = len(p)
    k = int(np.ceil(n * fraction))
    order = np.argsort(-np.asarray(p), kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def lift_and_capture(y: np.ndarray, p: np.ndarray, fraction: float = 0.1) -> tuple[float, float]:
    """(lift, capture) in the top `fraction`: rate there / overall rate; share of positives."""
    y = np.asarray(y, dtype=float)
    if y.sum() == 0:
        return float("nan"), float("nan")
    top = top_fraction_mask(p, fraction)
    return float(y[top].mean() / y.mean()), float(y[top].sum() / y.sum())


def value_capture(y: np.ndarray, p: np.ndarray, value: np.ndarray, fraction: float) -> float:
    """Share of the positives' total value (e.g. churned ARR) in the top `fraction` by score."""
    lost = np.asarray(y, dtype=float) * np.nan_to_num(np.asarray(value, dtype=float))
    if lost.sum() <= 0:
        return float("nan")
    return float(lost[top_fraction_mask(p, fraction)].sum() / lost.sum())


def lift_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Cumulative capture and lift by decile of score (riskiest first)."""
    rows = []
    for k in range(1, bins + 1):
        lift, capture = lift_and_capture(y, p, k / bins)
        rows.append({"fraction": k / bins, "lift": lift, "capture": capture})
    return pd.DataFrame(rows)


def score_bands(
    y: np.ndarray, p: np.ndarray, edges: tuple[float, ...] = (0, 0.2, 0.4, 0.6, 0.8, 1)
) -> pd.DataFrame:
    """Observed rate (e.g. win rate) per band of calibrated score."""
    band = pd.cut(np.asarray(p), bins=list(edges), include_lowest=True)
    frame = pd.DataFrame({"band": band.astype(str), "y": np.asarray(y, dtype=float), "p": p})
    table = frame.groupby("band", sort=False).agg(
        count=("y", "size"), observed=("y", "mean"), predicted=("p", "mean")
    )
    return table.reset_index().sort_values("band", kind="stable").reset_index(drop=True)


def core_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, log loss, Brier, ECE, and top-decile lift and capture."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    two = _both_classes(y)
    lift, capture = lift_and_capture(y, p, 0.1)
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": float(average_precision_score(y, p)) if two else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "lift_top10": lift,
        "capture_top10": capture,
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "rows": float(len(y)),
    }


def weighted_auc(groups: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """ROC AUC with row weights, ties counted half (Mann-Whitney); NaN without both classes.

    `groups` are the rows' dense score ranks (equal scores share one), so the AUC is a few
    linear passes instead of a sort.

    >>> weighted_auc(np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([1.0, 1.0, 2.0]))
    0.75
    """
    size = int(groups.max()) + 1 if len(groups) else 0
    pos = np.bincount(groups, weights=weights * (y == 1), minlength=size)
    neg = np.bincount(groups, weights=weights * (y == 0), minlength=size)
    pairs = pos.sum() * neg.sum()
    if pairs == 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / pairs)


def bootstrap_auc(
    y: np.ndarray,
    p: np.ndarray,
    *,
    n: int = 200,
    seed: int = 0,
    level: float = 0.95,
    clusters: np.ndarray | None = None,
    folds: np.ndarray | None = None,
    draws: bool = False,
) -> tuple[float, float] | np.ndarray:
    """Percentile bootstrap confidence interval for ROC AUC (the resampled AUCs themselves with
    `draws`, for intervals at several levels from one resampling).

    Resamples rows, or with `clusters` whole entities (an account's rows at several cutoffs, a
    deal's snapshots), whose rows share an outcome history and are not independent. With `folds`
    the statistic is the mean over folds of each fold's AUC (what a backtest reports): ranking
    rows of different folds against each other would count the outcome rate moving between
    periods as skill. A resample is scored as row multiplicities over the once-ranked scores
    (`weighted_auc`), which equals `roc_auc_score` on the resampled rows without sorting them
    again.

    A resample that leaves a fold with no positive (or no negative) entity has nothing to rank
    there, so that fold counts as chance (0.5). Dropping such draws would keep only the resamples
    that happened to draw the few entities with the outcome, and the interval would claim they
    are always there (with one churned account among 66, a third of the draws miss it). Folds
    with nothing to rank in the data itself are left out, as the point estimate leaves them out.
    """
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    if len(y) == 0:
        return np.array([]) if draws else (float("nan"), float("nan"))
    fold = np.zeros(len(y), dtype=int) if folds is None else pd.factorize(np.asarray(folds))[0]
    parts = []
    for f in range(int(fold.max()) + 1):
        rows = np.flatnonzero(fold == f)
        if 0 < y[rows].sum() < len(rows):  # both classes: the fold has an AUC
            parts.append((rows, np.unique(p[rows], return_inverse=True)[1].ravel(), y[rows]))
    if not parts:
        return np.full(n, np.nan) if draws else (float("nan"), float("nan"))
    codes = np.arange(len(y)) if clusters is None else pd.factorize(np.asarray(clusters))[0]
    size = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(n):
        weights = np.bincount(rng.integers(0, size, size), minlength=size)[codes]
        per_fold = [weighted_auc(g, y_f, weights[rows]) for rows, g, y_f in parts]
        aucs.append(float(np.mean(np.nan_to_num(per_fold, nan=0.5))))
    return np.array(aucs) if draws else percentile_interval(np.array(aucs), level)


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of bootstrap draws (NaN draws ignored)."""
    draws = draws[~np.isnan(draws)]
    if not len(draws):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def by_group(y: np.ndarray, p: np.ndarray, groups: pd.Series, min_rows: int = 20) -> pd.DataFrame:
    """Core metrics per group value (groups with fewer than `min_rows` rows are left out)."""
    rows = []
    values = groups.astype("object").fillna("(missing)").to_numpy()
    for value in pd.unique(values):
        mask = values == value
        if mask.sum() >= min_rows:
            rows.append(
                {"group": str(value), **core_metrics(np.asarray(y)[mask], np.asarray(p)[mask])}
            )
    return pd.DataFrame(rows)


def summarise_folds(per_fold: list[dict[str, float]]) -> dict[str, float]:
    """`<metric>_mean` and `<metric>_std` over backtest folds."""
    frame = pd.DataFrame(per_fold)
    out = {}
    for column in frame.columns:
        out[f"{column}_mean"] = float(frame[column].mean())
        out[f"{column}_std"] = float(frame[column].std(ddof=1)) if len(frame) > 1 else 0.0
    return out
