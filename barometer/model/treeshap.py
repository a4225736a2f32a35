"""Exact TreeSHAP updates for rows whose features changed, and the trees each feature reaches.

A tree model's TreeSHAP values are LightGBM's native `pred_contrib` (`ScoringModel.contributions`;
tests/model/test_treeshap.py checks them against shap's own implementation).

Updates (`update_contributions`): a tree reads a row only through the side of each of its split
thresholds the row falls on, so one tree's TreeSHAP values for a row change only when the row
crosses one of that tree's thresholds (or turns missing or zero, which LightGBM may route by a
default direction). A model's values are the sum of its trees', so a row's values are brought up
to date by replacing, for each tree it crossed, that tree's values for the old row by those for
the new one: φ ← φ − φ_t(old) + φ_t(new). `crossed_trees` finds the (row, tree) pairs from the
thresholds alone; the booster runs only the crossed trees, only on the rows that crossed them.
"""

from __future__ import annotations

import re

import numpy as np

from barometer.model.artefact import ScoringModel

TreeSplits = list[dict[int, np.ndarray | None]]  # per tree: {feature: its sorted thresholds}
ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at or below it counts as zero


def tree_splits(model: ScoringModel) -> TreeSplits:
    """Each tree's numeric split thresholds per feature; None where a split compares categories.

    Read from the booster's model text (the thresholds it predicts with, printed round-trip).
    """
    out: TreeSplits = []
    for block in model.booster.model_to_string().split("\nTree=")[1:]:
        fields = dict(line.split("=", 1) for line in block.split("\n") if "=" in line)
        found: dict[int, np.ndarray | None] = {}
        if "split_feature" in fields:  # a one-leaf tree has no split
            features = np.array(fields["split_feature"].split(), dtype=np.int64)
            thresholds = np.array(fields["threshold"].split(), dtype=float)
            categorical = np.array(fields["decision_type"].split(), dtype=np.int64) & 1 > 0
            for j in np.unique(features).tolist():
                here = features == j
                found[j] = None if categorical[here].any() else np.unique(thresholds[here])
        out.append(found)
    return out


def changed_cells(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(rows, features) bool: the encoded value differs (missing on both sides is no change)."""
    return (before != after) & ~(np.isnan(before) & np.isnan(after))


def crossed_trees(before: np.ndarray, after: np.ndarray, splits: TreeSplits) -> np.ndarray:
    """(rows × trees) bool: the trees whose output may differ between each row's two versions.

    A row crossed a tree when one of the tree's thresholds on a feature lies between the feature's
    old and new value (LightGBM sends `x <= threshold` left), when the feature turned missing or
    zero (or stopped being), or when a categorical feature it splits on changed at all. Each
    feature is compared once for all the trees splitting on it.
    """
    out = np.zeros((len(before), len(splits)), dtype=bool)
    changed = changed_cells(before, after)
    for j, trees in trees_by_feature(splits).items():
        rows = np.flatnonzero(changed[:, j])
        if not len(rows):
            continue
        old, new = before[rows, j], after[rows, j]
        cuts = [splits[t][j] for t in trees]
        if any(c is None for c in cuts):
            out[np.ix_(rows, trees)] = True
            continue
        special = (np.isnan(old) != np.isnan(new)) | (is_zero(old) != is_zero(new))
        every = np.unique(np.concatenate(cuts))
        below = np.zeros((len(trees), len(every) + 1), dtype=np.int64)
        for r, tree_cuts in enumerate(cuts):  # per tree: its thresholds below each global bin
            below[r, 1:] = np.cumsum(np.isin(every, tree_cuts))
        bins_old = np.searchsorted(every, np.nan_to_num(old), side="left")
        bins_new = np.searchsorted(every, np.nan_to_num(new), side="left")
        hit = (below[:, bins_old] != below[:, bins_new]) | special  # (trees, rows)
        hit_trees, hit_rows = np.nonzero(hit)
        out[rows[hit_rows], np.asarray(trees)[hit_trees]] = True
    return out


def is_zero(values: np.ndarray) -> np.ndarray:
    return np.abs(values) <= ZERO


def trees_by_feature(splits: TreeSplits) -> dict[int, list[int]]:
    """The trees splitting on each feature, in tree order."""
    out: dict[int, list[int]] = {}
    for t, tree in enumerate(splits):
        for j in tree:
            out.setdefault(j, []).append(t)
    return out


def update_contributions(
    model: ScoringModel,
    contributions: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    crossed: np.ndarray,
) -> np.ndarray:
    """`contributions` (TreeSHAP log-odds of the `before` rows, bias last) brought up to date with
    the `after` rows: for each tree in `crossed` (rows × trees), that tree's values for the old row
    are replaced by its values for the new one. Equal to `pred_contrib` of `after` (to float
    rounding); a copy, the inputs are not modified."""
    out = contributions.copy()
    for t in np.flatnonzero(crossed.any(axis=0)):
        rows = np.flatnonzero(crossed[:, t])
        pair = np.concatenate([after[rows], before[rows]])
        phi = model.booster.predict(
            pair, pred_contrib=True, start_iteration=int(t), num_iteration=1, num_threads=1
        )
        out[rows] += phi[: len(rows)] - phi[len(rows) :]
    return out


def trees_booster(model: ScoringModel, trees: list[int]):
    """A booster of only the trees `trees` of the model's (renumbered, in order): its raw score is
    the sum of those trees' outputs, so a change that only those trees can see is priced by them
    alone. Built from the model text (LightGBM reads a model without `tree_sizes` in order)."""
    import lightgbm as lgb

    head, blocks, tail = tree_texts(model)
    body = "\n\n\n".join(re.sub(r"^Tree=\d+", f"Tree={i}", blocks[t]) for i, t in enumerate(trees))
    return lgb.Booster(model_str=f"{head}\n{body}\n\n\nend of trees{tail}")


def tree_texts(model: ScoringModel) -> tuple[str, list[str], str]:
    """The model text's header (without `tree_sizes`), each tree's block, and what follows."""
    head, rest = model.booster.model_to_string().split("\nTree=", 1)
    trees, tail = rest.split("end of trees", 1)
    blocks = [b.strip("\n") for b in ("Tree=" + trees).split("\n\n\n") if b.strip()]
    head = "\n".join(line for line in head.split("\n") if not line.startswith("tree_sizes="))
    return head, blocks, tail
