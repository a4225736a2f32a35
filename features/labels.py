"""Outcome labels with their own time, so the trainer can keep a gap of H between train and test.

- Churn: "the account churns within H days after the cutoff", for accounts that are customers at
  the cutoff. Either from an explicit `churned_at`, or from inactivity: the account churns when
  it has gone N days without an activity of the chosen types (it churns at the end of the
  silence; a later activity reactivates it). `label_time = cutoff + H`.
- Deal win: one row per open-deal snapshot (each cutoff while open, each stage entry) of deals
  that eventually closed; the label is the eventual outcome, `label_time` its `closed_at`. Deals
  still open never get a label.
Rows whose label is not yet fully known at `data_end` are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _
from ibis.backends import BaseBackend

from barometer.settings import DEFAULT_STAGE_ORDER
from features import prep
from features.backends import Engine, available, fetch, open_frames
from features.rollups import Context
from features.timeline import US_PER_DAY, cutoff_table, day_to_timestamp, normalise_cutoffs

ChurnDefinition = Literal["explicit", "inactivity"]


def _backend(tables: dict[str, pd.DataFrame] | BaseBackend, engine: Engine) -> BaseBackend:
    return open_frames(tables, engine) if isinstance(tables, dict) else tables


def _data_end_us(data_end: pd.Timestamp | None) -> int | None:
    if data_end is None:
        return None
    return int((pd.Timestamp(data_end) - pd.Timestamp("1970-01-01")) // pd.Timedelta("1us"))


def explicit_churn(con: BaseBackend, cut: ir.Table, horizon_days: int) -> ir.Table:
    """Customers at each cutoff (created before, not churned before) and whether they churn
    within the horizon; churning exactly at the cutoff counts as churning within it."""
    a = prep.accounts(con)
    c_us = cut.c_day * US_PER_DAY
    customer = (a.created_us < c_us) & (a.churned_us.isnull() | (a.churned_us >= c_us))
    j = a.join(cut, customer)
    churns = j.churned_us.notnull() & (
        j.churned_us < j.c_day * US_PER_DAY + horizon_days * US_PER_DAY
    )
    return j.select("account_id", "c_day", label=ibis.ifelse(churns, 1, 0))


def _silences(con: BaseBackend, types: tuple[str, ...], days: int, end_us: int | None) -> ir.Table:
    """Churn moments under the inactivity rule: `days` after an activity (or account creation)
    with no further activity of `types` within `days`. Open silences at the data's end count only
    if they already lasted `days`."""
    a = prep.accounts(con)
    t = con.table("activities")
    acts = t.filter(prep.lower(t.type).isin(types)).select(
        "account_id", us=prep.micros(t.occurred_at)
    )
    events = acts.union(a.select("account_id", us=a.created_us))
    nxt = _.us.lead().over(ibis.window(group_by=_.account_id, order_by=_.us))
    events = events.mutate(next_us=nxt)
    span = days * US_PER_DAY
    ended = events.next_us.notnull() & (events.next_us - events.us >= span)
    if end_us is not None:
        ended |= events.next_us.isnull() & (ibis.literal(end_us) - events.us >= span)
    return events.filter(ended).select("account_id", churn_us=_.us + span, last_us=_.us)


def inactivity_churn(
    con: BaseBackend,
    cut: ir.Table,
    horizon_days: int,
    inactive_days: int,
    types: tuple[str, ...],
    end_us: int | None,
) -> ir.Table:
    """Customers at each cutoff under the inactivity rule, and whether they churn within H."""
    a, s = prep.accounts(con), _silences(con, types, inactive_days, end_us)
    c_us = cut.c_day * US_PER_DAY
    created = a.join(cut, a.created_us < c_us).select("account_id", "c_day")
    # Churned at the cutoff: inside a silence whose churn moment has passed (and not yet broken).
    s2 = s.view()
    inside = s2.join(cut, (s2.churn_us < cut.c_day * US_PER_DAY)).select(
        "account_id", "c_day", "last_us"
    )
    t = con.table("activities")
    acts = t.filter(prep.lower(t.type).isin(types)).select(
        "account_id", us=prep.micros(t.occurred_at)
    )
    broken = (
        inside.join(
            acts,
            [
                inside.account_id == acts.account_id,
                acts.us > inside.last_us,
                acts.us < inside.c_day * US_PER_DAY,
            ],
        )
        .select(inside.account_id, inside.c_day, inside.last_us)
        .distinct()
    )
    churned = inside.difference(broken).select("account_id", "c_day").distinct()
    customers = created.difference(churned)
    s3 = s.view()
    soon = (
        s3.join(
            cut,
            [
                s3.churn_us >= cut.c_day * US_PER_DAY,
                s3.churn_us < (cut.c_day + horizon_days) * US_PER_DAY,
            ],
        )
        .select("account_id", "c_day", hit=ibis.literal(1))
        .distinct()
    )
    j = customers.left_join(soon, ["account_id", "c_day"])
    return j.select(customers.account_id, customers.c_day, label=ibis.ifelse(j.hit.notnull(), 1, 0))


def churn_expr(
    con: BaseBackend,
    cut: ir.Table,
    horizon_days: int,
    definition: ChurnDefinition,
    inactive_days: int,
    activity_types: tuple[str, ...],
    end_us: int | None,
) -> ir.Table:
    """(account_id, c_day, label) under the chosen churn definition, as an expression (the Spark
    lake build writes it without fetching it)."""
    if definition == "explicit":
        return explicit_churn(con, cut, horizon_days)
    return inactivity_churn(con, cut, horizon_days, inactive_days, activity_types, end_us)


def churn_labels(
    tables: dict[str, pd.DataFrame] | BaseBackend,
    cutoffs: Iterable,
    horizon_days: int = 90,
    definition: ChurnDefinition = "explicit",
    inactive_days: int = 60,
    activity_types: tuple[str, ...] = prep.USAGE_TYPES,
    data_end: pd.Timestamp | None = None,
    engine: Engine = "duckdb",
) -> pd.DataFrame:
    """`labels_churn` rows: account_id, cutoff, label (0/1), label_time (cutoff + horizon)."""
    con = _backend(tables, engine)
    cut = cutoff_table(normalise_cutoffs(cutoffs))
    end_us = _data_end_us(data_end)
    expr = churn_expr(con, cut, horizon_days, definition, inactive_days, activity_types, end_us)
    frame = fetch(expr)
    frame["cutoff"] = day_to_timestamp(frame.pop("c_day"))
    frame["label_time"] = (frame["cutoff"] + pd.Timedelta(days=horizon_days)).astype(
        "datetime64[us]"
    )
    if data_end is not None:
        frame = frame[frame["label_time"] <= pd.Timestamp(data_end)]
    frame["label"] = frame["label"].astype("int64")
    out = frame[["account_id", "cutoff", "label", "label_time"]]
    return out.sort_values(["account_id", "cutoff"]).reset_index(drop=True)


def deal_win_expr(ctx: Context) -> ir.Table:
    """(opportunity_id, c_day, label, label_time) for snapshots of deals that closed won or lost."""
    g, o = ctx.opportunity_grid, ctx.opportunities
    closed = o.filter(o.closed_us.notnull() & o.result.isin(("won", "lost")))
    j = g.join(closed, "opportunity_id")
    return j.select(
        "opportunity_id",
        "c_day",
        label=ibis.ifelse(j.result == "won", 1, 0),
        label_time=j.closed_at,
    )


def deal_win_labels(
    tables: dict[str, pd.DataFrame] | BaseBackend,
    cutoffs: Iterable,
    stage_order: tuple[str, ...] = DEFAULT_STAGE_ORDER,
    stage_entry_snapshots: bool = True,
    engine: Engine = "duckdb",
) -> pd.DataFrame:
    """`labels_deal_win` rows: opportunity_id, cutoff, label (1 = won), label_time (closed_at)."""
    con = _backend(tables, engine)
    ctx = Context(
        con, normalise_cutoffs(cutoffs), tuple(stage_order), available(con), stage_entry_snapshots
    )
    try:
        frame = fetch(deal_win_expr(ctx))
    finally:
        ctx.close()
    frame["cutoff"] = day_to_timestamp(frame.pop("c_day"))
    frame["label"] = frame["label"].astype("int64")
    frame["label_time"] = frame["label_time"].astype("datetime64[us]")
    out = frame[["opportunity_id", "cutoff", "label", "label_time"]]
    return out.sort_values(["opportunity_id", "cutoff"]).reset_index(drop=True)
