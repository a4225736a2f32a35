"""What-if: change behaviour features and see the new probability; suggest actionable changes.

Suggestions are limited to features the registry marks `actionable` (behaviours a rep controls,
not segment or ARR). Both are predictive attribution, not causal effects: see `CAVEAT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from explain.wording import (
    CAVEAT,
    HIGHER_IS_BETTER,
    Registry,
    feature_info,
    format_value,
    lookup,
    target_phrase,
)


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


@dataclass(frozen=True)
class Suggestion:
    """One actionable change and its predicted effect on the probability."""

    feature: str
    family: str
    current: object
    proposed: float
    change: float  # probability change (after - before)
    sentence: str
    caveat: str = field(default=CAVEAT, repr=False)


def _candidates(name: str, current: object, reference: pd.DataFrame) -> list[float]:
    """Values worth trying: the peers' quartiles and top decile, excluding the current value."""
    values = pd.to_numeric(reference[name], errors="coerce").dropna()
    if values.empty:
        return []
    tried = np.unique(values.quantile([0.1, 0.25, 0.5, 0.75, 0.9]).to_numpy())
    now = pd.to_numeric(pd.Series([current]), errors="coerce").iloc[0]
    return [float(v) for v in tried if not np.isclose(v, now)]


def suggest_actions(
    model: ScoringModel,
    row: pd.DataFrame | pd.Series,
    registry: Registry,
    reference: pd.DataFrame,
    *,
    top: int = 3,
) -> list[Suggestion]:
    """The actionable single-feature changes with the largest predicted improvement.

    Each actionable feature is tried at its peers' (`reference`) 10th-90th percentiles; the best
    value per feature is kept. "Improvement" lowers churn risk and raises win chance.
    """
    features = lookup(registry)
    base = _one_row(row)
    actionable = [
        n for n in model.feature_names if feature_info(features, n).actionable and n in reference
    ]
    trials, labels = [], []
    for name in actionable:
        for value in _candidates(name, base[name].iloc[0] if name in base else None, reference):
            trials.append(base.assign(**{name: [value]}))
            labels.append((name, value))
    if not trials:
        return []
    probs = model.predict_proba(pd.concat([base, *trials], ignore_index=True))
    sign = 1.0 if HIGHER_IS_BETTER.get(model.target, True) else -1.0
    gains = pd.DataFrame(labels, columns=["feature", "value"]).assign(change=probs[1:] - probs[0])
    gains = gains[sign * gains["change"] > 1e-6]
    best = gains.loc[(sign * gains["change"]).groupby(gains["feature"]).idxmax()]
    best = best.sort_values("change", key=lambda s: -sign * s).head(top)
    return [
        _suggestion(model, features, base, r.feature, r.value, r.change) for r in best.itertuples()
    ]


def _suggestion(model, features, base, name, value, change) -> Suggestion:
    info = feature_info(features, name)
    current = base[name].iloc[0] if name in base else None
    text = (
        f"{info.description}: from {format_value(current, info)} to {format_value(value, info)}"
        f" → {change * 100:+.1f} pts {target_phrase(model.target)} (predicted, not causal)"
    )
    return Suggestion(name, info.family, current, float(value), float(change), text)
