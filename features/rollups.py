"""The rollup design: aggregate events once per entity and run of cutoffs, then expand.

Each `source` below returns an Ibis table keyed by the entity key and `c_day` (the cutoff's epoch
day) with raw aggregate columns. Registry expressions turn those columns into features.
An event counts for a cutoff when it was visible before it and occurred within its window, so it
counts for a contiguous run of cutoffs (`day_map`). Events are grouped by (entity, run) in one
pass and the groups joined to a small table listing each run's cutoffs (`spans`, an equality
join): the cost grows with events + entities × cutoffs, not events × cutoffs. Where an order
within a window matters (follow-up latencies), touch days are joined to each window instead.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from features import prep
from features.backends import spark_frame
from features.timeline import (
    US_PER_DAY,
    cutoff_day,
    cutoff_table,
    normalise_cutoffs,
)

WINDOW = 90  # the longest activity window; 30-day figures are taken inside it
CASE_WINDOW = 180


def left_join(left: ir.Table, right: ir.Table, keys: list[str]) -> ir.Table:
    """Left join on same-named keys, keeping one copy of each key."""
    j = left.left_join(right.view(), keys)
    return j.drop(*[c for c in j.columns if c.endswith("_right")])


def _n(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 where cond holds, else 0 (null counts as false)."""
    return ibis.ifelse(cond.fill_null(False), 1, 0)


def _x(cond: ir.BooleanValue, value: ir.NumericValue) -> ir.NumericValue:
    """value where cond holds, else 0."""
    return ibis.ifelse(cond.fill_null(False), value.fill_null(0), 0)


@dataclass
class Context:
    """Everything a source needs: the backend, cutoffs, present tables, stage order.

    Intermediate tables that several sources read (prepared activities, daily rollups, grids)
    and each source's result are materialised once (`materialise`): a table in a scratch
    database on DuckDB, a local checkpoint on Spark. Each stage is then a small query instead
    of one huge plan that re-runs shared parts. `close()` drops them.
    """

    con: object
    cutoffs: list
    stage_order: tuple[str, ...]
    tables: set[str]
    stage_entry_snapshots: bool = True
    cache: dict = field(default_factory=dict)
    made: list = field(default_factory=list)
    scratch: tuple[str, Path] | None = None
    needed: frozenset[str] | None = None  # wide columns the selected features read; None: all
    lazy: bool = False  # nothing is materialised: the final query computes everything at once
    prefix: str = field(default_factory=lambda: f"_feat_{uuid.uuid4().hex[:8]}_")

    def materialise(self, name: str, table: ir.Table) -> ir.Table:
        """Compute `table` now and return it as a table of the backend (as is when lazy)."""
        if self.lazy:
            return table
        full = self.prefix + name
        if self.con.name == "duckdb" and self.scratch is None:
            self.scratch = attach_scratch(self.con, self.prefix.strip("_"))
        self.made.append(full)
        return materialise(self.con, full, table, self.scratch)

    def close(self) -> None:
        """Drop every table this context materialised (and its scratch database)."""
        if self.scratch is not None:
            detach_scratch(self.con, self.scratch)
            self.scratch, self.made = None, []
        while self.made:
            drop_materialised(self.con, self.made.pop())

    @cached_property
    def cut(self) -> ir.Table:
        return cutoff_table(self.cutoffs)

    def window_map(self, days: int) -> ir.Table:
        """(occ_day, c_day) for every day in each cutoff's `days`-day window (see `window_map`)."""
        return window_map(self.cutoffs, days)

    @cached_property
    def accounts(self) -> ir.Table:
        """Prepared accounts with `acc_key`, an integer stand-in for `account_id` (see
        `prep.account_keys`; on Spark `spark_account_keys`)."""
        prepared = prep.accounts(self.con)
        if self.con.name != "pyspark" or self.lazy:
            return self.materialise("accounts", prep.account_keys(prepared))
        self.made.append(self.prefix + "accounts")
        keyed = spark_account_keys(spark_frame(self.con, prepared))
        return checkpoint_view(self.con, self.prefix + "accounts", keyed)

    @cached_property
    def activities(self) -> ir.Table:
        """Prepared activities: lazy on DuckDB (each reader's query computes only the columns it
        reads, in its own scan), checkpointed on Spark."""
        prepared = prep.activities(self.con, self.accounts)
        if self.con.name == "duckdb":
            return prepared
        return self.materialise("activities", prepared)

    @cached_property
    def opportunities(self) -> ir.Table:
        return self.materialise("opportunities", prep.opportunities(self.con))

    @cached_property
    def stages(self) -> ir.Table:
        return self.materialise("stages", prep.stages(self.con, self.stage_order))

    @cached_property
    def day_map(self) -> pd.DataFrame:
        """Which cutoffs see each day's activity (see `day_map`)."""
        return day_map(self.cutoffs)

    @cached_property
    def spans(self) -> ir.Table:
        """Each run of cutoffs expanded to its cutoffs (see `spans`)."""
        return spans(self.day_map, self.cutoffs)

    @cached_property
    def touches(self) -> ir.Table:
        """Prepared activities that are touches (calls, emails, meetings, demos)."""
        return self.activities.filter(self.activities.kind.isin(prep.TOUCH_TYPES))

    @cached_property
    def activity_buckets(self) -> ir.Table:
        return self.materialise("activity_buckets", activity_buckets(self))

    @cached_property
    def touch_days(self) -> ir.Table:
        return touch_days(self)

    @cached_property
    def gap_days(self) -> ir.Table:
        return self.materialise("gap_days", gap_days(self))

    @cached_property
    def account_grid(self) -> ir.Table:
        return self.materialise("account_grid", account_grid(self))

    @cached_property
    def opportunity_grid(self) -> ir.Table:
        return self.materialise("opportunity_grid", opportunity_grid(self))


