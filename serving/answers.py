"""Stored or freshly computed scores shaped as API responses (plain dicts the schemas validate)."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from barometer.scoring.reasons import change_reasons
from barometer.scoring.scores import band

ID_FIELD = {"churn": "account_id", "deal_win": "opportunity_id"}
VALUE_FIELDS = {"churn": ("arr", "arr_at_risk"), "deal_win": ("amount", "expected_value")}


def score_view(row: dict, target: str, live: bool = False) -> dict:
    """A stored score row (see `snapshot.record`) as a churn-risk / win-probability body."""
    value, at_risk = VALUE_FIELDS[target]
    view = {
        ID_FIELD[target]: row["entity_id"],
        "as_of": row["as_of"],
        "probability": row["probability"],
        "band": row["band"],
        "percentile": row.get("percentile"),
        "model_version": row["model_version"],
        "base_probability": row.get("base_probability"),
        "reasons": [r["sentence"] for r in row["reasons"]],
        "contributions": row["reasons"],
        "change": change_view(row),
        "segment": row.get("segment"),
        "owner_rep_id": row.get("owner_rep_id"),
        "team": row.get("team"),
        value: row.get("value"),
        at_risk: row.get("value_at_risk"),
        "live": live,
    }
    if target == "deal_win":
        view |= {"account_id": row.get("account_id"), "stage": row.get("stage")}
    return view


def change_view(row: dict) -> dict | None:
    if row.get("previous_probability") is None or row.get("previous_as_of") is None:
        return None
    return {
        "previous_as_of": row["previous_as_of"],
        "previous_probability": row["previous_probability"],
        "previous_model_version": row.get("previous_model_version"),
        "change": row["probability"] - row["previous_probability"],
        "reasons": row.get("change_reasons", []),
    }


def item_view(row: dict, target: str) -> dict:
    """A worklist row."""
    value, at_risk = VALUE_FIELDS[target]
    item = {
        ID_FIELD[target]: row["entity_id"],
        "probability": row["probability"],
        "band": row["band"],
        "percentile": row.get("percentile"),
        value: row.get("value"),
        at_risk: row.get("value_at_risk"),
        "segment": row.get("segment"),
        "owner_rep_id": row.get("owner_rep_id"),
        "team": row.get("team"),
        "top_reason": row["reasons"][0]["sentence"] if row["reasons"] else None,
        "as_of": row["as_of"],
        "model_version": row["model_version"],
    }
    if target == "deal_win":
        item |= {"account_id": row.get("account_id"), "stage": row.get("stage")}
    return item


def live_row(
    loaded,
    entity_id: str,
    explanation,
    reasons: list[dict],
    stored: dict | None,
    peers: np.ndarray | None,
    now: datetime,
) -> dict:
    """One entity scored now (its explanation and reasons), in the shape of a stored row."""
    probability = float(explanation.probability[0])
    base = dict(stored or {})
    value = base.get("value")
    percentile = None
    if peers is not None and len(peers):
        percentile = round(
            float(np.searchsorted(peers, probability, side="right")) / len(peers) * 100, 2
        )
    base |= {
        "entity_id": entity_id,
        "as_of": now,
        "probability": probability,
        "band": str(band(np.array([probability]))[0]),
        "percentile": percentile,
        "model_version": loaded.version,
        "base_probability": explanation.base_probability,
        "reasons": reasons,
        "value_at_risk": None if value is None else probability * value,
    }
    if stored is not None:
        base |= {
            "previous_as_of": stored["as_of"],
            "previous_probability": stored["probability"],
            "previous_model_version": stored["model_version"],
            "change_reasons": change_reasons(reasons, stored["reasons"]),
        }
    return base
