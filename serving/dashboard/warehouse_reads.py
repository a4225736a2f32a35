"""Warehouse reads the pages need beyond the API's snapshot: score history, an account's recent
activities, cases and NPS, a deal's stage history and the stage norms. The I/O edge: read once per
scoring run into an in-memory index (one short read-only connection), then sliced per page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.warehouse import connect, table_exists

RECENT = 10
# Columns shown per table (those the warehouse has), newest first by the first column.
ACCOUNT_COLUMNS = {
    "activities": ("occurred_at", "type", "direction", "rep_id"),
    "cases": ("opened_at", "priority", "channel", "closed_at", "first_contact_resolved"),
    "nps": ("responded_at", "score"),
}
STAGES_SQL = """
    select stage, entered_at from opportunity_stages where opportunity_id = ? order by entered_at
"""
# Typical days spent in each stage by deals that were won (the stage's norm).
NORMS_SQL = """
    with s as (
        select s.opportunity_id, s.stage, s.entered_at,
               lead(s.entered_at) over (partition by s.opportunity_id order by s.entered_at)
                   as left_at
        from opportunity_stages s join opportunities o using (opportunity_id)
        where o.outcome = 'won'
    )
    select stage, median(date_diff('day', entered_at, left_at)) as norm_days,
           count(*) as deals
    from s where left_at is not null group by stage
"""


def shown(value):
    """A value as a page shows it: dates as YYYY-MM-DD, numpy scalars as Python, missing as None."""
    if isinstance(value, np.datetime64):
        value = None if np.isnat(value) else pd.Timestamp(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return f"{value:%Y-%m-%d}"
    return value


def stage_norms(path: Path) -> pd.DataFrame:
    """Median days in each stage among won deals (empty when the tables are missing)."""
    if not path.exists():
        return pd.DataFrame(columns=["stage", "norm_days", "deals"])
    with connect(path, read_only=True) as con:
        if not (table_exists(con, "opportunity_stages") and table_exists(con, "opportunities")):
            return pd.DataFrame(columns=["stage", "norm_days", "deals"])
        return con.execute(NORMS_SQL).df()


def stage_table(stages: pd.DataFrame, norms: pd.DataFrame, now: pd.Timestamp) -> list[dict]:
    """Each stage the deal entered: days spent (to the next stage, or to `now` while current)
    against the won-deal norm, and whether it ran over."""
    if stages.empty:
        return []
    entered = pd.to_datetime(stages["entered_at"])
    left = entered.shift(-1).fillna(now)
    days = (left - entered).dt.total_seconds() / 86400
    norm = dict(zip(norms["stage"], norms["norm_days"], strict=True)) if len(norms) else {}
    rows = []
    for i, stage in enumerate(stages["stage"]):
        expected = norm.get(stage)
        expected = None if expected is None or pd.isna(expected) else float(expected)
        rows.append(
            {
                "stage": stage,
                "entered_at": entered.iloc[i],
                "days": round(float(days.iloc[i]), 1),
                "norm_days": expected,
                "current": i == len(stages) - 1,
                "over": expected is not None and float(days.iloc[i]) > expected,
            }
        )
    return rows


# ------------------------------------------------------------------ in-memory index per scoring run

HISTORY_SQL = """
    select entity_id, as_of, probability from scores where target = ? order by entity_id, as_of
"""


class KeyedRows:
    """Rows sorted once by a key column (and within a key by `order`), sliced by key with a
    binary search: no per-key dicts, and no pandas work per request."""

    def __init__(
        self, frame: pd.DataFrame, key: str, order: str | None = None, newest_first: bool = False
    ) -> None:
        by, ascending = ([key], True) if order is None else ([key, order], [True, not newest_first])
        frame = frame.sort_values(by, ascending=ascending, kind="stable", na_position="last")
        frame = frame.reset_index(drop=True)
        self.frame, self.keys = frame, frame[key].astype(str).to_numpy(dtype=str)
        self.columns = {c: frame[c].to_numpy() for c in frame.columns if c != key}

    def span(self, value: str) -> slice:
        start = np.searchsorted(self.keys, value, side="left")
        return slice(int(start), int(np.searchsorted(self.keys, value, side="right")))

    def rows(self, value: str) -> pd.DataFrame:
        return self.frame.iloc[self.span(value)]

    def arrays(self, value: str) -> dict[str, np.ndarray]:
        """The key's rows as one array per column (the key column left out)."""
        where = self.span(value)
        return {c: values[where] for c, values in self.columns.items()}

    def records(self, value: str, limit: int | None = None) -> list[dict]:
        """The key's first `limit` rows as shown on a page (see `shown`)."""
        where = self.span(value)
        stop = where.stop if limit is None else min(where.stop, where.start + limit)
        return [
            {c: shown(values[i]) for c, values in self.columns.items()}
            for i in range(where.start, stop)
        ]


def recent_sql(table: str, columns: list[str], key: str, order: str | None) -> str:
    """Each key's latest RECENT rows of `table` (all of them when there is no order column)."""
    rank = f"row_number() over (partition by {key} order by {order} desc nulls last)"
    cols = ", ".join(dict.fromkeys([key, *columns]))
    if order is None:
        return f"select {cols} from {table}"
    return f"select {cols} from (select *, {rank} as rn from {table}) where rn <= {RECENT}"


def read_index(path: Path) -> dict[str, KeyedRows]:
    """Score histories, each account's recent activities/cases/NPS and every deal's stages,
    read in one connection (once per scoring run)."""
    out: dict[str, KeyedRows] = {}
    if not path.exists():
        return out
    with connect(path, read_only=True) as con:
        if table_exists(con, "scores"):
            for target in ("churn", "deal_win"):
                history = con.execute(HISTORY_SQL, [target]).df()
                out[f"history:{target}"] = KeyedRows(history, "entity_id", "as_of")
        for name, wanted in ACCOUNT_COLUMNS.items():
            if table_exists(con, name):
                present = {row[0] for row in con.execute(f"describe {name}").fetchall()}
                columns = [c for c in wanted if c in present]
                order = wanted[0] if wanted[0] in present else None
                sql = recent_sql(name, columns, "account_id", order)
                out[name] = KeyedRows(con.execute(sql).df(), "account_id", order, newest_first=True)
        if table_exists(con, "opportunity_stages"):
            stages = con.execute(
                "select opportunity_id, stage, entered_at from opportunity_stages"
            ).df()
            out["stages"] = KeyedRows(stages, "opportunity_id", "entered_at")
    return out


def account_view(index: dict[str, KeyedRows], account_id: str) -> dict:
    """`history` (columns `as_of`, `probability`, oldest first) and each of `ACCOUNT_COLUMNS`'
    latest RECENT rows, newest first, as shown on the page."""
    history = index.get("history:churn")
    out: dict = {"history": {} if history is None else history.arrays(account_id)}
    for name in ACCOUNT_COLUMNS:
        found = index.get(name)
        out[name] = [] if found is None else found.records(account_id, RECENT)
    return out


def deal_view(index: dict[str, KeyedRows], opportunity_id: str) -> dict:
    """`history` as in `account_view`, and the deal's stages in the order it entered them."""
    history = index.get("history:deal_win")
    return {
        "history": {} if history is None else history.arrays(opportunity_id),
        "stages": pick(index, "stages", opportunity_id),
    }


def pick(index: dict[str, KeyedRows], name: str, key: str) -> pd.DataFrame:
    found = index.get(name)
    return pd.DataFrame() if found is None else found.rows(key)
