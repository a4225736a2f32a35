"""Stored or freshly computed scores shaped as API responses (plain dicts the schemas validate).

Numbers are served as the scoring job rounded them (`barometer.scoring.reasons.DECIMALS` for
probabilities and points, cents for money), and differences are rounded the same way, so no
answer carries float noise such as 57.99999999999999.
"""

from __future__ import annotations

from barometer.scoring.reasons import DECIMALS
from barometer.targets import ID_COLUMNS

VALUE_FIELDS = {"churn": ("arr", "arr_at_risk"), "deal_win": ("amount", "expected_value")}


def score_view(row: dict, target: str, live: bool = False) -> dict:
    """A stored score row (see `snapshot.record`) as a churn-risk / win-probability body."""
    value, at_risk = VALUE_FIELDS[target]
    view = {
        ID_COLUMNS[target]: row["entity_id"],
        "as_of": row["as_of"],
        "data_through": row.get("data_through"),
        "probability": row["probability"],
        "band": row["band"],
        "lift": row.get("lift"),
        "percentile": row.get("percentile"),
        "model_version": row["model_version"],
        "base_probability": row.get("base_probability"),
        "reasons": [r["sentence"] for r in row["reasons"]],
        "contributions": row["reasons"],
        "change": change_view(row),
        "actions": row.get("actions") or [],
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


def change(row: dict) -> float | None:
    """The change since the previous scoring, rounded like the probabilities (None before)."""
    if row.get("previous_probability") is None:
        return None
    return round(row["probability"] - row["previous_probability"], DECIMALS)


def change_view(row: dict) -> dict | None:
    if row.get("previous_probability") is None or row.get("previous_as_of") is None:
        return None
    return {
        "previous_as_of": row["previous_as_of"],
        "previous_probability": row["previous_probability"],
        "previous_model_version": row.get("previous_model_version"),
        "change": change(row),
        "reasons": row.get("change_reasons") or [],
    }


def item_view(row: dict, target: str) -> dict:
    """A worklist row."""
    value, at_risk = VALUE_FIELDS[target]
    shown = [r for r in row["reasons"] if r.get("feature") != "other"]
    item = {
        ID_COLUMNS[target]: row["entity_id"],
        "probability": row["probability"],
        "band": row["band"],
        "lift": row.get("lift"),
        "change": change(row),
        "percentile": row.get("percentile"),
        value: row.get("value"),
        at_risk: row.get("value_at_risk"),
        "segment": row.get("segment"),
        "owner_rep_id": row.get("owner_rep_id"),
        "team": row.get("team"),
        "top_reason": shown[0]["sentence"] if shown else None,
        "as_of": row["as_of"],
        "data_through": row.get("data_through"),
        "model_version": row["model_version"],
    }
    if target == "deal_win":
        item |= {"account_id": row.get("account_id"), "stage": row.get("stage")}
    return item


def live_row(stored: dict | None, entity_id: str, scored: dict, version: str, extra: dict) -> dict:
    """A score made now (`barometer.scoring.scores.score_now`), in the shape of a stored row:
    the stored row's context, the new score, and (in `extra`) its as-of, percentile and change."""
    row = dict(stored or {})
    value = row.get("value")
    row |= scored | extra
    row |= {
        "entity_id": entity_id,
        "model_version": version,
        "value_at_risk": None if value is None else round(scored["probability"] * value, 2),
    }
    return row