def attach_scratch(con, alias: str) -> tuple[str, Path]:
    """A fresh DuckDB database file attached read-write as `alias` (works beside a read-only
    warehouse). Tables there are compressed and paged by DuckDB's buffer manager, so
    intermediates stay within the memory limit without spilling uncompressed temp tables."""
    folder = Path(tempfile.mkdtemp(prefix="barometer-features-"))
    con.raw_sql(f"attach '{folder / 'scratch.duckdb'}' as {alias} (read_only false)")
    return alias, folder


def detach_scratch(con, scratch: tuple[str, Path]) -> None:
    """Detach and delete a scratch database."""
    alias, folder = scratch
    con.raw_sql(f"detach {alias}")
    shutil.rmtree(folder, ignore_errors=True)


def materialise(con, name: str, table: ir.Table, scratch: tuple[str, Path] | None) -> ir.Table:
    """`table` computed once into `name`: a table in the DuckDB scratch database, or a Spark
    DataFrame checkpointed in memory (lineage cut, so later plans stay small) behind a view."""
    if con.name == "duckdb":
        return con.create_table(name, table, database=(scratch[0], "main"))
    return checkpoint_view(con, name, spark_frame(con, table))


def checkpoint_view(con, name: str, frame) -> ir.Table:
    """A Spark DataFrame checkpointed on the executors (lineage cut) behind a temporary view."""
    frame.localCheckpoint(eager=True).createOrReplaceTempView(name)
    return con.table(name)


def spark_account_keys(accounts):
    """Spark accounts with `acc_key`, increasing with `account_id` like `prep.account_keys`'s
    rank but without its window: a window with no partition moves every account to one task.
    The range-partitioned sort is spread over the executors, and `monotonically_increasing_id`
    numbers rows in that order (unique, increasing, not consecutive)."""
    from pyspark.sql import functions as F

    return accounts.orderBy("account_id").withColumn("acc_key", F.monotonically_increasing_id())


def drop_materialised(con, name: str) -> None:
    """Drop a Spark view made by `materialise` (DuckDB's go with their scratch database)."""
    con._session.catalog.dropTempView(name)


def window_map(cutoffs: list, days: int) -> ir.Table:
    """(occ_day, c_day) for each cutoff and each of the `days` days before it.

    Joining a per-day rollup to this small table on `occ_day` (an equality, so a hash join)
    puts each rollup row beside every cutoff whose window holds it; the slower range join on
    `occ_day >= c_day - days` is never needed.
    """
    c = np.array([cutoff_day(x) for x in normalise_cutoffs(cutoffs)], dtype="int64")
    offsets = np.arange(1, days + 1, dtype="int64")
    frame = pd.DataFrame(
        {"occ_day": (c[:, None] - offsets[None, :]).ravel(), "c_day": np.repeat(c, days)}
    )
    return ibis.memtable(frame)


