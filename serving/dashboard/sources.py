"""Warehouse reads the pages need beyond the API's snapshot: score history, an account's recent
activities, cases and NPS, a deal's stage history and the stage norms. The I/O edge: one short
read-only connection per page; results are plain frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.warehouse import connect, table_exists
from serving.store import score_history

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


def account_details(path: Path, account_id: str) -> dict[str, pd.DataFrame]:
    """Churn score history (oldest first) and the latest activities, cases and NPS answers."""
    out = {"history": pd.DataFrame(), **{name: pd.DataFrame() for name in ACCOUNT_COLUMNS}}
    if not path.exists():
        return out
    with connect(path, read_only=True) as con:
        out["history"] = score_history(con, "churn", account_id)
        for name, wanted in ACCOUNT_COLUMNS.items():
            if table_exists(con, name):
                out[name] = recent_rows(con, name, wanted, account_id)
    return out


def recent_rows(con, table: str, wanted: tuple[str, ...], account_id: str) -> pd.DataFrame:
    """The account's latest rows of `table`, with the wanted columns the table has."""
    present = {row[0] for row in con.execute(f"describe {table}").fetchall()}
    columns = [c for c in wanted if c in present]
    order = f"order by {columns[0]} desc nulls last" if columns and columns[0] == wanted[0] else ""
    sql = f"select {', '.join(columns)} from {table} where account_id = ? {order} limit {RECENT}"
    return con.execute(sql, [account_id]).df() if columns else pd.DataFrame()


def display_records(frame: pd.DataFrame) -> list[dict]:
    """Rows for a page: dates as YYYY-MM-DD, missing values as None."""
    out = []
    for row in frame.to_dict("records"):
        out.append({k: shown(v) for k, v in row.items()})
    return out


def shown(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return value


def deal_details(path: Path, opportunity_id: str) -> dict[str, pd.DataFrame]:
    """Win-probability history and the deal's stage history."""
    out = {"history": pd.DataFrame(), "stages": pd.DataFrame()}
    if not path.exists():
        return out
    with connect(path, read_only=True) as con:
        out["history"] = score_history(con, "deal_win", opportunity_id)
        if table_exists(con, "opportunity_stages"):
            out["stages"] = con.execute(STAGES_SQL, [opportunity_id]).df()
    return out


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
