"""Scores with reasons for many entities at once, and incremental rescoring.

Speed comes from design (TreeSHAP itself runs at LightGBM's speed): explain only what is served
(the top reasons each way), and rescore only what can have changed since the last scoring.

A tree model reads a feature only through its split thresholds, so two rows that fall on the same
side of every threshold (`split_bins`) get the same probability and the same SHAP values, exactly.
The same holds tree by tree: one tree's TreeSHAP values for a row depend only on the row's side of
that tree's own thresholds, and a model's values are the sum of its trees'. `rescore_incremental`
therefore keeps the previous log-odds contributions and, for a row whose bins moved, replaces only
the trees whose own thresholds it crossed: φ ← φ − Σ_t φ_t(old row) + Σ_t φ_t(new row), with
TreeSHAP run once per distinct pattern of sides of that tree's thresholds (patterns are keyed
through one lookup per tree; the per-tree calls run on `model.num_threads` threads). New rows get
the whole model. Sentences are formatted again only where a shown reason's feature, value or
printed points moved; every other row of the previous scoring is reused. Wording describes each
(feature, value) once and formats each printed form of the points once.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel, apportion
from barometer.model.treeshap import TreeUpdate, apply_updates, kept_with
from explain.reasons import describe
from explain.wording import Registry, feature_info, format_points, lookup, target_phrase

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
    contributions: np.ndarray  # (n, features + 1) TreeSHAP log-odds, bias last


def categorical_names(model: ScoringModel) -> list[str]:
    return [name for name in model.feature_names if name in model.categories]


def categorical_positions(model: ScoringModel) -> list[int]:
    return [j for j, name in enumerate(model.feature_names) if name in model.categories]


TreeSplits = list[dict[int, np.ndarray | None]]  # per tree: {feature: sorted thresholds}


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


def split_thresholds(
    model: ScoringModel, splits: TreeSplits | None = None
) -> list[np.ndarray | None]:
    """Each feature's sorted split thresholds over all trees; None where a split is categorical."""
    found: list[set | None] = [set() for _ in model.feature_names]
    for tree in tree_splits(model) if splits is None else splits:
        for j, cuts in tree.items():
            if cuts is None:
                found[j] = None
            elif found[j] is not None:
                found[j].update(cuts.tolist())
    return [None if f is None else np.array(sorted(f)) for f in found]


def sides(x: np.ndarray, cuts: np.ndarray | None) -> np.ndarray:
    """Which side of each threshold in `cuts` values fall on (`x <= t` goes left).

    Zero and missing values get sides of their own (LightGBM may route them by a default
    direction); for a categorical feature (`cuts` None) the side is the code itself.
    """
    if cuts is None:
        return np.where(np.isnan(x), -1, np.nan_to_num(x) + 1).astype(np.int64)
    side = np.searchsorted(cuts, x, side="left") * 2 + (np.abs(x) <= ZERO)
    return np.where(np.isnan(x), -1, side)


def split_bins(matrix: np.ndarray, thresholds: list[np.ndarray | None]) -> np.ndarray:
    """`sides` of every feature's thresholds over all trees: equal bins mean equal outputs."""
    bins = np.empty(matrix.shape, dtype=np.int64)
    for j, cuts in enumerate(thresholds):
        bins[:, j] = sides(matrix[:, j], cuts)
    return bins


Tables = list[dict[int, np.ndarray | None]]  # per tree: {feature: bin + 1 → side + 1}


def side_tables(splits: TreeSplits, thresholds: list[np.ndarray | None]) -> Tables:
    """Per tree and feature, a lookup from a value's `split_bins` bin (+1) to its side of that
    tree's own thresholds (+1); None for a categorical feature, whose bin is its side.

    A tree's thresholds are a subset of the feature's thresholds over all trees, so the bin says
    how many of the tree's thresholds lie below the value: no values are read again. The tables
    of one feature are built together, as rows of one array.
    """
    out: Tables = [{} for _ in splits]
    for j, trees in by_feature(splits).items():
        cuts = thresholds[j]
        if cuts is None or any(splits[t][j] is None for t in trees):
            for t in trees:
                out[t][j] = None
            continue
        hits = np.zeros((len(trees), len(cuts) + 1), dtype=np.int64)
        for r, t in enumerate(trees):  # the tree's thresholds among the feature's
            hits[r, 1 + np.searchsorted(cuts, splits[t][j])] = 1
        below = np.cumsum(hits, axis=1)  # per bin of `cuts`: the tree's thresholds at or below
        table = np.zeros((len(trees), 2 * below.shape[1] + 1), dtype=np.int64)  # bin -1 → 0
        table[:, 1::2], table[:, 2::2] = 2 * below + 1, 2 * below + 2  # zero flag off, on
        for r, t in enumerate(trees):
            out[t][j] = table[r]
    return out


