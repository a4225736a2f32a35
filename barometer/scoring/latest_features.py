"""Feature rows for on-demand scoring and what-if: each entity's latest row, held in memory.

`load_latest_features` reads, for every entity, its row at the latest cutoff from the feature tables
(`features_account`, `features_opportunity` with `snapshot = 'cutoff'`); the service loads it
once in its lifespan and reloads it with the scores, so nothing heavy runs per request.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from barometer.scoring.scores import ID_COLUMNS
from features.warehouse import connect, table_exists

FEATURE_TABLES = {
    "churn": "features_account",
    "deal_win": "features_opportunity",
    "rep_attrition": "features_rep",
}


class FrameFeatureSource:
    """Latest feature rows per target, looked up by entity id.

    `record` reads one entity's values from per-column arrays prepared once (O(1) per call, no
    frame); `latest` builds a one-row frame (`iloc`), for callers that want one.
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self.frames = {}
        self.positions = {}
        self.columns = {}
        for target, frame in frames.items():
            frame = frame.reset_index(drop=True)
            self.frames[target] = frame
            ids = frame[ID_COLUMNS[target]].astype(str)
            self.positions[target] = dict(zip(ids, range(len(frame)), strict=True))
            self.columns[target] = {name: column_values(frame[name]) for name in frame.columns}

    def record(self, target: str, entity_id: str) -> dict[str, object] | None:
        """The entity's latest features as {column: value}, or None when it has none."""
        position = self.positions.get(target, {}).get(entity_id)
        if position is None:
            return None
        return {name: values[position] for name, values in self.columns[target].items()}

    def latest(self, target: str, entity_id: str) -> pd.DataFrame | None:
        """A one-row frame of the entity's latest features, or None when it has none."""
        position = self.positions.get(target, {}).get(entity_id)
        if position is None:
            return None
        return self.frames[target].iloc[[position]].reset_index(drop=True)

    def cutoff(self, target: str, entity_id: str):
        row = self.record(target, entity_id)
        return None if row is None else row.get("cutoff")


def column_values(column: pd.Series):
    """A column as an array whose items are what `frame.loc` returns, without copying: numbers as
    their numpy array, other columns (text, dates) as pandas' own array (str, Timestamp, NaN)."""
    return column.to_numpy() if column.dtype.kind in "biuf" else column.array


def latest_features_sql(table: str, id_column: str, snapshot_filter: str) -> str:
    return f"""
        select * exclude (rn) from (
            select *, row_number() over (partition by {id_column} order by cutoff desc) as rn
            from {table} {snapshot_filter}
        ) where rn = 1
    """


def read_latest_features(con, target: str) -> pd.DataFrame:
    """Every entity's row at its latest cutoff (empty when the table does not exist yet)."""
    table, id_column = FEATURE_TABLES[target], ID_COLUMNS[target]
    if not table_exists(con, table):
        return pd.DataFrame(columns=[id_column, "cutoff"])
    where = "where snapshot = 'cutoff'" if target == "deal_win" else ""
    return con.execute(latest_features_sql(table, id_column, where)).df()


def load_latest_features(warehouse, targets) -> FrameFeatureSource:
    """Open the warehouse read-only once and read every target's latest rows."""
    with connect(warehouse, read_only=True) as con:
        return FrameFeatureSource({t: read_latest_features(con, t) for t in targets})