# ---------------------------------------------------------------- grids


def account_grid(ctx: Context) -> ir.Table:
    """(account_id, acc_key, c_day) for accounts created before the cutoff and not churned
    before it."""
    a, c = ctx.accounts, ctx.cut
    keep = (a.created_day < c.c_day) & (a.churned_day.isnull() | (a.churned_day >= c.c_day))
    return a.join(c, keep).select("account_id", "acc_key", "c_day")


def opportunity_grid(ctx: Context) -> ir.Table:
    """Snapshots of open deals: at each cutoff, and at the end of each stage-entry day.

    A stage-entry snapshot is taken at the midnight after the entry (so the entry is known) and
    kept only if it falls within the cutoff range and is not already a regular cutoff.
    """
    o, c = ctx.opportunities, ctx.cut
    open_at = lambda day: (o.created_day < day) & (o.closed_day.isnull() | (o.closed_day >= day))  # noqa: E731
    regular = o.join(c, open_at(c.c_day)).select(
        "opportunity_id", "account_id", "c_day", snapshot=ibis.literal("cutoff")
    )
    if not (ctx.stage_entry_snapshots and "opportunity_stages" in ctx.tables):
        return regular
    days = [cutoff_day(c) for c in ctx.cutoffs]
    s = ctx.stages.select("opportunity_id", c_day=_.entered_day + 1).distinct()
    s = s.filter(s.c_day.between(min(days), max(days)) & ~s.c_day.isin(days))
    entry = s.join(o, [s.opportunity_id == o.opportunity_id, open_at(s.c_day)]).select(
        s.opportunity_id, o.account_id, s.c_day, snapshot=ibis.literal("stage_entry")
    )
    return regular.union(entry)


# ---------------------------------------------------------------- account sources


def day_map(cutoffs: list) -> pd.DataFrame:
    """For each day from 91 days before the first cutoff to the last cutoff: which cutoffs see
    it. Every earlier day is seen as the first of these days, every later day as the last
    (`with_runs` clamps days to the map).

    `lo` is the index of the first cutoff strictly after the day (`lo_day` its epoch day): an
    event visible that day counts from that cutoff on. `hi30`/`hi90` are the index of the last
    cutoff at most 30/90 days after the day: an event that occurred that day is inside those
    cutoffs' windows up to there. So an event counts in the windows of the cutoff indices
    `lo(visible day) .. hi(occurred day)`, a contiguous run. From the last cutoff on, `lo` is
    past the last index (and `lo_day` the day after the last cutoff): no cutoff sees the event.
    Before the first map day, `lo` is 0 and `hi90` -1: no window holds the event.
    """
    cuts = np.array([cutoff_day(x) for x in normalise_cutoffs(cutoffs)], dtype="int64")
    days = np.arange(cuts[0] - WINDOW - 1, cuts[-1] + 1, dtype="int64")
    lo = np.searchsorted(cuts, days, side="right")
    lo_day = np.append(cuts, cuts[-1] + 1)[lo]
    last = lambda span: np.searchsorted(cuts, days + span, side="right") - 1  # noqa: E731
    return pd.DataFrame(
        {"day": days, "lo": lo, "lo_day": lo_day, "hi30": last(30), "hi90": last(WINDOW)}
    )


def with_runs(ctx: Context, t: ir.Table, lo_day: bool = False) -> ir.Table:
    """Activity rows with their run of cutoffs (`lo`, and `lo_day` if asked, from the visible
    day; `hi30`, `hi90` from the day it occurred; see `day_map`, to whose first and last day
    days are clamped).

    The map's columns are arrays indexed by day, in a one-row table joined to every row, rather
    than a table joined on the day: a join's build side follows DuckDB's row estimates, and after
    a selective filter they can make it hash the activities instead of the map's few hundred days.
    (Array literals would do the same but make Ibis's compile slower.)
    """
    m = ctx.day_map
    first, last = int(m["day"].iloc[0]), int(m["day"].iloc[-1])
    names = ["lo", "hi30", "hi90"] + (["lo_day"] if lo_day else [])
    maps = ibis.memtable(pd.DataFrame({f"map_{c}": [m[c].tolist()] for c in names}))
    t = t.cross_join(maps)

    def lookup(column: str, day: ir.IntegerValue) -> ir.IntegerValue:
        offset = (ibis.least(ibis.greatest(day, first), last) - first).cast("int32")
        return t[f"map_{column}"][offset]  # (Spark's element_at takes an INT)

    runs = {"lo": lookup("lo", t.vis_day)}
    if lo_day:
        runs["lo_day"] = lookup("lo_day", t.vis_day)
    runs |= {"hi30": lookup("hi30", t.occ_day), "hi90": lookup("hi90", t.occ_day)}
    return t.mutate(**runs).drop(*[f"map_{c}" for c in names])


