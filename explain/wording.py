"""What every explanation shares: registry look-ups, value phrasing, target wording, the caveat."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from features.registry import FAMILY_LABELS, Feature

CAVEAT = (
    "These figures attribute a predictive model's output to behaviours; they are associations "
    "learned from history, not causal effects. Changing a behaviour is not guaranteed to change "
    "the outcome by this amount."
)

TARGET_PHRASES: dict[str, str] = {
    "churn": "churn risk",
    "deal_win": "win chance",
    "rep_attrition": "risk of leaving",
}
# Whether a higher probability is good news for the business.
HIGHER_IS_BETTER: dict[str, bool] = {"churn": False, "deal_win": True, "rep_attrition": False}
OTHER_FAMILY = "other"
BARE_UNITS = {"currency", "points", "stage"}  # shown as plain numbers

Registry = Mapping[str, Feature] | Iterable[Feature]


def lookup(registry: Registry | None) -> dict[str, Feature]:
    """The registry as `{name: Feature}`, whether given as a mapping or a sequence."""
    if registry is None:
        return {}
    if isinstance(registry, Mapping):
        return dict(registry)
    return {feature.name: feature for feature in registry}


def feature_info(features: Mapping[str, Feature], name: str) -> Feature:
    """The registry entry for `name`, or a plain stand-in for a column the registry lacks."""
    if name in features:
        return features[name]
    return Feature(name, "account", OTHER_FAMILY, name.replace("_", " ").capitalize(), None)  # type: ignore[arg-type]


def family_of(features: Mapping[str, Feature], names: Iterable[str]) -> dict[str, str]:
    """`{feature: family}` for `names`; unregistered columns fall in `other`."""
    return {name: feature_info(features, name).family for name in names}


def target_phrase(target: str) -> str:
    """'churn risk' / 'win chance' (or the target's name)."""
    return TARGET_PHRASES.get(target, target.replace("_", " "))


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' NA."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def format_value(value: object, feature: Feature | None = None) -> str:
    """A value as a manager reads it: '48 days', '35%', 'yes', 'none recorded'.

    >>> format_value(48.0, Feature("d", "account", "cadence", "", None, unit="days"))
    '48 days'
    """
    if is_missing(value):
        return "none recorded"
    unit = feature.unit if feature else ""
    if (feature and feature.kind == "bool") or isinstance(value, bool | np.bool_):
        return "yes" if bool(value) else "no"
    if isinstance(value, str):
        return value
    number = float(value)  # type: ignore[arg-type]
    if unit in {"%", "share", "percent"}:
        return f"{number * 100:.0f}%" if unit == "share" else f"{number:.0f}%"
    text = f"{number:,.0f}" if abs(number) >= 100 or number == round(number) else f"{number:.2g}"
    return f"{text} {unit}" if unit and unit not in BARE_UNITS else text


def format_points(points: float) -> str:
    """Probability change in points: +11 pts, -3 pts, +0.4 pts."""
    pts = points * 100
    return f"{pts:+.0f} pts" if abs(pts) >= 1 else f"{pts:+.1f} pts"


def family_label(family: str) -> str:
    """The family's manager-facing label ("Service quality"), or its name."""
    return FAMILY_LABELS.get(family, family.replace("_", " ").capitalize())
