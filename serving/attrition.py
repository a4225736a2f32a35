"""Rep attrition risk for managers: the latest `rep_attrition` scoring run, per rep and per team.

The scores come from the one scoring path (`barometer score --target rep_attrition`, reasons
from `barometer.scoring.reasons`); this module only shapes them. When there is no model, the
answer says why, in the words of the last training run (`barometer.model.status`), e.g. "not
enough departures to learn from (4; need 20)". The view is rebuilt once per scoring run (the
scores marker), never per request. Only manager keys reach it (`serving.deps.Manager`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import pandas as pd

from barometer.model.status import TrainingStatus, read_status, status_path
from barometer.scoring.history import latest_scores
from barometer.settings import Settings
from features.warehouse import connect, table_exists
from serving.insights import plain

TARGET = "rep_attrition"
ITEM_COLUMNS = ("rep_id", "team", "probability", "band", "percentile", "base_probability")


@dataclass(frozen=True)
class AttritionView:
    """One scoring run's attrition risks, or why there are none."""

    available: bool
    reason: str | None = None
    as_of: pd.Timestamp | None = None
    model_version: str | None = None
    reps: dict[str, dict] = field(default_factory=dict)  # rep_id -> risk
    teams: dict[str, list[dict]] = field(default_factory=dict)  # team -> risks, highest first

    def facts(self) -> dict:
        """What every answer carries: whether there is a model, why not, and the run."""
        return {
            "available": self.available,
            "reason": self.reason,
            "as_of": self.as_of,
            "model_version": self.model_version,
        }


def missing_reason(status: TrainingStatus | None) -> str:
    """Why there are no attrition scores, from the last training verdict."""
    if status is None:
        return (
            "No rep attrition model has been trained "
            "(run `barometer train --target rep_attrition`)."
        )
    if not status.trained:
        return status.reason
    return (
        "A rep attrition model is registered but no reps were scored yet "
        "(run `barometer score --target rep_attrition`)."
    )


def risk_item(row: dict) -> dict:
    """One stored score row as a rep's attrition risk."""
    reasons = json.loads(row["reasons"]) if isinstance(row["reasons"], str) else []
    item = {k: plain(row.get(k)) for k in ITEM_COLUMNS if k != "rep_id"}
    return item | {
        "rep_id": str(row["entity_id"]),
        "as_of": plain(row["as_of"]),
        "model_version": str(row["model_version"]),
        "reasons": [r["sentence"] for r in reasons],
        "contributions": reasons,
    }


def build_view(scores: pd.DataFrame, status: TrainingStatus | None) -> AttritionView:
    """The view of one scoring run's rows (`barometer.scoring.history.latest_scores`)."""
    if scores.empty:
        return AttritionView(False, missing_reason(status))
    items = [risk_item(row) for row in scores.to_dict("records")]
    items.sort(key=lambda r: (-r["probability"], r["rep_id"]))
    teams: dict[str, list[dict]] = {}
    for item in items:
        teams.setdefault(item["team"] or "(no team)", []).append(item)
    first = items[0]
    return AttritionView(
        True,
        None,
        first["as_of"],
        first["model_version"],
        {item["rep_id"]: item for item in items},
        teams,
    )


def read_view(settings: Settings) -> AttritionView:
    """Read the latest run and the training verdict (one short read-only connection)."""
    status = read_status(settings, TARGET)
    if not settings.warehouse_path.exists():
        return build_view(pd.DataFrame(), status)
    with connect(settings.warehouse_path, read_only=True) as con:
        scores = latest_scores(con, TARGET) if table_exists(con, "scores") else pd.DataFrame()
    return build_view(scores, status)


def status_stamp(settings: Settings) -> float | None:
    """When the last training verdict was written (None when there is none)."""
    try:
        return status_path(settings, TARGET).stat().st_mtime
    except OSError:
        return None


class AttritionHolder:
    """The view of the current scoring run, rebuilt only when the scores marker (a scoring run
    landed) or the training verdict changes."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.view: AttritionView | None = None
        self.lock = threading.Lock()

    def get(self, settings: Settings, marker) -> AttritionView:
        key = (marker, status_stamp(settings))
        with self.lock:
            if self.view is None or key != self.key:
                self.view, self.key = read_view(settings), key
            return self.view