def spans(days: pd.DataFrame, cutoffs: list) -> ir.Table:
    """(lo, hi30, hi90) -> one row per cutoff index lo..hi90 it covers, with `c_day` and
    `recent` (1 when that cutoff's 30-day window holds it too: index <= hi30).

    Only combinations that can occur are listed: an event is never visible before it occurred,
    so `lo` runs from lo(occurred day) to hi90(occurred day).
    """
    cuts = np.array([cutoff_day(x) for x in normalise_cutoffs(cutoffs)], dtype="int64")
    occ = days[["lo", "hi30", "hi90"]].drop_duplicates().to_numpy()
    keys = {(int(lo), int(h30), int(h90)) for lo0, h30, h90 in occ for lo in range(lo0, h90 + 1)}
    rows = [(lo, h30, h90, i) for lo, h30, h90 in sorted(keys) for i in range(lo, h90 + 1)]
    frame = pd.DataFrame(rows, columns=["lo", "hi30", "hi90", "idx"], dtype="int64")
    frame["c_day"] = cuts[frame["idx"].to_numpy()]
    frame["recent"] = (frame["idx"] <= frame["hi30"]).astype("float64")
    return ibis.memtable(frame.drop(columns="idx"))


def activity_buckets(ctx: Context) -> ir.Table:
    """Activity measures per (account, lo, hi30, hi90): events seen by the same run of cutoffs
    share a bucket (see `day_map`), so one pass over the events serves every cutoff.

    Events visible only after the last cutoff fall out; `last_*` keep the latest day of a touch,
    a connected call and usage, for `recency` (all history).
    """
    t = with_runs(ctx, ctx.activities, lo_day=True)
    touch = t.kind.isin(prep.TOUCH_TYPES)
    call = t.kind == "call"
    connected = call & (t.result == "connected")
    known_tz = call & t.local_hour.notnull()
    business = known_tz & t.local_hour.between(9, 16) & (t.local_weekday < 5)
    usage = t.kind.isin(prep.USAGE_TYPES)
    measures = {
        "touches": _n(touch),
        "outbound": _n(touch & (t.way == "outbound")),
        "inbound": _n(touch & (t.way == "inbound")),
        "calls": _n(call),
        "connected": _n(connected),
        "connected_s": _x(connected, t.duration_s.cast("float64")),
        "long_calls": _n(connected & (t.duration_s >= 600)),
        "meetings": _n(t.kind == "meeting"),
        "demos": _n((t.kind == "demo") | ((t.kind == "meeting") & (t.goal == "demo"))),
        "dm": _n(touch & t.reached_decision_maker),
        "usage": _n(usage),
        "rated": _n(t.rating.notnull()),
        "rating_sum": _x(t.rating.notnull(), t.rating.cast("float64")),
        "calls_morning": _n(call & t.hour_utc.between(6, 11)),
        "calls_afternoon": _n(call & t.hour_utc.between(12, 17)),
        "calls_weekend": _n(call & (t.weekday_utc >= 5)),
        "calls_tz_known": _n(known_tz),
        "calls_business": _n(business),
        "calls_with_goal": _n(call & t.goal.notnull()),
        **{f"goal_{g}": _n(call & (t.goal == g)) for g in prep.OBJECTIVES},
    }
    last = lambda cond: ibis.ifelse(cond.fill_null(False), t.occ_day, None).max()  # noqa: E731
    lasts = {"touch": last(touch), "connected": last(connected), "usage": last(usage)}
    if ctx.needed is not None:  # only what the selected features read
        measures = {k: v for k, v in measures.items() if {f"a90_{k}", f"a30_{k}"} & ctx.needed}
        lasts = {k: v for k, v in lasts.items() if f"run_{k}" in ctx.needed}
    return t.group_by(["acc_key", "lo", "lo_day", "hi30", "hi90"]).aggregate(
        **{k: v.sum().cast("float64") for k, v in measures.items()},
        **{f"last_{k}": v for k, v in lasts.items()},
    )


