"""Feature rows for on-demand scoring and what-if: the rows the latest scoring run scored.

`load_latest_features` reads, per target, the feature rows of its latest run from
`scoring_features_account` / `scoring_features_opportunity` (`barometer.scoring.history`): the
day the stored scores are as of, so an on-demand score and a what-if start from the row the
stored score explains. The service loads them once in its lifespan and reloads them with the
scores, so nothing heavy runs per request.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from barometer.targets import ID_COLUMNS, TARGETS
from features.warehouse import connect, table_exists


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

    def as_of(self, target: str, entity_id: str):
        """The day the entity's row is as of (None without a row)."""
        row = self.record(target, entity_id)
        return None if row is None else row.get("as_of")


def column_values(column: pd.Series):
    """A column as an array whose items are what `frame.loc` returns, without copying: numbers as
    their numpy array, other columns (text, dates) as pandas' own array (str, Timestamp, NaN)."""
    return column.to_numpy() if column.dtype.kind in "biuf" else column.array


def read_latest_features(con, target: str) -> pd.DataFrame:
    """The feature rows of `target`'s latest scoring run (empty before the first run)."""
    table, id_column = TARGETS[target].scoring_features, ID_COLUMNS[target]
    if not table_exists(con, table):
        return pd.DataFrame(columns=[id_column, "as_of"])
    return con.execute(
        f'select * from "{table}" where as_of = (select max(as_of) from "{table}")'
    ).df()


def load_latest_features(warehouse, targets) -> FrameFeatureSource:
    """Open the warehouse read-only once and read every target's latest rows."""
    with connect(warehouse, read_only=True) as con:
        return FrameFeatureSource({t: read_latest_features(con, t) for t in targets})
