"""Per-row reasons from a model's explanation: the top positive and negative contributions.

Each reason is `{feature, family, value, points, sentence}`; `points` are probability points
(0.11 = +11 pts) and add up, with the base probability, to the probability shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

TOP_K = 5
OUTCOME_WORDS = {"churn": "churn risk", "deal_win": "win probability"}


def registry_map(registry: Mapping[str, Any] | Iterable[Any] | None) -> dict[str, Any]:
    """The registry as {feature name: entry}, whether given as a dict or a sequence of entries."""
    if registry is None:
        return {}
    if isinstance(registry, Mapping):
        return dict(registry)
    return {entry.name: entry for entry in registry}


def format_value(value: Any, unit: str = "") -> str:
    """A feature value as a person reads it: `12`, `0.35`, `missing`, `48 days`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | float | np.number):
        number = float(value)
        text = f"{number:.0f}" if number.is_integer() else f"{number:.3g}"
        return f"{text} {unit}".strip()
    return str(value)


def sentence(description: str, value: Any, unit: str, points: float, target: str) -> str:
    """E.g. "Days since the last connected call: 48 days (+11.0 pts churn risk)"."""
    outcome = OUTCOME_WORDS.get(target, target)
    return f"{description}: {format_value(value, unit)} ({points * 100:+.1f} pts {outcome})"


def reason(feature: str, value: Any, points: float, target: str, registry: dict) -> dict:
    """One structured reason for one feature of one row."""
    entry = registry.get(feature)
    description = getattr(entry, "description", None) or feature.replace("_", " ")
    unit = getattr(entry, "unit", "") or ""
    plain = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
    if isinstance(plain, np.generic):
        plain = plain.item()
    return {
        "feature": feature,
        "family": getattr(entry, "family", None),
        "value": plain if isinstance(plain, int | float | bool | str | type(None)) else str(plain),
        "points": round(float(points), 6),
        "sentence": sentence(description, value, unit, float(points), target),
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
    matrix = points.to_numpy(dtype=float)
    names = list(points.columns)
    raw = values.reindex(columns=names).to_numpy(dtype=object)
    pos, neg = top_indices(matrix, k)
    out = []
    for i in range(len(matrix)):
        row = [j for j in pos[i] if matrix[i, j] > 0] + [j for j in neg[i] if matrix[i, j] < 0]
        out.append([reason(names[j], raw[i, j], matrix[i, j], target, registry) for j in row])
    return out


def change_reasons(current: list[dict], previous: list[dict], k: int = TOP_K) -> list[dict]:
    """What moved the score: features whose points changed most between two scorings.

    Only the stored top reasons of each scoring are compared (a feature absent from one side counts
    as 0 points there), so this names the biggest movers among the reasons a user has seen.
    """
    now = {r["feature"]: r for r in current}
    before = {r["feature"]: r for r in previous}
    deltas = []
    for feature in now.keys() | before.keys():
        delta = now.get(feature, {}).get("points", 0.0) - before.get(feature, {}).get("points", 0.0)
        if abs(delta) > 1e-9:
            entry = now.get(feature) or before[feature]
            deltas.append(
                {
                    "feature": feature,
                    "family": entry.get("family"),
                    "value": now.get(feature, {}).get("value"),
                    "previous_value": before.get(feature, {}).get("value"),
                    "points_change": round(delta, 6),
                    "sentence": entry["sentence"].rsplit(" (", 1)[0]
                    + f" ({delta * 100:+.1f} pts since the previous scoring)",
                }
            )
    deltas.sort(key=lambda d: (-abs(d["points_change"]), d["feature"]))
    return deltas[:k]
