"""Per-prediction reasons as sentences, and explanations of a score's change between two dates.

Reasons come from `ScoringModel.explain`: TreeSHAP contributions apportioned to probability points
that add up exactly to the calibrated probability shown. Each reason is phrased from the registry's
description, with the value, an optional comparison (team or peer median) and the effect, e.g.
"Days since the last connected call: 48 days (team median 9): +11 pts churn risk".

A description may carry a `{value}` placeholder ("No connected call for {value} days"); otherwise
the value follows the description after a colon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel, apportion
from barometer.model.encoder import feature_values
from explain.wording import (
    Registry,
    feature_info,
    format_points,
    format_value,
    is_missing,
    lookup,
    target_phrase,
)
from features.registry import Feature


@dataclass(frozen=True)
class Reason:
    """One feature's share of a prediction, in probability points (0.11 = 11 pts)."""

    feature: str
    family: str
    value: object
    points: float
    sentence: str
    comparison: float | None = None


@dataclass(frozen=True)
class RowReasons:
    """One entity's calibrated probability and its strongest reasons each way."""

    key: object
    probability: float
    base_probability: float
    increasing: list[Reason] = field(default_factory=list)  # raise the probability, largest first
    decreasing: list[Reason] = field(default_factory=list)  # lower it, largest first


def describe(feature: Feature, value: object) -> str:
    """The registry description with the value filled in."""
    shown = format_value(value, feature)
    if "{value}" in feature.description:
        bare = shown.removesuffix(f" {feature.unit}") if feature.unit else shown
        return feature.description.replace("{value}", bare)
    return f"{feature.description}: {shown}"


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
        bare = format_value(comparison, feature)
        bare = bare.removesuffix(f" {feature.unit}") if feature.unit else bare
        text += f" ({comparison_label} {bare})"
    return f"{text}: {format_points(points)} {target_phrase(target)}"


def peer_medians(frame: pd.DataFrame, by: str | list[str], columns: list[str]) -> pd.DataFrame:
    """Each row's group median of `columns` (e.g. by team), aligned with `frame`."""
    numeric = frame[columns].apply(pd.to_numeric, errors="coerce")
    keys = [frame[b] for b in ([by] if isinstance(by, str) else by)]
    return numeric.groupby(keys, dropna=False).transform("median")


def _comparison(context: Mapping | pd.DataFrame | None, key: object, name: str) -> float | None:
    if context is None:
        return None
    if isinstance(context, pd.DataFrame):
        if name not in context.columns or key not in context.index:
            return None
        value = context.at[key, name]
    else:
        value = context.get(name)
    return None if is_missing(value) else float(value)


def _reason(model, features, value, key, name, points, context, label) -> Reason:
    info = feature_info(features, name)
    comparison = _comparison(context, key, name)
    text = sentence(info, value, points, model.target, comparison, label)
    return Reason(name, info.family, value, float(points), text, comparison)


def top_columns(points: np.ndarray, top: int, min_points: float) -> tuple[list, list]:
    """Column positions of a row's `top` largest positive and negative points (over the floor)."""
    order = np.argsort(-points, kind="stable")
    up = [j for j in order[:top] if points[j] >= min_points]
    down = [j for j in order[::-1][:top] if points[j] <= -min_points]
    return up, down