def by_feature(splits: TreeSplits | Tables) -> dict[int, list[int]]:
    """The trees splitting on each feature, in tree order."""
    out: dict[int, list[int]] = {}
    for t, tree in enumerate(splits):
        for j in tree:
            out.setdefault(j, []).append(t)
    return out


def tree_sides(bins: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """A feature's bins (`split_bins`) as sides of one tree's thresholds, +1 (>= 0)."""
    return bins + 1 if table is None else table[bins + 1]


def moved_trees(old_bins: np.ndarray, new_bins: np.ndarray, tables: Tables) -> np.ndarray:
    """(rows × trees) bool: the trees on whose own thresholds each row moved.

    Only rows whose bin of a feature moved are compared, on that feature, for all the trees
    splitting on it at once.
    """
    out = np.zeros((len(old_bins), len(tables)), dtype=bool)
    for j, trees in by_feature(tables).items():
        rows = np.flatnonzero(old_bins[:, j] != new_bins[:, j])
        if not len(rows):
            continue
        before, after = old_bins[rows, j] + 1, new_bins[rows, j] + 1
        if tables[trees[0]][j] is None:  # categorical: the bin is the side
            out[np.ix_(rows, trees)] = True
            continue
        stacked = np.stack([tables[t][j] for t in trees])
        crossed = stacked[:, before] != stacked[:, after]  # (trees, rows)
        hit_trees, hit_rows = np.nonzero(crossed)
        out[rows[hit_rows], np.asarray(trees)[hit_trees]] = True
    return out


@dataclass(frozen=True)
class TreeKeys:
    """One tree's pattern lookup: slot `s` maps a row's bin + 1 of feature `columns[s]` to its
    side of the tree's thresholds, times the slot's radix weight when `summed` (a row's pattern
    is then the sum over slots: one integer)."""

    columns: np.ndarray  # the features the tree splits on
    lookup: np.ndarray  # (slots, width): bin + 1 → side (weighted when summed)
    summed: bool  # False: too many combinations for one integer (compare the sides as rows)


def tree_keys(tables: Tables, width: int, *, limit: float = 2**62) -> list[TreeKeys]:
    """`TreeKeys` of every tree from its `side_tables`; `width` exceeds every bin + 1.

    The sides of a tree's features combine in mixed radix, so equal sums mean equal patterns;
    a tree with `limit` or more combinations keeps its sides apart.
    """
    out = []
    for tables_t in tables:
        columns = np.array(sorted(tables_t), dtype=np.int64)
        sides = np.zeros((len(columns), width), dtype=np.int64)
        for s, j in enumerate(columns):
            table = tables_t[int(j)]
            sides[s] = np.arange(width) if table is None else np.resize(table, width)
            if table is not None:
                sides[s, len(table) :] = 0  # bins beyond the table do not occur
        radix = sides.max(axis=1, initial=0) + 1
        summed = float(np.prod(radix.astype(float))) < limit
        if summed:
            weight = np.cumprod(np.concatenate([[1], radix[::-1]]))[:-1][::-1]
            sides = sides * weight[:, None]
        out.append(TreeKeys(columns, sides, summed))
    return out


@dataclass(frozen=True)
class TreeTables:
    """What incremental rescoring reads from a model's trees; built once per booster."""

    splits: TreeSplits
    thresholds: list[np.ndarray | None]
    tables: Tables
    keys: list[TreeKeys]
    width: int  # exceeds every bin + 1 a matrix of the model can give


def tree_tables(model: ScoringModel) -> TreeTables:
    """The model's `TreeTables`, built on first use and kept as long as its booster lives."""
    if model.booster is None:
        raise TypeError(
            f"Incremental rescoring reads a tree model's thresholds; this {model.kind} model is "
            "scored in full (barometer.scoring)."
        )
    return kept_with(model.booster, "tree_tables", partial(build_tree_tables, model))


def build_tree_tables(model: ScoringModel) -> TreeTables:
    """Read the model's trees into `TreeTables`."""
    splits = tree_splits(model)
    thresholds = split_thresholds(model, splits)
    tables = side_tables(splits, thresholds)
    width = 2 + max(
        [2 * len(c) + 1 for c in thresholds if c is not None]
        + [len(levels) for levels in model.categories.values()]
        + [0]
    )
    return TreeTables(splits, thresholds, tables, tree_keys(tables, width), width)


def tree_updates(bins: np.ndarray, moved: np.ndarray, keys: list[TreeKeys]) -> list[TreeUpdate]:
    """Per moved tree, its rows and their distinct old and new patterns (see `TreeUpdate`).

    `bins` stacks the `split_bins` of the entities now and then: rows `n + i` are row `i`'s
    old bins, `n = len(moved)`. Each pattern keeps one row (in that stacking) that realises it.
    """
    return [make() for make in tree_update_makers(bins, moved, keys)]


def tree_update_makers(
    bins: np.ndarray, moved: np.ndarray, keys: list[TreeKeys]
) -> list[Callable[[], TreeUpdate]]:
    """`tree_updates`, each left to build when called (on the thread that explains the tree)."""
    trees, rows = np.nonzero(moved.T)  # pairs ordered by tree
    bounds = np.searchsorted(trees, np.arange(len(keys) + 1))
    columns = np.ascontiguousarray(bins.T + 1)  # a feature's bins + 1, contiguous
    return [
        partial(tree_update, int(t), rows[bounds[t] : bounds[t + 1]], columns, keys[t])
        for t in np.flatnonzero(np.diff(bounds))
    ]


def tree_update(tree: int, rows: np.ndarray, columns: np.ndarray, key: TreeKeys) -> TreeUpdate:
    """One tree's `TreeUpdate` for its moved `rows`; `columns` is the stacked bins (as in
    `tree_updates`), transposed and + 1. Patterns are numbered in order of first appearance."""
    both = np.concatenate([rows, rows + columns.shape[1] // 2])  # now, then before
    parts = (lookup[columns[j][both]] for j, lookup in zip(key.columns, key.lookup, strict=True))
    if key.summed:
        sides = next(parts).copy()
        for part in parts:
            sides += part
        codes = pd.factorize(sides)[0]
    else:
        _, inverse = np.unique(np.column_stack(list(parts)), return_inverse=True, axis=0)
        codes = pd.factorize(inverse.ravel())[0]
    running = np.maximum.accumulate(codes)  # a pattern first appears where the maximum rises
    first = np.concatenate([[True], running[1:] > running[:-1]])
    after, before = codes[: len(rows)], codes[len(rows) :]
    return TreeUpdate(tree, rows, key.columns, both[first], before, after)


def printed_points(points: np.ndarray) -> np.ndarray:
    """A code per value such that equal codes print equally through `format_points`.

    `format_points` rounds 100 × points half-to-even to a whole number from 1 pt up, else to one
    decimal with its sign ("-0.0 pts"). NaN marks a value within rounding error of a half step
    at one decimal, which only `format_points` itself can settle.
    """
    pts = np.asarray(points, dtype=float) * 100
    tenths = pts * 10
    whole = np.abs(pts) >= 1
    tie = ~whole & (np.abs(np.abs(tenths - np.floor(tenths)) - 0.5) < 1e-9)
    code = np.where(whole, np.rint(pts) * 4, np.rint(tenths) * 4 + 2 + np.signbit(pts))
    return np.where(tie, np.nan, code)


def _sentences(model, features, values: np.ndarray, points: np.ndarray, cols: np.ndarray):
    """Sentences for the chosen columns of each row (skipping zero-point columns).

    This is `reasons.sentence` without a comparison: "<description with value>: <points>
    <target>". Each (feature, value) is described once and each printed form of the points
    formatted once; a cell only joins the two.
    """
    infos = [feature_info(features, n) for n in model.feature_names]
    phrase = target_phrase(model.target)
    cells = np.take_along_axis(points, cols, 1)
    codes = printed_points(cells).tolist()
    cells, cols = cells.tolist(), cols.tolist()
    described: dict = {}
    printed: dict = {}
    out = []
    for i, row in enumerate(cols):
        texts = []
        for c, j in enumerate(row):
            pts = cells[i][c]
            if pts == 0:
                continue
            value = values[i, j]
            key = (j, type(value), value)
            if isinstance(value, float) and value == 0:
                key += (math.copysign(1.0, value),)  # -0.0 and 0.0 print differently
            try:
                text = described.get(key)
            except TypeError:  # an unhashable value: no memo
                key, text = None, None
            if text is None:
                text = describe(infos[j], value)
                if key is not None:
                    described[key] = text
            code = codes[i][c]
            shown = printed.get(code) if code == code else None  # NaN: a tie, never shared
            if shown is None:
                shown = format_points(pts)
                if code == code:
                    printed[code] = shown
            texts.append(f"{text}: {shown} {phrase}")
        out.append(texts)
    return out


def shown(points: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's top `top` columns raising and lowering it, strongest first (-1: none)."""
    k = min(top, points.shape[1])
    order = np.argsort(-points, axis=1, kind="stable")
    up, down = order[:, :k], order[:, ::-1][:, :k]
    up = np.where(np.take_along_axis(points, up, 1) > 0, up, -1)
    down = np.where(np.take_along_axis(points, down, 1) < 0, down, -1)
    return up, down


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while wording: its many small strings and lists hold no
    cycles, and collections would rescan every object alive (a previous scoring's sentences)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def word_reasons(
    model: ScoringModel, points: np.ndarray, values: np.ndarray, registry, top: int
) -> tuple[list, list]:
    """The top `top` reason sentences raising and lowering each row, from its points."""
    up, down = shown(points, top)
    features = lookup(registry)
    padded = np.column_stack([points, np.zeros(len(points))])  # column -1 = "no reason"
    with gc_paused():
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
    bias = np.full((len(matrix), 1), explanation.raw_base_value)
    scores = pd.DataFrame(
        {
            key: frame[key].to_numpy(),
            "probability": explanation.probability,
            "reasons_up": up,
            "reasons_down": down,
        }
    )
    bins = split_bins(matrix, tree_tables(model).thresholds)
    labels = values[:, categorical_positions(model)]
    contributions = np.hstack([explanation.phi, bias])
    return Scoring(scores, explanation.point_values, matrix, labels, bins, contributions)


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
    differs: np.ndarray  # (rows, features) bool: the raw value moved since the previous scoring
    moved: int = 0  # (row, tree) pairs whose contributions moved (row crossed a tree's threshold)
    pairs: int = 0  # (row, tree) TreeSHAP evaluations: distinct patterns, all trees of new rows
    worded: int = 0  # rows whose sentences were formatted (the others' could not change)


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
        differs=differs & known[:, None],
    )


def probabilities_and_points(
    model: ScoringModel, contributions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`explain_matrix`'s calibrated probabilities and points from its log-odds contributions."""
    phi, bias = contributions[:, :-1], contributions[:, -1]
    probability = model.calibrator(bias + phi.sum(axis=1))
    return probability, apportion(phi, probability - model.calibrator(bias))


def same_sentences(
    old_points: np.ndarray, new_points: np.ndarray, differs: np.ndarray, top: int
) -> np.ndarray:
    """Rows whose reason sentences cannot have changed: the same features shown in the same
    order, none of their values moved, and their points print the same."""
    old_cols, new_cols = (np.hstack(shown(p, top)) for p in (old_points, new_points))
    same = (old_cols == new_cols).all(axis=1)
    cols = np.maximum(new_cols, 0)
    same &= ~(np.take_along_axis(differs, cols, 1) & (new_cols >= 0)).any(axis=1)
    before, after = (np.take_along_axis(p, cols, 1) for p in (old_points, new_points))
    moved = (before != after) & (new_cols >= 0)
    old_codes, new_codes = printed_points(before), printed_points(after)
    same &= ~(moved & (old_codes != new_codes) & ~np.isnan(new_codes)).any(axis=1)
    for i in np.flatnonzero(same & (moved & np.isnan(old_codes + new_codes)).any(axis=1)):
        for c in np.flatnonzero(moved[i]):  # a tie at one decimal: ask format_points
            if format_points(before[i, c]) != format_points(after[i, c]):
                same[i] = False
                break
    return same


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

    Equal to `score_rows(model, frame)` row for row. TreeSHAP runs only for the (row, tree) pairs
    where the row crossed one of that tree's thresholds, and on new rows; only rows where a shown
    reason's value moved are re-worded; entities no longer in `frame` are dropped.
    """
    trees_of = tree_tables(model)
    matrix = model.matrix(frame)
    labels = frame.reindex(columns=categorical_names(model)).to_numpy(dtype=object)
    bins = split_bins(matrix, trees_of.thresholds)
    keys = frame[key].to_numpy()
    current = Scoring(frame, matrix, matrix, labels, bins, matrix)
    plan = plan_rescoring(model, previous, keys, current, key, top)
    contributions = np.empty((len(frame), matrix.shape[1] + 1))
    known = plan.explain[plan.previous[plan.explain] >= 0]
    fresh_rows = plan.explain[plan.previous[plan.explain] < 0]
    kept = np.concatenate([plan.reword, plan.reuse, known])
    contributions[kept] = previous.contributions[plan.previous[kept]]
    before = plan.previous[known]
    old, now = (previous.matrix[before], previous.bins[before]), (matrix[known], bins[known])
    trees = moved_trees(old[1], now[1], trees_of.tables)
    stacked = np.concatenate([now[1], old[1]])
    makers = tree_update_makers(stacked, trees, trees_of.keys)
    samples = np.concatenate([now[0], old[0]])
    contributions[known], evaluated = apply_updates(model, contributions[known], samples, makers)
    if len(fresh_rows):
        contributions[fresh_rows] = model.booster.predict(
            matrix[fresh_rows], pred_contrib=True, num_threads=model.num_threads
        )
    points, probability = np.empty(matrix.shape), np.empty(len(frame))
    same = np.concatenate([plan.reword, plan.reuse])
    points[same] = previous.points[plan.previous[same]]
    probability[same] = previous.scores["probability"].to_numpy()[plan.previous[same]]
    probability[plan.explain], points[plan.explain] = probabilities_and_points(
        model, contributions[plan.explain]
    )
    unchanged = known[
        same_sentences(previous.points[before], points[known], plan.differs[known], top)
    ]
    reuse = np.concatenate([plan.reuse, unchanged])
    fresh = np.setdiff1d(np.concatenate([plan.explain, plan.reword]), unchanged)
    sentences = {}
    values = frame.iloc[fresh].reindex(columns=model.feature_names).to_numpy(dtype=object)
    words = word_reasons(model, points[fresh], values, registry, top)
    for side, worded in zip(("reasons_up", "reasons_down"), words, strict=True):
        column = np.empty(len(frame), dtype=object)
        column[reuse] = previous.scores[side].to_numpy()[plan.previous[reuse]]
        column[fresh] = _as_objects(worded)
        sentences[side] = column
    scores = pd.DataFrame({key: keys, "probability": probability, **sentences})
    pairs = evaluated + len(fresh_rows) * len(trees_of.splits)
    updated = Scoring(scores, points, matrix, labels, bins, contributions)
    plan = replace(plan, moved=int(trees.sum()), pairs=pairs, worded=len(fresh))
    return updated, plan


def rescore_changed(
    model: ScoringModel,
    previous: Scoring,
    changed: pd.DataFrame,
    registry: Registry | None = None,
    *,
    keep: set | None = None,
    key: str = "account_id",
    top: int = 3,
) -> tuple[Scoring, Plan]:
    """Rescore only the entities in `changed` (their current feature rows: those with new events,
    and new entities), reusing every other entity of `previous` as it was.

    Only the changed rows are encoded, compared and explained (`rescore_incremental` against their
    own previous rows), so the cost follows the number of entities with new events. The reused
    entities keep the previous scoring's probability, reasons and as-of (time passing alone ages
    their recency features only at the next full run). With `keep`, entities of `previous`
    outside it (and not changed) are dropped. The changed entities come last, in `changed` order;
    `Plan` positions refer to `changed`.
    """
    before = previous.scores[key].to_numpy(dtype=object)  # set lookups: pyarrow's isin is slow
    now = set(changed[key])
    mine = np.fromiter((k in now for k in before), dtype=bool, count=len(before))
    kept = np.fromiter((keep is None or k in keep for k in before), bool, count=len(before))
    others = ~mine & kept
    updated, plan = rescore_incremental(
        model, changed, take(previous, np.flatnonzero(mine)), registry, key=key, top=top
    )
    return stack([take(previous, np.flatnonzero(others)), updated]), plan


ARRAYS = ("points", "matrix", "labels", "bins", "contributions")


def take(scoring: Scoring, rows: np.ndarray) -> Scoring:
    """The scoring's rows at positions `rows`."""
    arrays = (getattr(scoring, name)[rows] for name in ARRAYS)
    return Scoring(scoring.scores.iloc[rows].reset_index(drop=True), *arrays)


def stack(parts: list[Scoring]) -> Scoring:
    """Scorings one after another."""
    arrays = (np.concatenate([getattr(part, name) for part in parts]) for name in ARRAYS)
    return Scoring(pd.concat([part.scores for part in parts], ignore_index=True), *arrays)


def _as_objects(items: list) -> np.ndarray:
    """A list of lists as a 1-D object array (numpy would otherwise make it 2-D)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out
