"""LightGBM's native TreeSHAP against an independent implementation (shap's own algorithm)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.model.treeshap import shap_reference, tree_shap


def test_pred_contrib_agrees_with_shap_tree_explainer_to_1e_6() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1500, 5)), columns=list("abcde"))
    frame["b"] = frame["b"].round(1)  # ties on thresholds exercise the <= rule
    logit = frame["a"] - frame["b"] * frame["c"] + 0.5 * frame["d"]
    label = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 15, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(frame.to_numpy(), label), 40)
    model = ScoringModel("churn", list("abcde"), booster)
    rows = frame.head(300)
    ours, base = tree_shap(model, rows)
    theirs, their_base = shap_reference(model, rows)
    assert np.abs(ours.to_numpy() - theirs.to_numpy()).max() < 1e-6
    assert abs(base - their_base) < 1e-6
    np.testing.assert_allclose(base + ours.sum(axis=1), model.raw_score(rows), atol=1e-9)
