"""Scores with reasons for many entities at once, and incremental rescoring.

Speed comes from design (TreeSHAP itself runs at LightGBM's speed): explain only what is served
(the top reasons each way), and rescore only what can have changed since the last scoring.

A tree model reads a feature only through its split thresholds, so two rows that fall on the same
side of every threshold (`split_bins`) get the same probability and the same SHAP values, exactly.
`rescore_incremental` therefore runs TreeSHAP only on rows whose bins moved (or that are new),
re-words the reasons of rows whose raw values moved within their bins (the sentences show the
values), and reuses every other row of the previous scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explain.common import Registry, feature_info, lookup
from explain.model import ScoringModel
from explain.reasons import sentence

SCORE_COLUMNS = ("probability", "reasons_up", "reasons_down")
ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at or below it counts as zero


@dataclass(frozen=True)
class Scoring:
    """A scoring with what the next incremental run needs to reuse its rows."""

    scores: pd.DataFrame  # key, probability, reasons_up, reasons_down
    points: np.ndarray  # (n, features) probability points, aligned with `scores`
    matrix: np.ndarray  # (n, features) the booster's input for the scored rows
    labels: np.ndarray  # (n, categorical features) raw values at `categorical_positions`
    bins: np.ndarray  # (n, features) `split_bins` of `matrix`


def categorical_names(model: ScoringModel) -> list[str]:
    return [name for name in model.feature_names if name in model.categories]


def categorical_positions(model: ScoringModel) -> list[int]:
    return [j for j, name in enumerate(model.feature_names) if name in model.categories]


def split_thresholds(model: ScoringModel) -> list[np.ndarray | None]:
    """Each feature's sorted numeric split thresholds; None where a split compares categories."""
    found: list[set | None] = [set() for _ in model.feature_names]
    stack = [t["tree_structure"] for t in model.booster.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" not in node:
            continue
        j = node["split_feature"]
        if node.get("decision_type", "<=") != "<=":
            found[j] = None
        elif found[j] is not None:
            found[j].add(float(node["threshold"]))
        stack += [node["left_child"], node["right_child"]]
    return [None if f is None else np.array(sorted(f)) for f in found]


def split_bins(matrix: np.ndarray, thresholds: list[np.ndarray | None]) -> np.ndarray:
    """Per feature, which side of each split threshold a value falls on (`x <= t` goes left).

    Zero and missing values get bins of their own (LightGBM may route them by a default
    direction), and a categorical feature's bin is its code, so equal bins mean equal outputs.
    """
    bins = np.empty(matrix.shape, dtype=np.int64)
    for j, cuts in enumerate(thresholds):
        x = matrix[:, j]
        if cuts is None:
            bins[:, j] = np.where(np.isnan(x), -1, np.nan_to_num(x) + 1)
            continue
        side = np.searchsorted(cuts, x, side="left") * 2 + (np.abs(x) <= ZERO)
        bins[:, j] = np.where(np.isnan(x), -1, side)
    return bins


def _sentences(model, features, values: np.ndarray, points: np.ndarray, cols: np.ndarray):
    """Sentences for the chosen columns of each row (skipping zero-point columns)."""
    names = model.feature_names
    infos = [feature_info(features, n) for n in names]
    out = []
    for i in range(len(points)):
        row = [j for j in cols[i] if points[i, j] != 0]
        out.append([sentence(infos[j], values[i, j], points[i, j], model.target) for j in row])
    return out


def word_reasons(
    model: ScoringModel, points: np.ndarray, values: np.ndarray, registry, top: int
) -> tuple[list, list]:
    """The top `top` reason sentences raising and lowering each row, from its points."""
    k = min(top, points.shape[1])
    order = np.argsort(-points, axis=1, kind="stable")
    up, down = order[:, :k], order[:, ::-1][:, :k]
    up = np.where(np.take_along_axis(points, up, 1) > 0, up, -1)
    down = np.where(np.take_along_axis(points, down, 1) < 0, down, -1)
    features = lookup(registry)
    padded = np.column_stack([points, np.zeros(len(points))])  # column -1 = "no reason"
    return (
        _sentences(model, features, values, padded, up),
        _sentences(model, features, values, padded, down),
    )


def score_rows(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry | None = None,
    *,
    key: str = "account_id",
    top: int = 3,
) -> Scoring:
    """`score_with_reasons`, keeping what an incremental run compares and reuses."""
    matrix = model.matrix(frame)
    explanation = model.explain_matrix(matrix)
    values = frame.reindex(columns=model.feature_names).to_numpy(dtype=object)
    up, down = word_reasons(model, explanation.point_values, values, registry, top)
    scores = pd.DataFrame(
        {
            key: frame[key].to_numpy(),
            "probability": explanation.probability,
            "reasons_up": up,
            "reasons_down": down,
        }
    )
    bins = split_bins(matrix, split_thresholds(model))
    labels = values[:, categorical_positions(model)]
    return Scoring(scores, explanation.point_values, matrix, labels, bins)


def score_with_reasons(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry | None = None,
    *,
    key: str = "account_id",
    top: int = 3,
) -> pd.DataFrame:
    """One row per entity: key, probability, and the top `top` reason sentences each way."""
    return score_rows(model, frame, registry, key=key, top=top).scores


def entities_with_new_events(
    events: pd.DataFrame, since: pd.Timestamp, *, key: str = "account_id"
) -> set:
    """Entities with an event recorded at or after `since` (by `logged_at`, else `occurred_at`)."""
    stamp = events["occurred_at"]
    if "logged_at" in events.columns:
        stamp = events["logged_at"].fillna(stamp)
    return set(events.loc[stamp >= pd.Timestamp(since), key])


@dataclass(frozen=True)
class Plan:
    """Which rows of the current frame an incremental run explains, re-words or reuses."""

    explain: np.ndarray  # positions in the current frame: bins moved, or never scored
    reword: np.ndarray  # positions: values moved within their bins
    reuse: np.ndarray  # positions: nothing moved
    previous: np.ndarray  # for each current row, its position in the previous scoring (-1: none)


def plan_rescoring(
    model: ScoringModel,
    previous: Scoring,
    keys: np.ndarray,
    current: Scoring,
    key: str,
    top: int,
) -> Plan:
    """Compare the current rows (`current`: matrix, labels, bins) with the previous scoring's.

    A row whose bins did not move keeps its points, so its top reasons are the same features; it
    is re-worded only when one of those features' values moved (the sentence shows the value).
    """
    before = pd.Index(previous.scores[key]).get_indexer(keys)
    known = before >= 0
    safe = np.where(known, before, 0)
    moved = known & (previous.bins[safe] != current.bins).any(axis=1)
    old = previous.matrix[safe]
    differs = (old != current.matrix) & ~(np.isnan(old) & np.isnan(current.matrix))
    for c, j in enumerate(categorical_positions(model)):  # unknown levels all encode as NaN
        differs[:, j] |= previous.labels[safe, c].astype(str) != current.labels[:, c].astype(str)
    candidates = np.flatnonzero(known & ~moved & differs.any(axis=1))
    order = np.argsort(-previous.points[safe[candidates]], axis=1, kind="stable")
    k = min(top, order.shape[1])
    shown = np.concatenate([order[:, :k], order[:, ::-1][:, :k]], axis=1)
    reworded = np.zeros(len(keys), dtype=bool)
    reworded[candidates] = np.take_along_axis(differs[candidates], shown, 1).any(axis=1)
    positions = np.arange(len(keys))
    return Plan(
        explain=positions[~known | moved],
        reword=positions[reworded],
        reuse=positions[known & ~moved & ~reworded],
        previous=before,
    )


def rescore_incremental(
    model: ScoringModel,
    frame: pd.DataFrame,
    previous: Scoring,
    registry: Registry | None = None,
    *,
    key: str = "account_id",
    top: int = 3,
) -> tuple[Scoring, Plan]:
    """The previous scoring brought up to date with `frame` (current features of every entity).

    Equal to `score_rows(model, frame)` row for row, running TreeSHAP only on rows whose split
    bins moved or that are new, and re-wording only rows where a shown reason's value moved;
    entities no longer in `frame` are dropped.
    """
    matrix = model.matrix(frame)
    labels = frame.reindex(columns=categorical_names(model)).to_numpy(dtype=object)
    bins = split_bins(matrix, split_thresholds(model))
    keys = frame[key].to_numpy()
    current = Scoring(frame, matrix, matrix, labels, bins)
    plan = plan_rescoring(model, previous, keys, current, key, top)
    points, probability = np.empty(matrix.shape), np.empty(len(frame))
    kept = np.concatenate([plan.reword, plan.reuse])
    points[kept] = previous.points[plan.previous[kept]]
    probability[kept] = previous.scores["probability"].to_numpy()[plan.previous[kept]]
    if len(plan.explain):
        explanation = model.explain_matrix(matrix[plan.explain])
        points[plan.explain] = explanation.point_values
        probability[plan.explain] = explanation.probability
    sentences = {}
    fresh = np.concatenate([plan.explain, plan.reword])
    values = frame.iloc[fresh].reindex(columns=model.feature_names).to_numpy(dtype=object)
    words = word_reasons(model, points[fresh], values, registry, top)
    for side, worded in zip(("reasons_up", "reasons_down"), words, strict=True):
        column = np.empty(len(frame), dtype=object)
        column[plan.reuse] = previous.scores[side].to_numpy()[plan.previous[plan.reuse]]
        column[fresh] = _as_objects(worded)
        sentences[side] = column
    scores = pd.DataFrame({key: keys, "probability": probability, **sentences})
    return Scoring(scores, points, matrix, labels, bins), plan


def _as_objects(items: list) -> np.ndarray:
    """A list of lists as a 1-D object array (numpy would otherwise make it 2-D)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out
