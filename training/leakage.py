"""Leaky-feature detection on top of the features room's data-quality report.

`features.quality.quality_report` flags `suspiciously_predictive` features (single-feature AUC
above its own bar, 0.95). Training warns from a lower bar, `guards.leakage_auc` (default 0.9):
a feature that alone ranks the label that well is worth a human look before a model trusts it
(on leads_x_education, the rep-written `Tags` reach 0.92).
"""

from __future__ import annotations

import pandas as pd

from training.guards import leaky_features


def leakage_table(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """The quality report of the feature columns against `frame['label']`."""
    from features.quality import quality_report

    return quality_report(frame, "label", list(kinds))


def suspicious_features(frame: pd.DataFrame, kinds: dict[str, str], auc: float = 0.9) -> list[str]:
    """Features flagged by the quality report or whose single-feature AUC is at least `auc`."""
    report = leakage_table(frame, kinds)
    strong = report.loc[report["single_feature_auc"] >= auc, "feature"].astype(str).tolist()
    return sorted(set(leaky_features(report)) | set(strong))
