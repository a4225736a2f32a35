"""Scores with reasons for many entities at once, and incremental rescoring.

Speed comes from design (TreeSHAP itself runs at LightGBM's speed): explain only what is served
(the top reasons each way), and rescore only the entities with new events since the last
scoring, reusing every other row of the previous scoring.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from explain.common import Registry, feature_info, lookup
from explain.model import ScoringModel
from explain.reasons import sentence

SCORE_COLUMNS = ("probability", "reasons_up", "reasons_down")


def _sentences(model, features, values: np.ndarray, points: np.ndarray, cols: np.ndarray):
    """Sentences for the chosen columns of each row (skipping zero-point columns)."""
    names = model.feature_names
    infos = [feature_info(features, n) for n in names]
    out = []
    for i in range(len(points)):
        row = [j for j in cols[i] if points[i, j] != 0]
        out.append([sentence(infos[j], values[i, j], points[i, j], model.target) for j in row])
    return out


def score_with_reasons(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry | None = None,
    *,
    key: str = "account_id",
    top: int = 3,
) -> pd.DataFrame:
    """One row per entity: key, probability, and the top `top` reason sentences each way."""
    explanation = model.explain(frame)
    points = explanation.points.to_numpy()
    k = min(top, points.shape[1])
    order = np.argsort(-points, axis=1, kind="stable")
    up, down = order[:, :k], order[:, ::-1][:, :k]
    up = np.where(np.take_along_axis(points, up, 1) > 0, up, -1)
    down = np.where(np.take_along_axis(points, down, 1) < 0, down, -1)
    values = frame.reindex(columns=model.feature_names).to_numpy(dtype=object)
    features = lookup(registry)
    padded = np.column_stack([points, np.zeros(len(points))])  # column -1 = "no reason"
    return pd.DataFrame(
        {
            key: frame[key].to_numpy(),
            "probability": explanation.probability,
            "reasons_up": _sentences(model, features, values, padded, up),
            "reasons_down": _sentences(model, features, values, padded, down),
        }
    )


def entities_with_new_events(
    events: pd.DataFrame, since: pd.Timestamp, *, key: str = "account_id"
) -> set:
    """Entities with an event recorded at or after `since` (by `logged_at`, else `occurred_at`)."""
    stamp = events["occurred_at"]
    if "logged_at" in events.columns:
        stamp = events["logged_at"].fillna(stamp)
    return set(events.loc[stamp >= pd.Timestamp(since), key])


def rescore_incremental(
    model: ScoringModel,
    frame: pd.DataFrame,
    previous: pd.DataFrame,
    changed: Iterable,
    registry: Registry | None = None,
    *,
    key: str = "account_id",
    top: int = 3,
) -> pd.DataFrame:
    """The previous scoring with changed (and never-scored) entities rescored.

    `frame` holds the current features of every entity; only rows whose `key` is in `changed` or
    absent from `previous` are explained. Entities no longer in `frame` are dropped.
    """
    changed = set(changed) | (set(frame[key]) - set(previous[key]))
    todo = frame[frame[key].isin(changed)]
    kept = previous[previous[key].isin(set(frame[key]) - changed)]
    fresh = score_with_reasons(model, todo, registry, key=key, top=top)
    return pd.concat([kept, fresh], ignore_index=True)
