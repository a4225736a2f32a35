"""The data-quality report flags constant, mostly-null and suspiciously predictive features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.quality import quality_report, single_feature_auc


def test_single_feature_auc_known_values():
    y = pd.Series([0, 0, 1, 1])
    assert single_feature_auc(pd.Series([1.0, 2.0, 3.0, 4.0]), y) == 1.0
    assert single_feature_auc(pd.Series([4.0, 3.0, 2.0, 1.0]), y) == 1.0  # orientation-free
    assert single_feature_auc(pd.Series([1.0, 3.0, 2.0, 4.0]), y) == 0.75
    assert single_feature_auc(pd.Series([5.0, 5.0, 5.0, 5.0]), y) == 0.5
    assert np.isnan(single_feature_auc(pd.Series([1.0, 2.0]), pd.Series([1, 1])))


def test_report_flags():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    frame = pd.DataFrame(
        {
            "label": y,
            "noise": rng.normal(size=400),
            "leak": y + rng.normal(scale=0.01, size=400),
            "constant": 3.0,
            "sparse": np.where(rng.random(400) < 0.98, np.nan, 1.0),
            "segment": pd.Series(np.where(y == 1, "a", "b"), dtype="string"),
            "flag": pd.Series(rng.random(400) < 0.5, dtype="boolean"),
        }
    )
    names = ["noise", "leak", "constant", "sparse", "segment", "flag"]
    report = quality_report(frame, "label", names).set_index("feature")
    assert list(report.columns) == ["null_rate", "n_distinct", "single_feature_auc", "flags"]
    assert report.loc["noise", "flags"] == ""
    assert report.loc["leak", "flags"] == "suspiciously_predictive"
    assert report.loc["segment", "flags"] == "suspiciously_predictive"  # categories work too
    assert report.loc["constant", "flags"] == "constant"
    assert "mostly_null" in report.loc["sparse", "flags"]
    assert report.loc["sparse", "null_rate"] == pytest.approx(frame["sparse"].isna().mean())
    assert report.loc["flag", "n_distinct"] == 2
