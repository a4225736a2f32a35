"""The latest scores held in memory for fast lookups and worklists; rebuilt when a new run lands.

A snapshot is immutable once built; a refresh builds a new one and swaps the reference, like models.
Every entity's stored-score response bytes are built with it (`serving.bodies`), so a snapshot in
service answers any scored entity from memory and never mixes two runs.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from barometer.scoring.bands import BandCuts, band_cuts
from serving.bodies import StoredBodies, StoredBody, build_bodies

SORTS = {"churn": ("risk", "arr_at_risk"), "deal_win": ("probability", "expected_value")}
SORT_COLUMNS = {
    "risk": "probability",
    "arr_at_risk": "value_at_risk",
    "probability": "probability",
    "expected_value": "value_at_risk",
}
FILTERS = ("segment", "owner_rep_id", "team", "band", "stage")
# Entries built lazily per snapshot (rows as served, worklist pages). Bounded, so memory stays flat
# however many distinct entities or queries are asked for (a few KB each). Stored-score bodies are
# not among them: all of a run's are built with the snapshot (sized by the run).
CACHED_ROWS = 4096
CACHED_PAGES = 4096
TEXT_COLUMNS = ("reasons", "change_reasons", "actions")  # JSON text, parsed per row served


class BoundedCache:
    """A dict that forgets its oldest entry when full. Safe enough to share between the event loop
    and worker threads: losing an entry to a race only means building it again."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: dict = {}

    def get(self, key):
        return self._data.get(key)

    def put(self, key, value):
        data = self._data
        while len(data) >= self.size:
            try:
                del data[next(iter(data))]
            except (KeyError, StopIteration, RuntimeError):  # another thread evicted it first
                break
        data[key] = value
        return value

    def __len__(self) -> int:
        return len(self._data)


class CursorError(ValueError):
    """A worklist cursor that is malformed or belongs to another ordering."""


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    next_cursor: str | None
    total: int


