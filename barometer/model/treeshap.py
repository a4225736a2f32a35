"""TreeSHAP values: LightGBM's native `pred_contrib`, and an independent reference through shap.

`tree_shap` is what everything uses (fast, exact, in log-odds). `shap_reference` re-expresses the
booster's trees in shap's own tree format and runs `shap.TreeExplainer`'s C++ algorithm on them, so
the test comparing the two checks two independent implementations (`shap.TreeExplainer(booster)`
would simply call `pred_contrib` back).
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel


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


@dataclass(frozen=True)
class TreeUpdate:
    """One tree's moved rows: `samples` are encoded rows (positions in the matrix given to
    `update_contributions`), one per distinct pattern of sides of the tree's thresholds;
    `before`/`after` give each moved row's old and new pattern."""

    tree: int
    rows: np.ndarray  # positions in the contributions being updated
    columns: np.ndarray  # the features the tree splits on (its other contributions are zero)
    samples: np.ndarray  # (distinct patterns,) rows of the matrix realising each pattern
    before: np.ndarray  # (len(rows),) indexes into samples
    after: np.ndarray


SMALL_CALL = 2_000  # rows; below this a per-tree call runs on one thread (no OpenMP fork/join)


def tree_contributions(model: ScoringModel, matrix: np.ndarray, tree: int) -> np.ndarray:
    """One tree's TreeSHAP log-odds for encoded rows, shape (n, features + 1), bias last.

    Summed over every tree this is `pred_contrib` of the whole model (TreeSHAP is additive over
    the trees of an ensemble), bias column included.
    """
    threads = model.num_threads if len(matrix) >= SMALL_CALL else 1
    return model.booster.predict(
        matrix, pred_contrib=True, start_iteration=tree, num_iteration=1, num_threads=threads
    )


T = TypeVar("T")
_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def kept_with(booster: lgb.Booster, kind: str, build: Callable[[], T]) -> T:
    """`build()` for `booster`, made on first use and kept (per `kind`) while the booster lives."""
    with _KEPT_LOCK:
        kept = _KEPT.setdefault(booster, {})
        if kind not in kept:
            kept[kind] = build()
        return kept[kind]


@dataclass
class _Copies:
    idle: queue.SimpleQueue  # copies not in use
    made: int = 0


def idle_copies(model: ScoringModel, count: int) -> queue.SimpleQueue:
    """A queue of copies of the model's booster (at least `count` made), kept with the booster.

    Callers take a copy for a per-tree call and put it back. The model's own booster is never
    among them, so request paths predicting with it are not disturbed.
    """
    copies = kept_with(model.booster, "copies", lambda: _Copies(queue.SimpleQueue()))
    with _KEPT_LOCK:
        if copies.made < count:
            text = model.booster.model_to_string()
            for _ in range(count - copies.made):
                copies.idle.put(lgb.Booster(model_str=text))
            copies.made = count
    return copies.idle


def update_contributions(
    model: ScoringModel,
    contributions: np.ndarray,
    matrix: np.ndarray,
    trees: list[TreeUpdate],
) -> np.ndarray:
    """`contributions` with, for each `TreeUpdate`, φ_t(old row) replaced by φ_t(new row).

    TreeSHAP runs once per distinct pattern (one booster call per tree, on rows of `matrix`).
    """
    return apply_updates(model, contributions, matrix, [partial(_given, u) for u in trees])[0]


def _given(update: TreeUpdate) -> TreeUpdate:
    return update


def apply_updates(
    model: ScoringModel,
    contributions: np.ndarray,
    matrix: np.ndarray,
    makers: list[Callable[[], TreeUpdate]],
) -> tuple[np.ndarray, int]:
    """`update_contributions` for updates built by `makers`, and the TreeSHAP rows evaluated.

    With `model.num_threads` > 1, trees are built and explained on that many threads (one
    LightGBM thread and one of `idle_copies` each), so one tree's pattern search overlaps another's
    TreeSHAP; the results are added in tree order either way.
    """
    out = contributions.copy()
    width = out.shape[1]
    flat = out.reshape(-1)
    threads = min(model.num_threads, len(makers))
    idle = idle_copies(model, threads) if threads > 1 else None

    def explained(make: Callable[[], TreeUpdate]) -> tuple[TreeUpdate, np.ndarray]:
        update = make()
        if threads <= 1:
            phi = tree_contributions(model, matrix[update.samples], update.tree)
            return update, phi[:, update.columns]
        booster = idle.get()
        try:
            phi = booster.predict(
                matrix[update.samples],
                pred_contrib=True,
                start_iteration=update.tree,
                num_iteration=1,
                num_threads=1,
            )
        finally:
            idle.put(booster)
        return update, phi[:, update.columns]

    evaluated = 0
    with ThreadPoolExecutor(max(threads, 1)) as pool:
        results = pool.map(explained, makers) if threads > 1 else map(explained, makers)
        for update, phi in results:
            cells = update.rows[:, None] * width + update.columns  # rows distinct within a tree
            flat[cells] += phi[update.after] - phi[update.before]
            evaluated += len(update.samples)
    return out, evaluated
