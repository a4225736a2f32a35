"""What-if: change behaviour features and see the new probability; suggest actionable changes.

Suggestions are limited to features the registry marks `actionable` (behaviours a rep controls,
not segment or ARR), tried at the values their peers have. Both are associations the model
learned from history, not causal effects: see `CAVEAT`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.model.treeshap import tree_splits, trees_booster, trees_by_feature
from explain.wording import CAVEAT, HIGHER_IS_BETTER, Registry, feature_info, lookup


@dataclass(frozen=True)
class WhatIf:
    """The probability before and after changing some features of one row."""

    before: float
    after: float
    change: float
    changes: dict[str, object]
    caveat: str = CAVEAT


def _one_row(row: pd.DataFrame | pd.Series) -> pd.DataFrame:
    frame = row.to_frame().T if isinstance(row, pd.Series) else row
    if len(frame) != 1:
        raise ValueError(f"what-if needs exactly one row, got {len(frame)}.")
    return frame.reset_index(drop=True)


def resolve_changes(
    changes: Mapping[str, object], reference: Mapping[str, float] | None = None
) -> dict[str, object]:
    """Replace the word 'median' by the reference value (e.g. the team median)."""
    out = {}
    for name, value in changes.items():
        if isinstance(value, str) and value in {"median", "team_median"}:
            if reference is None or name not in reference:
                raise ValueError(f"No reference median given for feature {name!r}.")
            value = reference[name]
        out[name] = value
    return out


def what_if(
    model: ScoringModel,
    row: pd.DataFrame | pd.Series,
    changes: Mapping[str, object],
    reference: Mapping[str, float] | None = None,
) -> WhatIf:
    """New probability of `row` with `changes` applied ({feature: value or 'median'})."""
    _check_known(model, changes)
    return what_if_matrix(model, model.matrix(_one_row(row))[0], changes, reference)


def what_if_matrix(
    model: ScoringModel,
    row: np.ndarray,
    changes: Mapping[str, object],
    reference: Mapping[str, float] | None = None,
) -> WhatIf:
    """`what_if` for a row already encoded by `ScoringModel.matrix` (serving's prepared rows):
    the changed values are encoded the same way and both rows are scored in one call."""
    _check_known(model, changes)
    resolved = resolve_changes(changes, reference)
    positions, encoded = encode_changes(model, resolved)
    pair = np.vstack([row, row]).astype(float)
    pair[1, positions] = encoded
    before, after = model.calibrator(model.raw_matrix(pair))
    return WhatIf(float(before), float(after), float(after - before), resolved)


def encode_changes(
    model: ScoringModel, changes: Mapping[str, object]
) -> tuple[np.ndarray, np.ndarray]:
    """The changed features' positions and their values as the booster's floats (categories →
    the model's codes, unknown levels and non-numbers → NaN), encoded by the model's encoder."""
    where = {name: i for i, name in enumerate(model.feature_names)}
    positions = np.array([where[name] for name in changes], dtype=int)
    raw = np.full((1, len(model.feature_names)), None, dtype=object)
    for position, value in zip(positions, changes.values(), strict=True):
        raw[0, position] = value
    return positions, model.matrix(raw)[0, positions]


def _check_known(model: ScoringModel, changes: Mapping[str, object]) -> None:
    unknown = sorted(set(changes) - set(model.feature_names))
    if unknown:
        raise ValueError(f"Unknown features for the {model.target} model: {', '.join(unknown)}.")


QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)  # the peers' values a suggestion tries
MIN_GAIN = 0.001  # a suggestion must improve the outcome by at least 0.1 pt
CHUNK_ROWS = 200_000  # trial rows predicted at once


@dataclass(frozen=True)
class Suggestion:
    """One actionable change for one row and its predicted effect on the probability."""

    feature: str
    current: object
    proposed: float
    change: float  # probability change (after - before): negative lowers churn risk


def candidates(
    model: ScoringModel, registry: Registry, reference: np.ndarray
) -> list[tuple[int, np.ndarray]]:
    """Per actionable numeric feature (its position), the values worth trying: the peers'
    (`reference`, encoded rows) 10th to 90th percentiles."""
    features = lookup(registry)
    out = []
    for j, name in enumerate(model.feature_names):
        if name in model.categories or not feature_info(features, name).actionable:
            continue
        column = reference[:, j][~np.isnan(reference[:, j])] if len(reference) else reference[:, j]
        if len(column):
            out.append((j, np.unique(np.quantile(column, QUANTILES))))
    return out


def suggest_actions(
    model: ScoringModel,
    matrix: np.ndarray,
    tried: list[tuple[int, np.ndarray]],
    *,
    top: int = 3,
) -> list[list[Suggestion]]:
    """Per encoded row, up to `top` single-feature changes from `tried` (`candidates`) with the
    largest predicted improvement, one per feature, best first. "Improvement" lowers churn risk
    and raises win chance.

    A change of feature j moves only the trees that split on j, so each trial is priced by those
    trees alone (`feature_boosters`): the new log-odds are the row's plus the change of those
    trees' sum, calibrated as always. Rows are scored in a few large booster calls. A linear or
    BG/NBD model scores the changed rows whole."""
    if not len(matrix) or not tried:
        return [[] for _ in range(len(matrix))]
    raw = booster_raw(model, matrix)
    now = model.calibrator(raw)
    boosters = feature_boosters(model) if model.booster is not None else None
    columns, values, after = [], [], []
    for j, tried_values in tried:
        sub, before = None, raw
        if boosters is not None:
            sub = boosters.get(j)
            if sub is None:  # no tree splits on it: no value of it changes the score
                continue
            before = booster_raw(model, matrix, sub)
        for value in tried_values:
            changed = matrix.copy()
            changed[:, j] = value
            after.append(model.calibrator(raw + booster_raw(model, changed, sub) - before))
            columns.append(j)
            values.append(float(value))
    if not after:
        return [[] for _ in range(len(matrix))]
    sign = 1.0 if HIGHER_IS_BETTER.get(model.target, True) else -1.0
    columns_, values_ = np.array(columns), np.array(values)
    same = np.isclose(matrix[:, columns_], values_[None, :])
    gain = np.where(same, -np.inf, sign * (np.column_stack(after) - now[:, None]))
    return [
        best_per_feature(model, matrix[i], gain[i], columns_, values_, top)
        for i in range(len(matrix))
    ]


_BOOSTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def feature_boosters(model: ScoringModel) -> dict:
    """{feature position: a booster of the trees that split on it}, built once per model."""
    with _LOCK:
        found = _BOOSTERS.get(model.booster)
    if found is None:
        by_feature = trees_by_feature(tree_splits(model))
        found = {j: trees_booster(model, trees) for j, trees in by_feature.items()}
        with _LOCK:
            _BOOSTERS[model.booster] = found
    return found


def booster_raw(model: ScoringModel, matrix: np.ndarray, booster=None) -> np.ndarray:
    """A booster's log-odds (by default the model's, whatever its kind) for encoded rows, in
    chunks of `CHUNK_ROWS`."""
    if booster is None:
        predict = model.raw_matrix
    else:
        predict = partial(booster.predict, raw_score=True, num_threads=model.num_threads)
    parts = [
        predict(matrix[start : start + CHUNK_ROWS]) for start in range(0, len(matrix), CHUNK_ROWS)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def best_per_feature(model, row, gain, columns, values, top) -> list[Suggestion]:
    """The best value of each feature for one row, the `top` features by gain."""
    sign = 1.0 if HIGHER_IS_BETTER.get(model.target, True) else -1.0
    best: dict[int, int] = {}
    for c in np.flatnonzero(gain >= MIN_GAIN):
        j = int(columns[c])
        if j not in best or gain[c] > gain[best[j]]:
            best[j] = c
    chosen = sorted(best.values(), key=lambda c: (-gain[c], int(columns[c])))[:top]
    return [
        Suggestion(
            model.feature_names[int(columns[c])],
            float(row[int(columns[c])]),
            float(values[c]),
            float(sign * gain[c]),
        )
        for c in chosen
    ]