def _band(rollup: ir.Table, ctx: Context, window: int) -> ir.Table:
    """Rollup rows joined to each cutoff whose window holds them and before which they were seen."""
    j = rollup.join(ctx.window_map(window), "occ_day")
    return j.filter(j.vis_day < j.c_day)


RECENT_MEASURES = ("touches", "usage")  # measures also summed over the last 30 days


def activity_windows(ctx: Context) -> ir.Table:
    """Activity sums over the last 30 and 90 days before each cutoff, from the buckets."""
    b = ctx.activity_buckets
    j = b.join(ctx.spans, ["lo", "hi30", "hi90"])
    keys = ("acc_key", "lo", "lo_day", "hi30", "hi90")
    names = [c for c in b.columns if c not in keys and not c.startswith("last_")]
    aggs = {f"a90_{n}": j[n].sum() for n in names}
    aggs |= {f"a30_{n}": (j[n] * j.recent).sum() for n in RECENT_MEASURES if n in names}
    return j.group_by(["acc_key", "c_day"]).aggregate(**aggs)


def running(
    events: ir.Table,
    grid: ir.Table,
    keys: list[str],
    columns: list[str],
    how: str = "max",
    carry: tuple[str, ...] = (),
) -> ir.Table:
    """For each grid row, the running max (or sum) of each column over events visible strictly
    before its day.

    Events (keys, vis_day, columns) and grid rows (keys, c_day, carry) are interleaved in one
    stream ordered by day, grid rows first on ties, and carried forward with a running aggregate.
    `carry` columns of the grid pass through (so no self-join is needed afterwards).
    """
    ev = events.select(
        *keys,
        t=_.vis_day,
        is_grid=ibis.literal(0).cast("int64"),
        **{c: _[c].cast("int64") for c in columns},
        **{c: ibis.null(grid[c].type()) for c in carry},
    )
    gr = grid.select(
        *keys,
        t=_.c_day,
        is_grid=ibis.literal(1).cast("int64"),
        **{c: ibis.null("int64") for c in columns},
        **{c: _[c] for c in carry},
    )
    stream = gr.union(ev)
    # On Spark the window is partitioned by `keys`: an account's (or rep's) rows go to one task.
    # Per account they are bounded (one per run of cutoffs and one per cutoff), so a busy account
    # costs no more than a quiet one; keys with few values (stages in `deals.stage_norm`) are
    # where skew bites.
    w = ibis.window(
        group_by=[stream[k] for k in keys],
        order_by=[stream.t, ibis.desc(stream.is_grid)],
        rows=(None, 0),
    )
    agg = (lambda col: col.max()) if how == "max" else (lambda col: col.sum())
    stream = stream.mutate(**{f"run_{c}": agg(stream[c]).over(w) for c in columns})
    out = stream.filter(stream.is_grid == 1)
    return out.select(*keys, *carry, c_day=_.t, **{f"run_{c}": _[f"run_{c}"] for c in columns})


def recency(ctx: Context) -> ir.Table:
    """Last day (before each cutoff, all history) with a touch, a connected call, usage.

    Each bucket counts from its first cutoff (`lo_day`) on; buckets are reduced to one row per
    account and first cutoff, then carried forward across cutoffs."""
    b = ctx.activity_buckets
    kinds = [c.removeprefix("last_") for c in b.columns if c.startswith("last_")]
    ev = b.group_by(["acc_key", "lo_day"]).aggregate(**{k: b[f"last_{k}"].max() for k in kinds})
    # Seen "the day before" its first cutoff, for `running`.
    ev = ev.select("acc_key", *kinds, vis_day=_.lo_day - 1)
    return running(ev, ctx.account_grid, ["acc_key"], kinds)


