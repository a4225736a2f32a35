"""The one place a score's reasons are worded: top reasons, the "all other behaviours" line, and
what moved a score between two scorings.

A reason is `{feature, family, value, points, sentence}`; `points` are probability points (0.11 =
+11 pts). A row's reasons are its `TOP_K` strongest raising and lowering features plus one
`OTHER` line holding the rest, so the base probability plus every line equals the calibrated
probability (to the rounding of `DECIMALS`). A change is `{feature, family, value,
previous_value, points_change, sentence}`: the features whose value changed and moved the score,
an `OTHER` line for everything else (interactions, features below the shown ones), and a `MODEL`
line when the model changed between the two scorings; together they equal the change.

Sentences read like a manager would say them: "Days since the last connected call: 48 days
(team median 9): +11 pts churn risk". A description may carry a `{value}` placeholder ("No
connected call for {value} days"); otherwise the value follows the description after a colon.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from explain.wording import (
    feature_info,
    format_points,
    format_value,
    is_missing,
    lookup,
    plural,
    target_phrase,
)
from features.registry import Feature

TOP_K = 5
DECIMALS = 6  # points and probabilities are stored and served rounded to this many decimals
OTHER = "other"  # the feature name of the line holding every reason not shown
MODEL = "model"  # the feature name of the change line a new model version accounts for
MIN_MOVE = 5e-4  # a changed feature moving the score by less than this (0.05 pts) is no mover


def registry_map(registry: Mapping[str, Any] | Iterable[Any] | None) -> dict[str, Any]:
    """The registry as {feature name: entry}, whether given as a dict or a sequence of entries."""
    return lookup(registry)


def load_registry() -> dict[str, Any]:
    """The feature registry as {name: entry} (descriptions for reasons)."""
    from features.registry import REGISTRY

    return registry_map(REGISTRY)


# ------------------------------------------------------------------ sentences


def describe(feature: Feature, value: object) -> str:
    """The registry description with the value filled in."""
    if "{value}" in feature.description:
        return feature.description.replace("{value}", bare_value(value, feature))
    return f"{feature.description}: {format_value(value, feature)}"


def bare_value(value: object, feature: Feature) -> str:
    """`format_value` without the unit ('48' for 48 days), for descriptions that name the unit."""
    shown = format_value(value, feature)
    if is_missing(value) or isinstance(value, str) or not feature.unit:
        return shown
    return shown.removesuffix(f" {plural(feature.unit, float(value))}")  # type: ignore[arg-type]


def sentence(
    feature: Feature,
    value: object,
    points: float,
    target: str,
    comparison: float | None = None,
    comparison_label: str = "team median",
) -> str:
    """'<description with value> (<label> <comparison>): +11 pts churn risk'."""
    text = describe(feature, value)
    if comparison is not None and not is_missing(comparison) and feature.kind != "categorical":
        text += f" ({comparison_label} {bare_value(comparison, feature)})"
    return f"{text}: {format_points(points)} {target_phrase(target)}"


def plain(value: Any) -> Any:
    """A feature value as JSON can hold it: numpy scalars as Python, missing as None."""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, int | float | bool | str) else str(value)


def reason(feature: str, value: Any, points: float, target: str, registry: Mapping) -> dict:
    """One structured reason for one feature of one row."""
    info = feature_info(registry, feature)
    return {
        "feature": feature,
        "family": info.family,
        "value": plain(value),
        "points": round(float(points), DECIMALS),
        "sentence": sentence(info, value, float(points), target),
    }


def other_reason(points: float, count: int, target: str) -> dict:
    """The line holding every reason not shown (`count` features)."""
    behaviours = {0: "No other behaviours", 1: "The 1 other behaviour"}.get(
        count, f"All {count} other behaviours"
    )
    return {
        "feature": OTHER,
        "family": None,
        "value": None,
        "points": round(float(points), DECIMALS),
        "sentence": f"{behaviours}: {format_points(points)} {target_phrase(target)}",
    }


# ------------------------------------------------------------------ a score's reasons


def top_indices(points: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the columns of the k largest positive and the k most negative points."""
    k = min(k, points.shape[1])
    if k == 0:
        empty = np.empty((points.shape[0], 0), dtype=int)
        return empty, empty
    order = np.argsort(-points, axis=1, kind="stable")
    return order[:, :k], order[:, ::-1][:, :k]


