"""LightGBM's native TreeSHAP against an independent implementation (shap's own algorithm)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.model.encoder import FeatureEncoder


def tree_shap(model: ScoringModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Per-feature TreeSHAP log-odds for `frame` and the model's base value (expected log-odds)."""
    contrib = model.contributions(frame)
    phi = pd.DataFrame(contrib[:, :-1], columns=model.feature_names, index=frame.index)
    return phi, float(contrib[0, -1]) if len(contrib) else float("nan")


def _flatten(node: dict, out: dict[str, list]) -> int:
    """Append `node` and its subtree to the parallel arrays in `out`; return its index."""
    index = len(out["features"])
    for key in out:
        out[key].append(-1 if key != "values" and key != "thresholds" else 0.0)
    if "leaf_value" in node:
        out["values"][index] = node["leaf_value"]
        out["node_sample_weight"][index] = node.get("leaf_count", 0)
        out["features"][index] = -1
        return index
    if node.get("decision_type", "<=") != "<=":
        raise ValueError("shap_reference supports numeric splits only (no categorical features).")
    out["features"][index] = node["split_feature"]
    out["thresholds"][index] = node["threshold"]
    out["node_sample_weight"][index] = node["internal_count"]
    out["values"][index] = node.get("internal_value", 0.0)
    left = _flatten(node["left_child"], out)
    right = _flatten(node["right_child"], out)
    out["children_left"][index] = left
    out["children_right"][index] = right
    out["children_default"][index] = left if node.get("default_left", True) else right
    return index


def shap_trees(model: ScoringModel) -> dict:
    """The booster's trees in shap's dictionary format (numeric splits only)."""
    trees = []
    for info in model.booster.dump_model()["tree_info"]:
        keys = ("children_left", "children_right", "children_default", "features")
        floats = ("thresholds", "values", "node_sample_weight")
        out: dict[str, list] = {k: [] for k in (*keys, *floats)}
        _flatten(info["tree_structure"], out)
        tree = {k: np.asarray(out[k], dtype=np.int32) for k in keys}
        tree["thresholds"] = np.asarray(out["thresholds"], dtype=float)
        tree["values"] = np.asarray(out["values"], dtype=float).reshape(-1, 1)
        tree["node_sample_weight"] = np.asarray(out["node_sample_weight"], dtype=float)
        trees.append(tree)
    return {"trees": trees, "base_offset": 0.0, "tree_output": "raw_value", "objective": "identity"}


def shap_reference(model: ScoringModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """The same values computed by shap's own TreeSHAP implementation: the booster's trees
    re-expressed in shap's tree format and run through `shap.TreeExplainer`'s C++ algorithm, so
    two independent implementations are compared (`shap.TreeExplainer(booster)` would simply
    call `pred_contrib` back)."""
    import shap

    explainer = shap.TreeExplainer(shap_trees(model), feature_perturbation="tree_path_dependent")
    values = explainer.shap_values(model.matrix(frame), check_additivity=False)
    phi = pd.DataFrame(values, columns=model.feature_names, index=frame.index)
    return phi, float(np.ravel(explainer.expected_value)[0])


def test_pred_contrib_agrees_with_shap_tree_explainer_to_1e_6() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1500, 5)), columns=list("abcde"))
    frame["b"] = frame["b"].round(1)  # ties on thresholds exercise the <= rule
    logit = frame["a"] - frame["b"] * frame["c"] + 0.5 * frame["d"]
    label = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 15, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(frame.to_numpy(), label), 40)
    model = ScoringModel(
        "churn", FeatureEncoder(dict.fromkeys("abcde", "numeric")).fit(frame), booster
    )
    rows = frame.head(300)
    ours, base = tree_shap(model, rows)
    theirs, their_base = shap_reference(model, rows)
    assert np.abs(ours.to_numpy() - theirs.to_numpy()).max() < 1e-6
    assert abs(base - their_base) < 1e-6
    np.testing.assert_allclose(base + ours.sum(axis=1), model.raw_score(rows), atol=1e-9)
