"""On-demand scoring without per-request pandas work.

For each (model version, set of latest feature rows) the rows are turned once into the float matrix
the booster reads and an object array of raw values (for the reasons' wording); a request slices
its entity's row. `ScoringModel.explain_matrix` explains such a prepared
matrix: same TreeSHAP, calibration and apportioning, without re-encoding a one-row DataFrame
(which costs milliseconds of pandas per request).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.targets import ID_COLUMNS
from explain.whatif import candidates

MAX_CACHED = 4


@dataclass(frozen=True)
class LiveRows:
    """The latest feature rows of one target, prepared for one model."""

    matrix: np.ndarray  # (n, features) floats, categories encoded as the model's codes
    values: np.ndarray  # (n, features) raw values
    positions: dict[str, int]
    memo: dict = field(default_factory=dict, compare=False)  # what is derived from all rows

    def row(self, entity_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        position = self.positions.get(entity_id)
        if position is None:
            return None
        return self.matrix[position : position + 1], self.values[position : position + 1]


def prepare(model: ScoringModel, frame: pd.DataFrame) -> LiveRows:
    """Encode every row once (vectorised over the whole frame)."""
    frame = frame.reset_index(drop=True)
    ids = frame[ID_COLUMNS[model.target]].astype(str)
    values = frame.reindex(columns=model.feature_names).to_numpy(dtype=object)
    return LiveRows(model.matrix(frame), values, dict(zip(ids, range(len(frame)), strict=True)))


class LiveCache:
    """Prepared rows per (target, model version, feature source); rebuilt when either changes."""

    def __init__(self) -> None:
        self._rows: dict[tuple, LiveRows] = {}
        self._lock = threading.Lock()

    def ready(self, loaded, source) -> bool:
        """True when `rows` would answer from the cache (no preparation to wait for)."""
        return self._key(loaded, source) in self._rows

    @staticmethod
    def _key(loaded, source) -> tuple:
        return (loaded.target, loaded.version, id(loaded.model), id(source))

    def warm(self, bundle, source) -> None:
        """Prepare every model of `bundle` (after loading or a swap, not on a request), and drop
        rows prepared for models or feature rows no longer served (tens of MB at 50k entities)."""
        for loaded in bundle.models.values():
            self.rows(loaded, source)
        current = {self._key(loaded, source) for loaded in bundle.models.values()}
        with self._lock:
            self._rows = {k: v for k, v in self._rows.items() if k in current}

    def tried(self, loaded, rows: LiveRows | None, registry) -> list:
        """The values suggestions try (`explain.whatif.candidates`: every entity's row is a peer),
        worked out once per prepared rows."""
        if rows is None:
            return []
        found = rows.memo.get("tried")
        if found is None:
            found = rows.memo["tried"] = candidates(loaded.model, registry, rows.matrix)
        return found

    def rows(self, loaded, source) -> LiveRows | None:
        frame = source.frames.get(loaded.target)
        if frame is None:
            return None
        key = self._key(loaded, source)
        found = self._rows.get(key)
        if found is None:
            with self._lock:
                found = self._rows.get(key)
                if found is None:
                    found = prepare(loaded.model, frame)
                    if len(self._rows) >= MAX_CACHED:
                        self._rows.clear()
                    self._rows[key] = found
        return found
