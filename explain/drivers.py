"""Global drivers: per feature, per behaviour family, per segment or stage, and dependence curves.

All figures come from TreeSHAP contributions. Families are sums of their features' contributions,
which is valid because SHAP values are additive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from barometer.model.artefact import Explanation, ScoringModel
from explain.wording import (
    HIGHER_IS_BETTER,
    Registry,
    family_of,
    feature_info,
    format_value,
    lookup,
    target_phrase,
)


def _direction(values: pd.Series, effects: pd.Series, n_bins: int = 10) -> int:
    """+1 when more of a feature raises the outcome, -1 when it lowers it, 0 when unclear.

    Compares the mean effect in the highest and lowest value bins, so threshold effects ("no
    touch for 60 days") count as well as steady ones; a U-shape (ends close relative to the
    curve's range) gives 0.
    """
    numeric = pd.to_numeric(values, errors="coerce")
    ok = numeric.notna() & effects.notna()
    if ok.sum() < 3 or numeric[ok].nunique() < 2:
        return 0
    curve = effects[ok].groupby(_bins(numeric[ok], n_bins)).mean().sort_index().to_numpy()
    spread = curve.max() - curve.min()
    ends = curve[-1] - curve[0]
    return 0 if spread <= 1e-12 or abs(ends) < 0.25 * spread else int(np.sign(ends))


def _feature_table(
    model: ScoringModel, frame: pd.DataFrame, features: dict, explanation: Explanation | None = None
) -> pd.DataFrame:
    explanation = explanation or model.explain(frame)
    rows = []
    for name in model.feature_names:
        info = feature_info(features, name)
        values = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)
        direction = (
            0 if info.kind == "categorical" else _direction(values, explanation.log_odds[name])
        )
        rows.append(
            {
                "feature": name,
                "family": info.family,
                "description": info.description,
                "actionable": info.actionable,
                "mean_abs_points": explanation.points[name].abs().mean(),
                "mean_points": explanation.points[name].mean(),
                "mean_abs_log_odds": explanation.log_odds[name].abs().mean(),
                "direction": direction,
            }
        )
    table = pd.DataFrame(rows)
    total = table["mean_abs_points"].sum()
    table["share"] = table["mean_abs_points"] / total if total > 0 else 0.0
    return table.sort_values("mean_abs_points", ascending=False, ignore_index=True)


def drivers(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry | None = None,
    by: str | None = None,
    *,
    explanation: Explanation | None = None,
) -> pd.DataFrame:
    """Per feature (and per `by` group, e.g. segment or stage): mean |SHAP| and direction.

    Columns: [by], feature, family, description, actionable, mean_abs_points (probability points),
    mean_points, mean_abs_log_odds, direction (+1 more raises the outcome, -1 lowers, 0 unclear),
    share (of the group's total mean |points|). Sorted by importance within each group.
    `explanation` (of `frame`, used without `by`) saves recomputing the SHAP values.
    """
    features = lookup(registry)
    if by is None:
        return _feature_table(model, frame, features, explanation)
    parts = [
        _feature_table(model, group, features).assign(**{by: key})
        for key, group in frame.groupby(by, dropna=False, sort=True)
    ]
    if not parts:
        return _feature_table(model, frame, features).assign(**{by: None}).iloc[0:0]
    table = pd.concat(parts, ignore_index=True)
    return table[[by, *[c for c in table.columns if c != by]]]


def family_points(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry | None = None,
    *,
    explanation: Explanation | None = None,
) -> pd.DataFrame:
    """Per row, the probability points of each behaviour family (sums of its features' points)."""
    points = (explanation or model.explain(frame)).points
    families = family_of(lookup(registry), points.columns)
    return points.T.groupby(pd.Series(families)).sum().T


def family_attribution(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry | None = None,
    by: str | None = None,
    *,
    explanation: Explanation | None = None,
) -> pd.DataFrame:
    """Per family (and per `by` group): mean |points|, mean signed points and share of the total."""
    per_row = family_points(model, frame, registry, explanation=explanation)
    keys = frame[by] if by else pd.Series("all", index=frame.index)
    long = per_row.assign(_group=keys.to_numpy()).melt(
        "_group", var_name="family", value_name="pts"
    )
    table = (
        long.groupby(["_group", "family"])["pts"]
        .agg(mean_abs_points=lambda s: s.abs().mean(), mean_points="mean")
        .reset_index()
    )
    totals = table.groupby("_group")["mean_abs_points"].transform("sum")
    table["share"] = np.where(totals > 0, table["mean_abs_points"] / totals, 0.0)
    table = table.sort_values(["_group", "mean_abs_points"], ascending=[True, False])
    table = table.rename(columns={"_group": by}) if by else table.drop(columns="_group")
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class DependenceCurve:
    """The average effect of one feature along its values, and where the effect turns."""

    feature: str
    x: list[float]
    effect: list[float]  # mean probability points at each x
    crossing: float | None  # value where the effect changes sign
    saturation: float | None  # value after which more stops changing the effect
    sentence: str


def _bins(values: pd.Series, n_bins: int) -> pd.Series:
    """Quantile bins of the values (each distinct value its own bin when there are few)."""
    if values.nunique() <= n_bins:
        return values
    return values.groupby(pd.qcut(values, n_bins, duplicates="drop"), observed=True).transform(
        "median"
    )


def _turns(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    """Sign change of `y`, and the point after which `y` stays within 10% of its final range."""
    crossing = None
    signs = np.sign(y)
    for i in range(1, len(y)):
        if signs[i] != 0 and signs[i - 1] != 0 and signs[i] != signs[i - 1]:
            crossing = float(x[i])
            break
    span = y[-1] - y[0]
    saturation = None
    if abs(span) > 1e-9 and len(x) >= 4:
        reached = np.nonzero(np.sign(span) * (y - y[0]) >= 0.9 * abs(span))[0]
        first = int(reached[0]) if len(reached) else len(x) - 1
        later_flat = np.all(np.abs(y[first:] - y[-1]) <= 0.15 * abs(span))
        if first < len(x) - 2 and later_flat and x[-1] > x[first]:
            saturation = float(x[first])
    return crossing, saturation


def dependence(
    model: ScoringModel,
    frame: pd.DataFrame,
    feature: str,
    registry: Registry | None = None,
    *,
    n_bins: int = 12,
    explanation: Explanation | None = None,
) -> DependenceCurve:
    """Mean contribution of `feature` along its values, with its turning points in words.

    Example sentence: "Connected calls over 10 min, last 30 days: stops lowering churn risk
    after 3 calls".
    """
    info = feature_info(lookup(registry), feature)
    points = (explanation or model.explain(frame)).points[feature]
    values = pd.to_numeric(frame[feature], errors="coerce")
    ok = values.notna()
    curve = points[ok].groupby(_bins(values[ok], n_bins)).mean().sort_index()
    x, y = curve.index.to_numpy(dtype=float), curve.to_numpy(dtype=float)
    crossing, saturation = _turns(x, y) if len(x) else (None, None)
    return DependenceCurve(
        feature,
        x.tolist(),
        y.tolist(),
        crossing,
        saturation,
        _curve_sentence(info, model.target, y, crossing, saturation),
    )


def _curve_sentence(info, target: str, y, crossing, saturation) -> str:
    phrase = target_phrase(target)
    if len(y) < 2 or abs(y[-1] - y[0]) < 1e-9:
        return f"{info.description}: no clear effect on {phrase}."
    raises = y[-1] > y[0]
    good = raises == HIGHER_IS_BETTER.get(target, True)
    verb = "raises" if raises else "lowers"
    text = f"{info.description}: more {verb} {phrase}"
    if crossing is not None:
        before, after = ("lowers", "raises") if raises else ("raises", "lowers")
        text += f"; it {before} {phrase} below {format_value(crossing, info)} and {after} it above"
    if saturation is not None:
        text += f"; stops {'helping' if good else 'hurting'} after {format_value(saturation, info)}"
    return text + "."