def usage_history(ctx: Context) -> ir.Table:
    """Days with usage or a purchase visible before each cutoff (all history), and the first of
    them (as minus its day, so a running max finds it): the purchase-log summary that BG/NBD
    reads (repeat days, age of the customer) and a frequency the windows cannot give."""
    t = ctx.activities.filter(ctx.activities.kind.isin(prep.USAGE_TYPES))
    days = t.group_by(["acc_key", "occ_day"]).aggregate(vis_day=t.vis_day.min())
    ev = days.select(
        "acc_key", "vis_day", days=ibis.literal(1).cast("int64"), first_neg=-days.occ_day
    )
    grid = ctx.account_grid
    counts = running(ev, grid, ["acc_key"], ["days"], how="sum")
    firsts = running(ev, grid, ["acc_key"], ["first_neg"], how="max")
    return counts.join(firsts, ["acc_key", "c_day"]).select(
        "acc_key", "c_day", "run_days", "run_first_neg"
    )


def touch_days(ctx: Context, key: str = "acc_key") -> ir.Table:
    """One row per (key, touch day) with the first visible day of each kind of touch that day."""
    t = ctx.touches
    outbound = (t.way == "outbound") & t.kind.isin(("call", "email"))

    def first_visible(cond: ir.BooleanValue) -> ir.IntegerValue:
        return ibis.ifelse(cond.fill_null(False), t.vis_day, None).min()

    return t.group_by([key, "occ_day"]).aggregate(
        vis_day=t.vis_day.min(),
        vis_meeting=first_visible(t.kind == "meeting"),
        vis_outbound=first_visible(outbound),
        vis_inbound=first_visible(t.way == "inbound"),
        vis_followup=first_visible(outbound & (t.goal == "follow_up")),
        vis_call=first_visible((t.kind == "call") & (t.way != "inbound")),
    )


def windowed_touches(ctx: Context) -> ir.Table:
    """Touches with the run of cutoffs that sees them (see `day_map`): `lo`, the index of the first
    cutoff after the day the touch became visible; `hi30` / `hi90`, the index of the last cutoff
    whose 30 / 90-day window holds the day it occurred. Touches no window holds are left out."""
    t = with_runs(ctx, ctx.touches)
    return t.filter(t.lo <= t.hi90)


def gap_days(ctx: Context) -> ir.Table:
    """Touch days: (account, day, vis_day), the day's first visible touch (which gives the
    smallest `lo`, see `day_map`)."""
    t = ctx.touches
    return t.group_by(["acc_key", "occ_day"]).aggregate(vis_day=t.vis_day.min())


def _gap_stats(rows: ir.Table) -> dict[str, ir.Value]:
    """Gap sums over rows with `gap` and `recent` (1 when the gap is within the last 30 days)."""
    g, r = rows.gap, rows.recent
    return {
        "g90_n": g.count(),
        "g90_sum": g.sum(),
        "g90_sq": (g * g).sum(),
        "g90_max": g.max(),
        "g30_n": r.sum(),
        "g30_sum": (g * r).sum(),
        "g30_sq": (g * g * r).sum(),
    }


