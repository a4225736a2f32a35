"""Gaps between touch days: their mean, spread and longest, in each cutoff's last 90 (and 30)
days.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from features.core import WINDOW, Context, one_if, with_runs
from features.declare import Source, mean_of, std_of, value_of
from features.timeline import cutoff_day, normalise_cutoffs


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
    d = with_runs(ctx, ctx.shared("gap_days", gap_days))
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
    g = ctx.shared("gap_days", gap_days)
    seen = [g.vis_day < broken.c_day, g.occ_day >= broken.c_day - WINDOW]
    days = broken.join(g, [broken.acc_key == g.acc_key, *seen]).select(
        broken.acc_key, g.occ_day, broken.c_day
    )
    by_window = ibis.window(group_by=[days.acc_key, days.c_day], order_by=days.occ_day)
    prev = days.occ_day.lag().over(by_window)
    days = days.mutate(
        gap=(days.occ_day - prev).cast("float64"),
        recent=one_if(prev >= days.c_day - 30).cast("float64"),
    )
    days = days.filter(days.gap.notnull())
    slow = days.group_by(["acc_key", "c_day"]).aggregate(**_gap_stats(days))
    return fast.anti_join(broken, ["acc_key", "c_day"]).union(slow)


def cutoff_index(cutoffs: list) -> ir.Table:
    """(idx, c_day) for the sorted cutoffs."""
    days = [cutoff_day(x) for x in normalise_cutoffs(cutoffs)]
    frame = pd.DataFrame({"idx": range(len(days)), "c_day": days}, dtype="int64")
    return ibis.memtable(frame)


SOURCE = Source(name="gaps", entity="account", query=gaps)

FEATURES = (
    SOURCE.feature(
        name="mean_days_between_touches_90d",
        family="cadence",
        description="Average days between days with a touch, last 90 days",
        window_days=90,
        expr=mean_of("g90_sum", "g90_n"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="touch_gap_variability_90d",
        family="cadence",
        description="How irregular the touches are: spread (standard deviation) of the days "
        "between touches, "
        "last 90 days",
        window_days=90,
        expr=std_of("g90_sum", "g90_sq", "g90_n"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="touch_gap_variability_30d",
        family="cadence",
        description="Spread (standard deviation) of the days between touches, last 30 days",
        window_days=30,
        expr=std_of("g30_sum", "g30_sq", "g30_n"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="longest_silence_90d",
        family="cadence",
        description="Longest stretch without a touch, last 90 days",
        window_days=90,
        expr=value_of("g90_max", "float64"),
        actionable=True,
        unit="days",
    ),
)
