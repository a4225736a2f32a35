"""The features of the day being scored, computed in memory from the contract tables.

`barometer score` scores as of a midnight: by default the one after the data's last event, so the
latest day the data covers counts in full. Its feature rows come from the feature engine
(`features.engine`, the definitions training used) for that one cutoff, in memory; the training
tables (`features_account`, `labels_churn`, ...) are never read or replaced here. The rows the
run scored are kept in `scoring_features_*` by `barometer.scoring.history`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from barometer.targets import TARGETS
from features.warehouse import table_exists

# Every contract timestamp that records an event (not a plan, not a person's hire date).
EVENT_COLUMNS = {
    "activities": ("occurred_at", "logged_at"),
    "cases": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "opportunities": ("created_at", "closed_at"),
    "opportunity_stages": ("entered_at",),
}


def data_through(con) -> pd.Timestamp | None:
    """The data's last event (the latest event time in the warehouse), or None without events."""
    rows = con.execute(
        "select table_name || '.' || column_name from information_schema.columns "
        "where table_schema = 'main'"
    ).fetchall()
    present = {row[0] for row in rows}
    parts = [
        f"select max({column}) as t from {table}"
        for table, columns in EVENT_COLUMNS.items()
        for column in columns
        if f"{table}.{column}" in present  # optional tables and columns may be absent
    ]
    if not parts:
        return None
    found = con.execute(f"select max(t) from ({' union all '.join(parts)})").fetchone()[0]
    return None if found is None else pd.Timestamp(found)


def default_as_of(last_event: pd.Timestamp | None) -> pd.Timestamp:
    """The midnight after the last event: the latest day the data covers, counted in full."""
    if last_event is None:
        raise LookupError("The warehouse has no events: run `barometer ingest` first.")
    return pd.Timestamp(last_event).normalize() + pd.Timedelta(days=1)


STALE_AFTER_DAYS = 31


def stale_as_of(as_of: pd.Timestamp, last_event: pd.Timestamp | None) -> str | None:
    """A warning when `as_of` is more than a month past the data's last event: the export has
    nothing for those days, so every days-since feature has grown by the gap as if each account
    had gone quiet, and the scores describe a stale export rather than that day."""
    if last_event is None:
        return None
    gap = (pd.Timestamp(as_of) - default_as_of(last_event)).days
    if gap <= STALE_AFTER_DAYS:
        return None
    return (
        f"as of {as_of:%Y-%m-%d} is {gap} days past the last day the data covers "
        f"({last_event:%Y-%m-%d}): with nothing recorded since, every account looks {gap} days "
        "quieter than it may be. Ingest a newer export, or score as of a day the data covers."
    )


def as_of_day(value) -> pd.Timestamp:
    """A requested as-of date as a midnight; a clear error for a time of day."""
    stamp = pd.Timestamp(value)
    if stamp != stamp.normalize():
        raise ValueError(f"--as-of {value}: give a date (scores are as of a midnight, UTC).")
    return stamp


def day_features(warehouse: Path, target: str, as_of: pd.Timestamp, stage_order) -> pd.DataFrame:
    """Every entity's features as of `as_of` (one cutoff), computed by the feature engine on a
    read-only view of the warehouse; the same columns as the training feature tables."""
    import ibis

    from features.backends import tune_duckdb
    from features.engine import feature_frames
    from features.registry import feature_names

    entity = TARGETS[target].entity
    con = tune_duckdb(ibis.duckdb.connect(str(warehouse), read_only=True))
    try:
        if entity == "opportunity" and not table_exists(con.con, "opportunities"):
            raise LookupError("The warehouse has no opportunities table: no deals to score.")
        # Every registry feature of the entity, as one query (`only`): for one cutoff that is
        # faster than materialising each source, and the same frame.
        frames = feature_frames(
            con,
            [entity],
            [as_of],
            tuple(stage_order),
            stage_entry_snapshots=False,
            only=feature_names(entity),
        )
    finally:
        con.disconnect()
    frame = frames[entity][0]
    if "snapshot" in frame:
        frame = frame[frame["snapshot"] == "cutoff"]
    return frame.reset_index(drop=True)


def day_population(warehouse: Path, as_of: pd.Timestamp, data_end) -> pd.DataFrame | None:
    """The churn definition's population on `as_of` (`account_id`, `cutoff`): the definition the
    last feature build resolved (`build_meta`), as `barometer features` computes it at a cutoff.
    None before any build (the scoring context then takes accounts created before and not churned
    before `as_of`)."""
    import ibis

    from features.build import read_meta
    from features.label_config import ResolvedChurn
    from features.labels import churn_population

    con = ibis.duckdb.connect(str(warehouse), read_only=True)
    try:
        churn = read_meta(con.con).get("churn")
        if not churn:
            return None
        fields = {k: v for k, v in churn.items() if k != "chosen_because"}
        fields["activity_types"] = tuple(fields.get("activity_types") or ())
        resolved = ResolvedChurn(**fields, why=churn.get("chosen_because", ""))
        population = churn_population(con, [as_of], resolved, data_end)
    finally:
        con.disconnect()
    return population[["account_id", "cutoff"]]