def gaps(ctx: Context) -> ir.Table:
    """Gaps between touch days in each cutoff's last 90 days (30-day figures: gaps whose both
    ends are within 30 days), without sorting every cutoff's days apart.

    A day's predecessor within a window is its previous touch day overall, unless that day was
    not yet visible at the cutoff (logged late). So each overall gap counts for the cutoffs that
    see both ends while the earlier end is still in the window (a run of cutoffs): gaps are
    summed per (account, run) first, then the runs expanded by `spans`, like activity buckets.
    The few (account, cutoff) pairs where a late-logged day hides a predecessor are recomputed
    from their own sorted days.
    """
    # Touch days with the run of cutoffs that sees them (lo..hi90). Days never in any window
    # are left out; that changes no window's sequence of days.
    d = with_runs(ctx, ctx.gap_days)
    d = d.filter(d.lo <= d.hi90)
    # Partitioned by account, over touch *days* (not touches): one huge account is at most one row
    # per day of history in its task, so heavy accounts do not skew this window.
    w = ibis.window(group_by=d.acc_key, order_by=d.occ_day)
    # All four lagged: looking the predecessor's runs up from its day makes DuckDB underestimate
    # the run sums below by orders of magnitude and aggregate them on one thread.
    d = d.mutate(
        p_day=d.occ_day.lag().over(w),
        p_lo=d.lo.lag().over(w),
        p_hi30=d.hi30.lag().over(w),
        p_hi90=d.hi90.lag().over(w),
    )
    start = ibis.greatest(d.lo, d.p_lo)
    # Cutoffs lo..min(hi90, p_lo - 1) see the day but not yet its predecessor ("hidden"). Every
    # day has lo <= hi90, so such a pair passes the filter below: the hidden ranges ride along
    # in the run sums (widened to one range per run), and the lags feed one consumer only.
    hidden = d.p_lo > d.lo
    pairs = d.filter(d.p_day.notnull() & (start <= d.p_hi90)).select(
        "acc_key",
        gap=(d.occ_day - d.p_day).cast("float64"),
        lo=start,
        hi30=d.p_hi30,
        hi90=d.p_hi90,
        h_first=ibis.ifelse(hidden, d.lo, None),
        h_last=ibis.ifelse(hidden, ibis.least(d.hi90, d.p_lo - 1), None),
    )
    runs = pairs.group_by(["acc_key", "lo", "hi30", "hi90"]).aggregate(
        n=_.gap.count(),
        total=_.gap.sum(),
        sq=(_.gap * _.gap).sum(),
        top=_.gap.max(),
        h_first=_.h_first.min(),
        h_last=_.h_last.max(),
    )
    j = runs.join(ctx.spans, ["lo", "hi30", "hi90"])
    fast = j.group_by(["acc_key", "c_day"]).aggregate(
        g90_n=j.n.sum(),
        g90_sum=j.total.sum(),
        g90_sq=j.sq.sum(),
        g90_max=j.top.max(),
        g30_n=(j.n * j.recent).sum(),
        g30_sum=(j.total * j.recent).sum(),
        g30_sq=(j.sq * j.recent).sum(),
    )
    # (account, cutoff) pairs where a hidden predecessor may change the window's sequence (a
    # superset: recomputing an unaffected pair gives the same figures).
    cut = cutoff_index(ctx.cutoffs)
    late = runs.filter(runs.h_first.notnull())
    # (A group-by, not `distinct()`: Ibis compiles that through a deep copy of the query.)
    hit = late.join(cut, [cut.idx >= late.h_first, cut.idx <= late.h_last])
    broken = hit.group_by(["acc_key", "c_day"]).aggregate()
    # Each broken pair's own window: the account's touch days seen by that cutoff.
    g = ctx.gap_days
    seen = [g.vis_day < broken.c_day, g.occ_day >= broken.c_day - WINDOW]
    days = broken.join(g, [broken.acc_key == g.acc_key, *seen]).select(
        broken.acc_key, g.occ_day, broken.c_day
    )
    by_window = ibis.window(group_by=[days.acc_key, days.c_day], order_by=days.occ_day)
    prev = days.occ_day.lag().over(by_window)
    days = days.mutate(
        gap=(days.occ_day - prev).cast("float64"),
        recent=_n(prev >= days.c_day - 30).cast("float64"),
    )
    days = days.filter(days.gap.notnull())
    slow = days.group_by(["acc_key", "c_day"]).aggregate(**_gap_stats(days))
    return fast.anti_join(broken, ["acc_key", "c_day"]).union(slow)


def cutoff_index(cutoffs: list) -> ir.Table:
    """(idx, c_day) for the sorted cutoffs."""
    days = [cutoff_day(x) for x in normalise_cutoffs(cutoffs)]
    frame = pd.DataFrame({"idx": range(len(days)), "c_day": days}, dtype="int64")
    return ibis.memtable(frame)


