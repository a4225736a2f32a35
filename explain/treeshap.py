"""TreeSHAP values: LightGBM's native `pred_contrib`, and an independent reference through shap.

`tree_shap` is what everything uses (fast, exact, in log-odds). `shap_reference` re-expresses the
booster's trees in shap's own tree format and runs `shap.TreeExplainer`'s C++ algorithm on them, so
the test comparing the two checks two independent implementations (`shap.TreeExplainer(booster)`
would simply call `pred_contrib` back).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explain.model import ScoringModel


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
    """The same values computed by shap's own TreeSHAP implementation (slow; for checking)."""
    import shap

    explainer = shap.TreeExplainer(shap_trees(model), feature_perturbation="tree_path_dependent")
    values = explainer.shap_values(model.matrix(frame), check_additivity=False)
    phi = pd.DataFrame(values, columns=model.feature_names, index=frame.index)
    return phi, float(np.ravel(explainer.expected_value)[0])


def tree_contributions(model: ScoringModel, matrix: np.ndarray, tree: int) -> np.ndarray:
    """One tree's TreeSHAP log-odds for encoded rows, shape (n, features + 1), bias last.

    Summed over every tree this is `pred_contrib` of the whole model (TreeSHAP is additive over
    the trees of an ensemble), bias column included.
    """
    return model.booster.predict(
        matrix,
        pred_contrib=True,
        start_iteration=tree,
        num_iteration=1,
        num_threads=model.num_threads,
    )


def update_contributions(
    model: ScoringModel,
    contributions: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    trees: np.ndarray,
) -> np.ndarray:
    """`contributions` of the `old` rows brought to the `new` rows, tree by tree.

    `trees` (rows × trees, bool) marks the trees whose contributions moved for each row; for
    those, φ_t(old) is replaced by φ_t(new). One booster call per tree (old and new rows stacked).
    """
    out = contributions.copy()
    for tree, flags in enumerate(trees.T):
        rows = np.flatnonzero(flags)
        if not len(rows):
            continue
        both = tree_contributions(model, np.concatenate([new[rows], old[rows]]), tree)
        out[rows] += both[: len(rows)] - both[len(rows) :]
    return out