def shown_columns(points: np.ndarray, k: int = TOP_K) -> list[list[int]]:
    """Per row, the columns its reasons show: top raising (largest first), then top lowering."""
    pos, neg = top_indices(points, k)
    return [
        [j for j in pos[i] if points[i, j] > 0] + [j for j in neg[i] if points[i, j] < 0]
        for i in range(len(points))
    ]


def matrix_reasons(
    matrix: np.ndarray,
    raw: np.ndarray,
    names: list[str],
    target: str,
    registry: Mapping,
    k: int = TOP_K,
    total: np.ndarray | None = None,
) -> list[list[dict]]:
    """Each row's reasons from its points (`matrix`, columns in `names` order) and raw values:
    the top `k` each way, then the `OTHER` line with the rest of `total` (the row's probability
    minus the base; by default the sum of its points), so that the lines add up to `total`. The
    other line is always there, so every score reads the same way. Each (feature, value) is
    described once per call (`Wording`): many rows share values."""
    total = matrix.sum(axis=1) if total is None else np.asarray(total, dtype=float)
    words = Wording(names, target, registry)
    out = []
    for i, columns in enumerate(shown_columns(matrix, k)):
        row = [words.reason(j, raw[i, j], matrix[i, j]) for j in columns]
        rest = round(float(total[i]), DECIMALS) - sum(r["points"] for r in row)
        row.append(other_reason(rest, len(names) - len(columns), target))
        out.append(row)
    return out


class Wording:
    """`reason` for many rows of one model: each feature's registry entry looked up once, and
    each (feature, value) described and made JSON-plain once."""

    def __init__(self, names: list[str], target: str, registry: Mapping) -> None:
        self.names = names
        self.infos = [feature_info(registry, name) for name in names]
        self.phrase = target_phrase(target)
        self.described: dict = {}

    def reason(self, j: int, value: Any, points: float) -> dict:
        text, shown = self.describe(j, value)
        return {
            "feature": self.names[j],
            "family": self.infos[j].family,
            "value": shown,
            "points": round(float(points), DECIMALS),
            "sentence": f"{text}: {format_points(float(points))} {self.phrase}",
        }

    def describe(self, j: int, value: Any) -> tuple[str, Any]:
        key = (j, None) if is_missing(value) else (j, type(value), value)
        if isinstance(value, float) and value == 0:
            key += (math.copysign(1.0, value),)  # -0.0 and 0.0 may print differently
        try:
            found = self.described.get(key)
        except TypeError:  # an unhashable value: no memo
            return describe(self.infos[j], value), plain(value)
        if found is None:
            found = self.described[key] = (describe(self.infos[j], value), plain(value))
        return found


def row_reasons(
    points: pd.DataFrame,
    values: pd.DataFrame,
    target: str,
    registry: Mapping,
    k: int = TOP_K,
    total: np.ndarray | None = None,
) -> list[list[dict]]:
    """`matrix_reasons` on frames: points (feature columns) and the rows' raw values."""
    names = list(points.columns)
    raw = values.reindex(columns=names).to_numpy(dtype=object)
    return matrix_reasons(points.to_numpy(dtype=float), raw, names, target, registry, k, total)


def reasons_total(reasons: list[dict]) -> float:
    """The points of every line (shown reasons and the other line) added up."""
    return float(sum(r["points"] for r in reasons))


def as_json(rows: list[list[dict]]) -> list[str]:
    """Reasons or changes per row as compact JSON text (how the `scores` table keeps them)."""
    return [json.dumps(r, separators=(",", ":")) for r in rows]


# ------------------------------------------------------------------ what moved a score


