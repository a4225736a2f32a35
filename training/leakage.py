"""Leaky-feature detection: features that predict the label almost on their own.

Uses `features.quality.quality_report` (its `suspiciously_predictive` flag) when the features room
provides it; otherwise the same test here: single-feature ROC AUC (categoricals target-encoded with
two-fold cross-fitting so rare levels cannot memorise the label) at or beyond `threshold`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.guards import leaky_features
from training.metrics import roc_auc

THRESHOLD = 0.9


def _encoded(values: pd.Series, y: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Numeric view of one feature: numbers as they are, categories by cross-fitted label rate."""
    if kind != "categorical":
        x = pd.to_numeric(values.astype("object"), errors="coerce").to_numpy(float)
        return np.where(np.isnan(x), np.nanmedian(x) if np.isfinite(x).any() else 0.0, x)
    levels = values.astype("object").fillna("(missing)").astype(str).to_numpy()
    fold = np.random.default_rng(seed).permutation(len(y)) % 2
    out = np.full(len(y), y.mean())
    for k in (0, 1):
        rates = pd.Series(y[fold != k]).groupby(levels[fold != k]).mean()
        out[fold == k] = pd.Series(levels[fold == k]).map(rates).fillna(y.mean()).to_numpy()
    return out


def single_feature_auc(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Per feature: how well it alone ranks the label (max of AUC and 1 - AUC)."""
    y = frame["label"].to_numpy(int)
    rows = []
    for name, kind in kinds.items():
        auc = roc_auc(y, _encoded(frame[name], y, kind))
        rows.append({"feature": name, "auc": max(auc, 1 - auc)})
    return pd.DataFrame(rows)


def suspicious_features(
    frame: pd.DataFrame, kinds: dict[str, str], threshold: float = THRESHOLD
) -> list[str]:
    """Names of features flagged as suspiciously predictive of `frame['label']`."""
    try:
        from features.quality import quality_report
    except ImportError:
        table = single_feature_auc(frame, kinds)
        return sorted(table.loc[table["auc"] >= threshold, "feature"].tolist())
    return leaky_features(quality_report(frame, "label", list(kinds)))
