"""Per-row reasons from a model's explanation: the top positive and negative contributions.

Each reason is `{feature, family, value, points, sentence}`; `points` are probability points
(0.11 = +11 pts) and add up, with the base probability, to the probability shown. Sentences use the
explanations room's wording (`explain.reasons.sentence`); this module only picks the top reasons for
many rows at once, vectorised, for the scoring job and the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from explain.reasons import sentence
from explain.wording import feature_info, format_points, is_missing

TOP_K = 5


def registry_map(registry: Mapping[str, Any] | Iterable[Any] | None) -> dict[str, Any]:
    """The registry as {feature name: entry}, whether given as a dict or a sequence of entries."""
    if registry is None:
        return {}
    if isinstance(registry, Mapping):
        return dict(registry)
    return {entry.name: entry for entry in registry}


def load_registry() -> dict[str, Any]:
    """The feature registry as {name: entry} (descriptions for reasons)."""
    from features.registry import REGISTRY

    return registry_map(REGISTRY)


def reason(feature: str, value: Any, points: float, target: str, registry: dict) -> dict:
    """One structured reason for one feature of one row, worded by `explain.reasons.sentence`."""
    info = feature_info(registry, feature)
    plain = None if is_missing(value) else value
    if isinstance(plain, np.generic):
        plain = plain.item()
    return {
        "feature": feature,
        "family": info.family,
        "value": plain if isinstance(plain, int | float | bool | str | type(None)) else str(plain),
        "points": round(float(points), 6),
        "sentence": sentence(info, value, float(points), target),
    }


def top_indices(points: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the columns of the k largest positive and the k most negative points."""
    k = min(k, points.shape[1])
    if k == 0:
        empty = np.empty((points.shape[0], 0), dtype=int)
        return empty, empty
    order = np.argsort(-points, axis=1, kind="stable")
    return order[:, :k], order[:, ::-1][:, :k]


def row_reasons(
    points: pd.DataFrame, values: pd.DataFrame, target: str, registry: dict, k: int = TOP_K
) -> list[list[dict]]:
    """For each row: its top positive reasons (largest first) then top negative (most negative)."""
    names = list(points.columns)
    raw = values.reindex(columns=names).to_numpy(dtype=object)
    return matrix_reasons(points.to_numpy(dtype=float), raw, names, target, registry, k)


def matrix_reasons(
    matrix: np.ndarray,
    raw: np.ndarray,
    names: list[str],
    target: str,
    registry: dict,
    k: int = TOP_K,
) -> list[list[dict]]:
    """`row_reasons` on arrays: points and raw values with columns in `names` order (no frames,
    for on-demand scoring of one row)."""
    pos, neg = top_indices(matrix, k)
    out = []
    for i in range(len(matrix)):
        row = [j for j in pos[i] if matrix[i, j] > 0] + [j for j in neg[i] if matrix[i, j] < 0]
        out.append([reason(names[j], raw[i, j], matrix[i, j], target, registry) for j in row])
    return out


def change_reasons(current: list[dict], previous: list[dict], k: int = TOP_K) -> list[dict]:
    """What moved the score: features whose points changed most between two scorings.

    Only the stored top reasons of each scoring are compared (a feature absent from one side counts
    as 0 points there), so this names the biggest movers among the reasons a user has seen. Ranked
    by the rounded change (then feature name); only the top `k` are worded.
    """
    now = {r["feature"]: r for r in current}
    before = {r["feature"]: r for r in previous}
    moved = []
    for feature, new in now.items():  # ~15 features a row, 50k rows a run: kept lean
        old = before.get(feature)
        delta = new.get("points", 0.0) - (0.0 if old is None else old.get("points", 0.0))
        if abs(delta) > 1e-9:
            moved.append((-abs(round(delta, 6)), feature, delta))
    for feature, old in before.items():
        if feature not in now:
            delta = 0.0 - old.get("points", 0.0)
            if abs(delta) > 1e-9:
                moved.append((-abs(round(delta, 6)), feature, delta))
    moved.sort()
    return [change_reason(feature, delta, now, before) for _, feature, delta in moved[:k]]


def change_reason(feature: str, delta: float, now: dict, before: dict) -> dict:
    """One mover of `change_reasons`, worded from the current reason (else the previous one)."""
    entry = now.get(feature) or before[feature]
    return {
        "feature": feature,
        "family": entry.get("family"),
        "value": now.get(feature, {}).get("value"),
        "previous_value": before.get(feature, {}).get("value"),
        "points_change": round(delta, 6),
        "sentence": entry["sentence"].rsplit(": ", 1)[0]
        + f": {format_points(delta)} since the previous scoring",
    }