def reasons(
    model: ScoringModel,
    rows: pd.DataFrame,
    registry: Registry | None = None,
    context: Mapping[str, float] | pd.DataFrame | None = None,
    *,
    top: int = 3,
    comparison_label: str = "team median",
    min_points: float = 0.0005,
) -> list[RowReasons]:
    """Top `top` reasons raising and lowering each row's calibrated probability.

    `context` gives the comparison shown in each sentence: one mapping `{feature: median}` for all
    rows, or a frame aligned with `rows` (`peer_medians`). Reasons under `min_points` are dropped.
    """
    features = lookup(registry)
    names = model.feature_names
    values = feature_values(rows, names)
    explanation = model.explain_matrix(model.matrix(rows), index=rows.index)
    points = explanation.point_values
    out = []
    for i, key in enumerate(rows.index):
        up, down = (
            [
                _reason(
                    model,
                    features,
                    values[i, j],
                    key,
                    names[j],
                    points[i, j],
                    context,
                    comparison_label,
                )
                for j in side
            ]
            for side in top_columns(points[i], top, min_points)
        )
        prob = float(explanation.probability[i])
        out.append(RowReasons(key, prob, explanation.base_probability, up, down))
    return out


@dataclass(frozen=True)
class Change:
    """One feature's part in a score change."""

    feature: str
    family: str
    before: object
    after: object
    points: float  # change of this feature's contribution, probability points


@dataclass(frozen=True)
class ScoreChange:
    """An entity scored at two dates: the change, what moved it, and the sentence."""

    before: float
    after: float
    change: float
    changes: list[Change]
    sentence: str


def _date_text(when: date | datetime | str | None) -> str:
    if when is None:
        return ""
    stamp = pd.Timestamp(when)
    return f" since {stamp.day} {stamp:%b}"


def score_change(
    model: ScoringModel,
    before: pd.DataFrame | pd.Series,
    after: pd.DataFrame | pd.Series,
    registry: Registry | None = None,
    *,
    since: date | datetime | str | None = None,
    top: int = 3,
) -> ScoreChange:
    """Why one entity's probability moved between two scorings (one row each).

    Each feature's change in log-odds contribution (both scorings share the base value) gets its
    proportional share of the probability change, so the parts add up exactly to the change and a
    feature whose value and interactions did not move gets none. The sentence names the features
    whose values changed and moved the score the same way, largest first.
    """
    features = lookup(registry)
    pair = pd.concat([_as_frame(before), _as_frame(after)], ignore_index=True)
    explanation = model.explain(pair)
    change = float(explanation.probability[1] - explanation.probability[0])
    shift = (explanation.log_odds.iloc[1] - explanation.log_odds.iloc[0]).to_numpy()
    delta = pd.Series(apportion(shift[None, :], np.array([change]))[0], index=model.feature_names)
    order = delta.sort_values(ascending=change < 0).index
    moved = [
        n
        for n in order
        if np.sign(delta[n]) == np.sign(change)
        and abs(delta[n]) > 1e-9
        and not _same(_get(pair, 0, n), _get(pair, 1, n))
    ]
    changes = [
        Change(n, feature_info(features, n).family, _get(pair, 0, n), _get(pair, 1, n), delta[n])
        for n in moved[:top]
    ]
    word = target_phrase(model.target).capitalize()
    verb = "up" if change > 0 else "down" if change < 0 else "unchanged"
    head = f"{word} {verb} {abs(change) * 100:.0f} pts{_date_text(since)}"
    parts = [_change_text(feature_info(features, c.feature), c) for c in changes]
    return ScoreChange(
        float(explanation.probability[0]),
        float(explanation.probability[1]),
        change,
        changes,
        f"{head}: {'; '.join(parts)}" if parts else head,
    )


def _as_frame(row: pd.DataFrame | pd.Series) -> pd.DataFrame:
    frame = row.to_frame().T if isinstance(row, pd.Series) else row
    if len(frame) != 1:
        raise ValueError(f"score_change needs exactly one row per date, got {len(frame)}.")
    return frame


def _get(frame: pd.DataFrame, i: int, name: str) -> object:
    return frame[name].iloc[i] if name in frame.columns else None


def _change_text(info: Feature, change: Change) -> str:
    return f"{describe(info, change.after)} (was {format_value(change.before, info)})"


def _same(a: object, b: object) -> bool:
    if is_missing(a) and is_missing(b):
        return True
    return not is_missing(a) and not is_missing(b) and a == b
