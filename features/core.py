"""The cutoff machinery every feature source shares: the context of one build, the cutoff grids,
and the rollup design.

Rollups aggregate events once per entity and run of cutoffs, then expand. An event counts for a
cutoff when it was visible before it and occurred within its window, so it counts for a contiguous
run of cutoffs (`day_map`). Events are grouped by (entity, run) in one pass and the groups joined
to a small table listing each run's cutoffs (`spans`, an equality join): the cost grows with
events + entities × cutoffs, not events × cutoffs. `running` carries all-history figures forward
across cutoffs. The sources (`features.sources`) build their queries from these pieces.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable
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
    cutoff_day,
    cutoff_table,
    normalise_cutoffs,
)

WINDOW = 90  # the longest activity window; 30-day figures are taken inside it


def left_join(left: ir.Table, right: ir.Table, keys: list[str]) -> ir.Table:
    """Left join on same-named keys, keeping one copy of each key."""
    j = left.left_join(right.view(), keys)
    return j.drop(*[c for c in j.columns if c.endswith("_right")])


def one_if(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 where cond holds, else 0 (null counts as false)."""
    return ibis.ifelse(cond.fill_null(False), 1, 0)


def value_if(cond: ir.BooleanValue, value: ir.NumericValue) -> ir.NumericValue:
    """value where cond holds, else 0."""
    return ibis.ifelse(cond.fill_null(False), value.fill_null(0), 0)


def whole(value: ir.NumericValue, per_unit: int) -> ir.IntegerValue:
    """A fractional measure as a whole number of 1/per_unit units (seconds to milliseconds).

    Sums of these are exact, so a mean built from them does not depend on the order an engine
    adds the rows in: the warehouse build and the scoring job get the same bits."""
    return (value * per_unit).round().cast("int64")


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

    def shared(
        self, name: str, build: Callable[[Context], ir.Table], keep: bool = True
    ) -> ir.Table:
        """An intermediate table several queries read, built once per context by `build(self)`
        (materialised as `name` when `keep`)."""
        if name not in self.cache:
            table = build(self)
            self.cache[name] = self.materialise(name, table) if keep else table
        return self.cache[name]

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
    def account_grid(self) -> ir.Table:
        return self.materialise("account_grid", account_grid(self))

    @cached_property
    def opportunity_grid(self) -> ir.Table:
        return self.materialise("opportunity_grid", opportunity_grid(self))

    @cached_property
    def rep_grid(self) -> ir.Table:
        return self.materialise("rep_grid", rep_grid(self))


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


def rep_grid(ctx: Context) -> ir.Table:
    """(rep_id, c_day, hired_day) for reps hired before the cutoff (or with no hire date) who had
    not left before it: the rep features' entities and the rep-attrition labels' population."""
    r, c = prep.reps(ctx.con), ctx.cut
    hired = r.hired_day.isnull() | (r.hired_day < c.c_day)
    employed = r.left_day.isnull() | (r.left_day >= c.c_day)
    return r.join(c, hired & employed).select("rep_id", "c_day", "hired_day")


# ---------------------------------------------------------------- runs of cutoffs


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