def rhythm(ctx: Context) -> ir.Table:
    """Follow-up latencies, from the touch days visible before each cutoff within the last 90
    days (what follows a meeting, an inbound touch, a follow-up)."""
    j = _band(ctx.touch_days, ctx, WINDOW)
    known = lambda col: j[col].notnull() & (j[col] < j.c_day)  # noqa: E731
    j = j.mutate(
        is_meeting=known("vis_meeting"),
        out_day=ibis.ifelse(known("vis_outbound"), j.occ_day, None),
        is_inbound=known("vis_inbound"),
        is_followup=known("vis_followup"),
        call_day=ibis.ifelse(known("vis_call"), j.occ_day, None),
    )
    part = [j.acc_key, j.c_day]
    ahead = ibis.window(group_by=part, order_by=j.occ_day, rows=(0, None))
    later = ibis.window(group_by=part, order_by=j.occ_day, rows=(1, None))
    j = j.mutate(
        next_out=j.out_day.min().over(ahead),
        next_call=j.call_day.min().over(later),
    )
    meet_lat = ibis.ifelse(j.is_meeting, j.next_out - j.occ_day, None)
    settled_meeting = j.is_meeting & (j.occ_day <= j.c_day - 3)
    settled_fu = j.is_followup & (j.occ_day <= j.c_day - 8)
    return j.group_by(["acc_key", "c_day"]).aggregate(
        meet_lat_n=_n(meet_lat.notnull()).sum(),
        meet_lat_sum=meet_lat.fill_null(0).sum(),
        meet_settled=_n(settled_meeting).sum(),
        meet_within2=_n(settled_meeting & (j.next_out - j.occ_day <= 2)).sum(),
        in_lat_n=_n(j.is_inbound & j.next_out.notnull()).sum(),
        in_lat_sum=_x(j.is_inbound, j.next_out - j.occ_day).sum(),
        fu_settled=_n(settled_fu).sum(),
        fu_chased=_n(settled_fu & (j.next_call - j.occ_day <= 7)).sum(),
    )


def reach(ctx: Context) -> ir.Table:
    """Distinct contacts and contact roles touched in the last 90 days: touches reduced to one
    row per contact and run of cutoffs that sees them (see `day_map`), expanded by `spans`."""
    t = windowed_touches(ctx)
    r = t.select("acc_key", "contact_id", "lo", "hi30", "hi90", role=prep.lower(t.contact_role))
    j = r.distinct().join(ctx.spans, ["lo", "hi30", "hi90"])
    return j.group_by(["acc_key", "c_day"]).aggregate(
        contacts=j.contact_id.nunique(), roles=j.role.nunique()
    )


def service(ctx: Context) -> ir.Table:
    """Cases opened (90 days), closed (180 days; outcome fields known from close), open now."""
    cs, c = prep.cases(ctx.con), ctx.cut
    grid = ctx.account_grid
    m90, m180 = ctx.window_map(WINDOW), ctx.window_map(CASE_WINDOW)
    opened = cs.join(m90, cs.opened_day == m90.occ_day)
    opened = opened.group_by(["account_id", "c_day"]).aggregate(
        opened=_.case_id.count(), urgent=_n(_.urgent).sum()
    )
    closed = cs.join(m180, cs.closed_day == m180.occ_day)
    closed = closed.group_by(["account_id", "c_day"]).aggregate(
        closed=_.case_id.count(),
        fcr_known=_n(_.first_contact_resolved.notnull()).sum(),
        fcr=_n(_.first_contact_resolved).sum(),
        esc_known=_n(_.escalated.notnull()).sum(),
        esc=_n(_.escalated).sum(),
        csat_n=_n(_.csat.notnull()).sum(),
        csat_sum=_.csat.cast("float64").fill_null(0).sum(),
        res_h_sum=_.resolution_h.sum(),
    )
    still_open = cs.opened_day < c.c_day
    still_open &= cs.closed_day.isnull() | (cs.closed_day >= c.c_day)
    open_now = (
        cs.join(c, still_open)
        .group_by(["account_id", "c_day"])
        .aggregate(open=_.case_id.count(), oldest_open_day=_.opened_day.min())
    )
    out = grid
    for part in (opened, closed, open_now):
        out = left_join(out, part, ["account_id", "c_day"])
    return out


def voice(ctx: Context) -> ir.Table:
    """The latest NPS response before each cutoff, with the previous score."""
    n, c = prep.nps(ctx.con), ctx.cut
    valid = (n.resp_day < c.c_day) & (n.next_day.isnull() | (n.next_day >= c.c_day))
    return n.join(c, valid).select(
        "account_id", "c_day", nps_score=_.score, nps_prev=_.prev_score, nps_day=_.resp_day
    )


def account_profile(ctx: Context) -> ir.Table:
    """Account attributes and tenure at each cutoff."""
    a, g = ctx.accounts, ctx.account_grid
    j = g.join(a, "account_id")
    return j.select(
        "account_id",
        "c_day",
        "segment",
        "industry",
        "region",
        "arr",
        tenure_days=(j.c_day * US_PER_DAY - j.created_us).cast("float64") / float(US_PER_DAY),
    )
