"""The data-quality report: constant, mostly-null, or suspiciously predictive features.

A feature that on its own separates the label almost perfectly (single-feature AUC > 0.95) usually
means a leak: something from after the cutoff got into it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MOSTLY_NULL = 0.95
SUSPICIOUS_AUC = 0.95


def _codes(values: pd.Series) -> pd.Series:
    """Numbers to rank: numeric as float, bool as 0/1, categories by their label mean order."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values.astype("Float64"), errors="coerce").astype("float64")
    return values.astype("string").astype(object)


def single_feature_auc(values: pd.Series, label: pd.Series) -> float:
    """Orientation-free AUC of one feature against a 0/1 label: max(auc, 1 - auc).

    Nulls are a value of their own (ranked lowest); categories are ordered by their label rate,
    which is the best a single categorical split can do. NaN when the label has one class.
    """
    y = pd.Series(label).astype("float64").to_numpy()
    x = _codes(pd.Series(values).reset_index(drop=True))
    if x.dtype == object:
        rates = pd.Series(y).groupby(x.fillna("<null>")).transform("mean")
        x = rates.astype("float64")
    x = x.fillna(-np.inf).to_numpy()
    pos, neg = (y == 1).sum(), (y == 0).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pd.Series(x).rank(method="average").to_numpy()
    auc = (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)
    return float(max(auc, 1 - auc))


def quality_report(frame: pd.DataFrame, label: str, feature_names: list[str]) -> pd.DataFrame:
    """One row per feature: null_rate, n_distinct, single_feature_auc and flags
    (`constant`, `mostly_null`, `suspiciously_predictive`, comma-separated; empty if none)."""
    rows = []
    y = frame.get(label)
    for name in feature_names:
        col = frame[name]
        null_rate = float(col.isna().mean()) if len(col) else 1.0
        distinct = int(col.nunique(dropna=True))
        auc = single_feature_auc(col, y) if y is not None and len(col) else float("nan")
        flags = [
            flag
            for flag, on in (
                ("constant", distinct <= 1),
                ("mostly_null", null_rate > MOSTLY_NULL),
                ("suspiciously_predictive", auc > SUSPICIOUS_AUC),
            )
            if on
        ]
        rows.append(
            {
                "feature": name,
                "null_rate": null_rate,
                "n_distinct": distinct,
                "single_feature_auc": auc,
                "flags": ",".join(flags),
            }
        )
    return pd.DataFrame(
        rows, columns=["feature", "null_rate", "n_distinct", "single_feature_auc", "flags"]
    )
