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
BARE_UNITS = {"points", "stage"}  # shown as plain numbers
SHARE_CHANGE = "percentage points"  # a difference of two shares (0.455 -> +45 percentage points)

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
    """A value as a manager reads it: '48 days', '1 day', '35%', '$12,400', 'yes', 'none recorded'.

    Never in scientific notation: whole numbers with thousands separators, others with up to two
    decimals (three significant digits below 1).

    >>> format_value(48.0, Feature("d", "account", "cadence", "", None, unit="days"))
    '48 days'
    >>> format_value(1.0, Feature("d", "account", "cadence", "", None, unit="days"))
    '1 day'
    """
    if is_missing(value):
        return "none recorded"
    unit = feature.unit if feature else ""
    if (feature and feature.kind == "bool") or isinstance(value, bool | np.bool_):
        return "yes" if bool(value) else "no"
    if isinstance(value, str):
        return value
    number = float(value)  # type: ignore[arg-type]
    if unit == SHARE_CHANGE:
        pts = round(number * 100)
        return (
            f"{pts:+d} percentage {'point' if abs(pts) == 1 else 'points'}" if pts else "0 " + unit
        )
    if unit in {"%", "share", "percent"}:
        return f"{number * 100:.0f}%" if unit == "share" else f"{number:.0f}%"
    if unit == "currency":
        return format_money(number)
    text = format_number(number)
    if not unit or unit in BARE_UNITS:
        return text
    return f"{text} {plural(unit, number)}"


def format_number(number: float) -> str:
    """12400.0 -> '12,400'; 47.11 -> '47.1'; 2.345 -> '2.35'; 0.0123 -> '0.0123'; never
    '1.2e-05'. Three significant digits at most below 100, so '47.11 days' does not sit beside
    '164 days' claiming more precision than the whole number."""
    if number == round(number) or abs(number) >= 100:
        return f"{number:,.0f}"
    if abs(number) >= 10:
        return f"{number:,.1f}".rstrip("0").rstrip(".")
    if abs(number) >= 1:
        return f"{number:,.2f}".rstrip("0").rstrip(".")
    return f"{number:.3g}" if abs(number) >= 1e-3 else f"{number:.4f}".rstrip("0").rstrip(".")


def format_money(number: float) -> str:
    """12400.0 -> '$12,400'; -50.0 -> '-$50'."""
    return f"{'-' if number < 0 else ''}${abs(number):,.0f}"


def plural(unit: str, count: float) -> str:
    """The unit for `count`: 'days' for 2, 'day' for 1 ('touches per week' -> 'touch per week')."""
    if count != 1:
        return unit
    word, _, rest = unit.partition(" ")
    if word.endswith(("ches", "shes", "sses", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return f"{word} {rest}".strip()


def format_points(points: float) -> str:
    """Probability change in points: +11 pts, -3 pts, +0.4 pts, 0.0 pts. Whole points from 1 on,
    judged after rounding, so -0.96 reads -1 pts beside -1.2's -1 pts, not -1.0 pts; a change
    that rounds to nothing has no sign."""
    pts = round(points * 100, 1)
    if pts == 0:
        return "0.0 pts"
    return f"{pts:+.0f} pts" if abs(pts) >= 1 else f"{pts:+.1f} pts"


def format_size(points: float) -> str:
    """A probability change's size, unsigned, to a tenth of a point: 0.042 -> '4.2 pts'."""
    return f"{points * 100:.1f} pts"


def format_share(share: float) -> str:
    """A share to a tenth of a percent: 0.3456 -> '34.6%'."""
    return f"{share * 100:.1f}%"


def family_label(family: str) -> str:
    """The family's manager-facing label ("Service quality"), or its name."""
    return FAMILY_LABELS.get(family, family.replace("_", " ").capitalize())
