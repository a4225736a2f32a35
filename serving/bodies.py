"""Every stored score's response bytes, built in bulk when a scoring run is loaded.

A stored churn-risk or win-probability answer is fixed for a scoring run, so the snapshot builds all
of them at once (columns converted vectorised, reasons parsed in one pass, validated and dumped by
the response schema) instead of one per first request. They are kept as a few large byte blobs
with offsets: no Python object per answer for the garbage collector, and memory sized by the run
(a few KB per entity: its reasons, change reasons and actions). The snapshot is swapped only once
its bodies are built, so an answer never mixes two runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel
from pydantic_core import from_json

from barometer.scoring.history import SCORES_COLUMNS
from serving.answers import score_view
from serving.schemas.responses import ChurnRisk, WinProbability

SCHEMAS: dict[str, type[BaseModel]] = {"churn": ChurnRisk, "deal_win": WinProbability}
CHUNK = 2048  # rows converted and dumped together; bounds the transient objects of a build
# Rows between GIL releases (~3 ms of work): requests waiting on the event loop get in sooner than
# the interpreter's 5 ms switch interval while a refresh builds a run's bodies in a worker thread.
YIELD_EVERY = 32
JSON_COLUMNS = ("reasons", "change_reasons", "actions")  # JSON text in the scores table
# A stored row's plain columns: the scores table's, without those a body does not show.
ROW_COLUMNS = tuple(c for c in SCORES_COLUMNS if c not in ("target", "scored_at", *JSON_COLUMNS))


class StoredBody(NamedTuple):
    """A stored score's response bytes and its probability (for the score histogram)."""

    body: bytes
    probability: float


class StoredBodies:
    """The bodies of one run, in entity position order: blobs of `CHUNK` bodies with offsets."""

    def __init__(self, blobs: list[bytes], offsets: list[np.ndarray], probability: np.ndarray):
        self._blobs = blobs
        self._offsets = offsets
        self._probability = probability

    def __len__(self) -> int:
        return len(self._probability)

    def at(self, position: int) -> StoredBody:
        chunk, i = divmod(position, CHUNK)
        offsets = self._offsets[chunk]
        body = self._blobs[chunk][offsets[i] : offsets[i + 1]]
        return StoredBody(body, float(self._probability[position]))

    @property
    def nbytes(self) -> int:
        """Bytes held (bodies and offsets)."""
        return sum(len(b) for b in self._blobs) + sum(o.nbytes for o in self._offsets)


def build_bodies(frame: pd.DataFrame, target: str) -> StoredBodies:
    """The validated response bytes of every row of a snapshot frame (`store.latest_scores`)."""
    schema = SCHEMAS[target]
    blobs, offsets = [], []
    for start in range(0, len(frame), CHUNK):
        bodies = []
        for i, row in enumerate(rows(frame.iloc[start : start + CHUNK])):
            bodies.append(body_of(schema, row, target))
            if i % YIELD_EVERY == 0:
                time.sleep(0)  # a refresh builds in a worker thread: let the event loop in
        blobs.append(b"".join(bodies))
        offsets.append(np.cumsum([0, *map(len, bodies)], dtype=np.int64))
    probability = frame["probability"].to_numpy(dtype=float) if len(frame) else np.empty(0)
    return StoredBodies(blobs, offsets, probability)


def body_of(schema: type[BaseModel], row: dict, target: str) -> bytes:
    """One stored score row (`snapshot.record`) as validated response bytes."""
    return schema.model_validate(score_view(row, target)).model_dump_json().encode()


def rows(frame: pd.DataFrame) -> Iterator[dict]:
    """The frame's rows as `snapshot.record` makes them (the fields `views.score_view` reads)."""
    names = [c for c in ROW_COLUMNS if c in frame]
    columns = [plain(frame[c]) for c in names]
    texts = {name: parsed(frame.get(name), len(frame)) for name in JSON_COLUMNS}
    for i, values in enumerate(zip(*columns, strict=True)):
        row = dict(zip(names, values, strict=True))
        for name, found in texts.items():
            row[name] = found[i]
        yield row


def plain(column: pd.Series) -> np.ndarray:
    """A column as Python values: floats, str, UTC datetimes; None for missing."""
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column if column.dt.tz is not None else column.dt.tz_localize("UTC")
        values = np.array(stamps.dt.to_pydatetime(), dtype=object)
    else:
        values = column.to_numpy(dtype=object, copy=True)
    values[column.isna().to_numpy()] = None
    return values


def parsed(column: pd.Series | None, n: int) -> list[list[dict]]:
    """Each row's JSON list (empty when missing), parsed in one pass."""
    if column is None:
        return [[] for _ in range(n)]
    texts = column.astype(object).where(column.notna(), None).tolist()
    joined = "[" + ",".join(t or "[]" for t in texts) + "]"
    return from_json(joined) if n else []