def change_reasons(
    points_change: np.ndarray,
    changed: np.ndarray,
    change: np.ndarray,
    model_part: np.ndarray,
    values: tuple[np.ndarray, np.ndarray],
    names: list[str],
    target: str,
    registry: Mapping,
    k: int = TOP_K,
) -> list[list[dict]]:
    """Each row's movers between two scorings, exactly decomposed.

    `points_change[i, j]` is feature j's share of the change the features made (the change of its
    log-odds contribution apportioned to that part of the change, `barometer.model.artefact`);
    `changed` marks the features whose value changed; `change` is the whole change of the shown
    probability and `model_part` the part a new model version made (0 with the same model).
    Movers are the changed features moving the score by at least `MIN_MOVE`, largest first, at
    most `k`; an unchanged feature is never a mover. Then a `MODEL` line (when `model_part` is
    not 0) and an `OTHER` line with the rest, so the lines add up to `change`.
    """
    before_raw, after_raw = values
    strength = np.where(changed & (np.abs(points_change) >= MIN_MOVE), np.abs(points_change), 0)
    order = np.argsort(-strength, axis=1, kind="stable")[:, :k]
    out = []
    for i in range(len(points_change)):
        shown = [j for j in order[i] if strength[i, j] > 0]
        pairs = ((before_raw[i, j], after_raw[i, j]) for j in shown)
        movers = [
            mover(names[j], old, new, points_change[i, j], target, registry)
            for j, (old, new) in zip(shown, pairs, strict=True)
        ]
        if round(float(model_part[i]), DECIMALS):
            movers.append(model_line(float(model_part[i]), target))
        rest = round(float(change[i]), DECIMALS) - sum(m["points_change"] for m in movers)
        if movers or abs(rest) >= 10**-DECIMALS:
            movers.append(other_change(rest, target))
        out.append(movers)
    return out


def mover(
    feature: str, before: Any, after: Any, points: float, target: str, registry: Mapping
) -> dict:
    """One changed feature's part in a change: "<description with value> (was <value>): +3 pts"."""
    info = feature_info(registry, feature)
    text = f"{describe(info, after)} (was {format_value(before, info)})"
    return {
        "feature": feature,
        "family": info.family,
        "value": plain(after),
        "previous_value": plain(before),
        "points_change": round(float(points), DECIMALS),
        "sentence": f"{text}: {format_points(points)} {target_phrase(target)}",
    }


def model_line(points: float, target: str) -> dict:
    """The part of a change that a new model version made (same data, new model)."""
    return {
        "feature": MODEL,
        "family": None,
        "value": None,
        "previous_value": None,
        "points_change": round(points, DECIMALS),
        "sentence": f"A new model version: {format_points(points)} {target_phrase(target)}",
    }


def other_change(points: float, target: str) -> dict:
    """Everything else: unchanged features whose points moved through interactions, and changed
    features below the movers shown."""
    return {
        "feature": OTHER,
        "family": None,
        "value": None,
        "previous_value": None,
        "points_change": round(points, DECIMALS),
        "sentence": f"All other behaviours: {format_points(points)} {target_phrase(target)}",
    }


# ------------------------------------------------------------------ suggested behaviours

ACTION_NOTE = "associated with this change in past data, not promised"


def action_reasons(
    suggestions, raw: np.ndarray, names: list[str], target: str, registry: Mapping
) -> list[dict]:
    """Suggested behaviours (`explain.whatif.Suggestion`) for one row, worded; `raw` is the row's
    raw values in `names` order (the value shown as "from")."""
    where = {name: j for j, name in enumerate(names)}
    return [
        action(s.feature, raw[where[s.feature]], s.proposed, s.change, target, registry)
        for s in suggestions
    ]


def action(
    feature: str, current: Any, proposed: float, change: float, target: str, registry: Mapping
) -> dict:
    """'<description>: from 48 days to 3 days → -8 pts churn risk (associated ..., not ...)'."""
    info = feature_info(registry, feature)
    if info.kind == "bool":
        proposed = bool(proposed)
    text = (
        f"{info.description}: from {format_value(current, info)} to {format_value(proposed, info)}"
    )
    return {
        "feature": feature,
        "family": info.family,
        "value": plain(current),
        "suggested": plain(proposed),
        "points": round(float(change), DECIMALS),
        "sentence": f"{text} → {format_points(change)} {target_phrase(target)} ({ACTION_NOTE})",
    }
