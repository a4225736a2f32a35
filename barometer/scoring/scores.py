"""The scoring job's pure part: feature rows + context in, one score row per entity out.

Output columns (also the `--out` CSV/Parquet columns, in this order):

| column | meaning |
|---|---|
| `account_id` / `opportunity_id` | the entity scored |
| `as_of` | the date the score is as of (features use only data before it) |
| `probability` | calibrated churn risk / win probability, 0-1 |
| `model_version` | champion version that produced it |
| `reasons` | JSON list of the top reasons: `feature, family, value, points, sentence` |
| `band` | `high` / `medium` / `low` (see `BAND_THRESHOLDS`) |
| `percentile` | 0-100, rank of the probability among peers (same segment; same stage for deals) |
| `base_probability` | the model's average prediction; reasons' points add up from it |
| `account_id` | (opportunities only) the deal's account |
| `segment`, `owner_rep_id`, `team`, `stage` | context at scoring time, for worklist filters |
| `value` | ARR (accounts) or deal amount (opportunities) |
| `value_at_risk` | `probability * value` (ARR at risk for churn) |
| `target`, `scored_at` | which model, and when the job ran |
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.scoring.reasons import TOP_K, row_reasons

ID_COLUMNS = {"churn": "account_id", "deal_win": "opportunity_id", "rep_attrition": "rep_id"}
# Calibrated probability at or above which a score is in the band.
BAND_THRESHOLDS = {"high": 0.5, "medium": 0.2}
CONTEXT_COLUMNS = ("segment", "owner_rep_id", "team", "stage", "value")
OUTPUT_COLUMNS = (
    "as_of",
    "probability",
    "model_version",
    "reasons",
    "band",
    "percentile",
    "base_probability",
)


def band(probability: np.ndarray) -> np.ndarray:
    """`high` / `medium` / `low` by the calibrated probability."""
    p = np.asarray(probability, dtype=float)
    return np.where(
        p >= BAND_THRESHOLDS["high"],
        "high",
        np.where(p >= BAND_THRESHOLDS["medium"], "medium", "low"),
    )


def peer_percentile(probability: np.ndarray, peers: pd.Series | None) -> np.ndarray:
    """Percentile (0-100] of each probability within its peer group (all rows when no groups)."""
    scores = pd.Series(np.asarray(probability, dtype=float))
    if peers is None:
        return (scores.rank(pct=True, method="max") * 100).to_numpy()
    groups = pd.Series(peers.to_numpy(dtype=object)).fillna("(none)")
    return (scores.groupby(groups).rank(pct=True, method="max") * 100).to_numpy()


def peer_column(target: str) -> str:
    return {"deal_win": "stage", "rep_attrition": "team"}.get(target, "segment")


def score_frame(
    model: ScoringModel,
    features: pd.DataFrame,
    context: pd.DataFrame,
    *,
    as_of: datetime,
    model_version: str,
    scored_at: datetime,
    registry: dict | None = None,
    top_k: int = TOP_K,
) -> pd.DataFrame:
    """Score rows of `features` (one per entity, id column first) with `context` aligned by row.

    Returns the documented output columns; input frames are not modified.
    """
    target = model.target
    id_column = ID_COLUMNS[target]
    explanation = model.explain(features.reset_index(drop=True))
    ctx = context.reset_index(drop=True).reindex(columns=[*CONTEXT_COLUMNS, "account_id"])
    probability = explanation.probability
    peers = ctx[peer_column(target)] if ctx[peer_column(target)].notna().any() else None
    reasons = row_reasons(
        explanation.points, features.reset_index(drop=True), target, registry or {}, top_k
    )
    out = pd.DataFrame({id_column: features[id_column].astype(str).to_numpy()})
    out["as_of"] = pd.Timestamp(as_of)
    out["probability"] = probability
    out["model_version"] = str(model_version)
    out["reasons"] = [json.dumps(r, separators=(",", ":")) for r in reasons]
    out["band"] = band(probability)
    out["percentile"] = np.round(peer_percentile(probability, peers), 2)
    out["base_probability"] = explanation.base_probability
    if target == "deal_win":
        out["account_id"] = ctx["account_id"].astype(object).to_numpy()
    for column in CONTEXT_COLUMNS:
        out[column] = ctx[column].to_numpy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    out["value_at_risk"] = out["probability"] * out["value"]
    out["target"] = target
    out["scored_at"] = pd.Timestamp(scored_at)
    return out