@dataclass
class ScoreSnapshot:
    """One target's latest scores: row lookups by id and ranked, filtered pages."""

    target: str
    frame: pd.DataFrame
    version: str = ""
    run: dict | None = None  # the run's `score_runs` row: as-of, data's last event, bands
    _ids: dict[str, int] = field(init=False, repr=False)
    _orders: dict[str, np.ndarray] = field(init=False, repr=False)
    _cache: BoundedCache = field(init=False, repr=False)
    _bodies: StoredBodies = field(init=False, repr=False)

    def __post_init__(self) -> None:
        frame = self.frame.reset_index(drop=True)
        self.frame = frame
        self._entity = frame["entity_id"].astype(str).to_numpy(dtype=str)
        self._ids = {str(entity): i for i, entity in enumerate(self._entity)}
        self._orders = {}
        self._keys = {}
        self._filters = {c: frame[c].astype(object).to_numpy() for c in FILTERS if c in frame}
        # One object array per column: no pandas row access per request, and no dict per row for
        # the garbage collector to walk (tens of thousands of row dicts make full collections
        # slow). The reasons texts (~2 KB a row each) are read from the frame's own arrays instead
        # of being copied into Python strings: far less memory for a few µs more per row built.
        self._columns = {
            c: frame[c].array if c in TEXT_COLUMNS else frame[c].to_numpy(dtype=object)
            for c in frame.columns
        }
        self._records = BoundedCache(CACHED_ROWS)
        self._cache = BoundedCache(CACHED_PAGES)
        self._peers: dict[str, np.ndarray] = {}
        for sort in SORTS[self.target]:
            keys = pd.to_numeric(frame[SORT_COLUMNS[sort]], errors="coerce").to_numpy(dtype=float)
            keys = np.where(np.isnan(keys), -np.inf, keys)
            self._keys[sort] = keys
            self._orders[sort] = np.lexsort((self._entity, -keys))
        self._bodies = build_bodies(frame, self.target)

    def __len__(self) -> int:
        return len(self.frame)

    @cached_property
    def cuts(self) -> BandCuts:
        """The run's bands; for a run stored without them, the default rule on its scores."""
        run = self.run or {}
        if run.get("high_at") is not None and run.get("base_rate") is not None:
            return BandCuts(
                self.target,
                str(run.get("band_rule") or "lift"),
                float(run["base_rate"]),
                float(run["high_at"]),
                float(run["medium_at"]),
            )
        return band_cuts(self.frame["probability"].to_numpy(dtype=float), self.target)

    @property
    def summary(self) -> dict:
        """What every page and list states: the as-of date, the data's last event, the bands."""
        run = self.run or {}
        as_of = run.get("as_of")
        if as_of is None and len(self.frame):
            as_of = self.frame["as_of"].iloc[0]
        cuts = self.cuts
        bands = None
        if len(self.frame):
            bands = {
                "rule": cuts.rule,
                "base_rate": round(cuts.base_rate, 6),
                "high_at": round(cuts.high_at, 6),
                "medium_at": round(cuts.medium_at, 6),
                "explanation": run.get("bands") or cuts.explanation(),
            }
        return {
            "as_of": utc(as_of),
            "data_through": utc(run.get("data_through")),
            "bands": bands,
        }

    def row(self, entity_id: str) -> dict | None:
        """The latest score of one entity as a plain dict (None when never scored)."""
        position = self._ids.get(entity_id)
        return None if position is None else self.record_at(position)

    def record_at(self, position: int) -> dict:
        """The row at `position` as served (converted once, then reused; do not mutate)."""
        found = self._records.get(position)
        if found is None:
            raw = {column: values[position] for column, values in self._columns.items()}
            found = self._records.put(position, record(raw))
        return found

    def body(self, entity_id: str) -> StoredBody | None:
        """The entity's stored-score response bytes (None when not scored in this run)."""
        position = self._ids.get(entity_id)
        return None if position is None else self._bodies.at(position)

    @property
    def body_bytes(self) -> int:
        """Memory held by the stored-score bodies."""
        return self._bodies.nbytes

    def cached(self, key, build):
        """A response body (or other value) built once per snapshot while it stays among the
        `CACHED_PAGES` most recent (snapshots never change once built)."""
        body = self._cache.get(key)
        if body is None:
            body = self._cache.put(key, build())
        return body

    def peers(self, entity_id: str | None, group_value) -> np.ndarray:
        """Sorted probabilities of the entity's peers (same segment, or stage for deals)."""
        column = "stage" if self.target == "deal_win" else "segment"
        key = f"{column}:{group_value}"  # one per segment or stage: few, so not bounded
        found = self._peers.get(key)
        if found is None:
            values = self._filters.get(column)
            mask = values == group_value if values is not None and group_value is not None else None
            probability = self.frame["probability"].to_numpy(dtype=float)
            found = self._peers[key] = np.sort(probability if mask is None else probability[mask])
        return found

    def page(
        self,
        sort: str,
        filters: dict[str, str | None],
        limit: int,
        cursor: str | None,
        offset: int = 0,
    ) -> Page:
        """Rows ranked by `sort` (highest first, ties by id), filtered, after `cursor` (or, without
        one, after the first `offset` rows)."""
        keys = self._keys[sort]
        mask = np.ones(len(keys), dtype=bool)
        for column, wanted in filters.items():
            if wanted is not None:
                values = self._filters.get(column)
                mask &= (values == wanted) if values is not None else False
        total = int(mask.sum())
        if cursor:
            last_key, last_id = decode_cursor(cursor, sort)
            mask &= (keys < last_key) | ((keys == last_key) & (self._entity > last_id))
        order = self._orders[sort]
        chosen = order[mask[order]][(0 if cursor else offset) :][: limit + 1]
        rows = [self.record_at(int(i)) for i in chosen[:limit]]
        more = len(chosen) > limit
        last = chosen[limit - 1] if more else None
        next_cursor = encode_cursor(sort, keys[last], str(self._entity[last])) if more else None
        return Page(rows, next_cursor, total)


def record(row: dict) -> dict:
    """A stored score row as JSON-ready Python values, reasons parsed."""
    out = {}
    for key, value in row.items():
        if isinstance(value, pd.Timestamp):  # stored naive UTC; served with its zone (RFC 3339)
            value = (value if value.tzinfo else value.tz_localize("UTC")).to_pydatetime()
        elif isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and np.isnan(value) or value is pd.NaT or value is pd.NA:
            value = None
        out[key] = value
    for name in TEXT_COLUMNS:
        out[name] = json.loads(out.get(name) or "[]")
    return out


def utc(value):
    """A stored naive-UTC time as an aware datetime (None stays None)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    return (stamp if stamp.tzinfo else stamp.tz_localize("UTC")).to_pydatetime()


def encode_cursor(sort: str, key: float, entity_id: str) -> str:
    payload = json.dumps({"s": sort, "k": None if np.isinf(key) else float(key), "i": entity_id})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[float, str]:
    """The (sort key, entity id) a page ended on; CursorError when it cannot be read."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        key = -np.inf if data["k"] is None else float(data["k"])
        entity, sorted_by = str(data["i"]), data["s"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise CursorError("cursor is not one this API returned") from exc
    if sorted_by != sort:
        raise CursorError(f"cursor was made for sort={sorted_by!r}, not sort={sort!r}")
    return key, entity


def empty_snapshot(target: str) -> ScoreSnapshot:
    from barometer.scoring.history import SCORES_COLUMNS

    return ScoreSnapshot(target, pd.DataFrame(columns=list(SCORES_COLUMNS)))
