"""Opportunity sources: the deal itself, its stage history, its activity, and its rep's record.

All keyed by (opportunity_id, c_day) on the snapshot grid. Outcome and close date of other deals
count only from their `closed_at`; stage entries only from their `entered_at`. Without an
`opportunity_stages` table the sources that also read stages (deal activity, the rep's record)
compute what needs no stage; the stage features themselves are switched off by the registry.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from features import prep
from features.rollups import Context, _n, _x, left_join, running
from features.timeline import US_PER_DAY, day_number


def has_stages(ctx: Context) -> bool:
    return "opportunity_stages" in ctx.tables


def deal_profile(ctx: Context) -> ir.Table:
    """Amount, type and age of each open deal at each snapshot."""
    g, o = ctx.opportunity_grid, ctx.opportunities
    j = g.join(o.select("opportunity_id", "amount", "type", "created_us"), "opportunity_id")
    return j.select(
        "opportunity_id",
        "c_day",
        "amount",
        "type",
        age_days=(j.c_day * US_PER_DAY - j.created_us).cast("float64") / float(US_PER_DAY),
    )


def _last_entry_per_day(ctx: Context) -> ir.Table:
    """The last stage entry of each deal and day, with the day the deal next changed stage."""
    s = ctx.stages
    w = ibis.window(group_by=[s.opportunity_id, s.entered_day], order_by=ibis.desc(s.seq))
    s = s.mutate(rank=ibis.row_number().over(w)).filter(_.rank == 0)
    by_deal = ibis.window(group_by=s.opportunity_id, order_by=s.entered_day)
    return s.mutate(next_day=s.entered_day.lead().over(by_deal))


def stage_now(ctx: Context) -> ir.Table:
    """The deal's current stage at each snapshot, when it entered it, and its history so far."""
    if "stage_now" in ctx.cache:
        return ctx.cache["stage_now"]
    g, s = ctx.opportunity_grid, _last_entry_per_day(ctx)
    valid = (s.entered_day < g.c_day) & (s.next_day.isnull() | (s.next_day >= g.c_day))
    j = g.join(s, [g.opportunity_id == s.opportunity_id, valid])
    out = j.select(
        g.opportunity_id,
        g.c_day,
        s.stage,
        s.pos,
        s.entered_us,
        s.entered_day,
        s.regressions,
        s.advances,
        s.furthest,
        stage_key=prep.lower(s.stage),
    )
    ctx.cache["stage_now"] = out = ctx.materialise("stage_now", out)
    return out


def stage_norm(ctx: Context) -> ir.Table:
    """Mean days that deals spent in the current stage, over stays that ended before the cutoff."""
    s, o = ctx.stages, ctx.opportunities
    by_deal = ibis.window(group_by=s.opportunity_id, order_by=[s.entered_us, s.pos, s.stage])
    s = s.mutate(next_us=s.entered_us.lead().over(by_deal))
    s = s.join(o.select("opportunity_id", "closed_us"), "opportunity_id")
    left_us = s.next_us.fill_null(s.closed_us)
    spells = s.filter(left_us.notnull()).select(
        stage_key=prep.lower(s.stage),
        vis_day=day_number(left_us),
        stay_s=((left_us - s.entered_us) // 1_000_000).cast("int64"),
        stays=ibis.literal(1).cast("int64"),
    )
    grid = stage_now(ctx).select("stage_key", "c_day", "opportunity_id", "entered_us")
    carry = ("opportunity_id", "entered_us")
    # Skew: on Spark this running window is partitioned by stage, a handful of values, so each
    # stage's stays and snapshots are ordered in one task. Fine at millions of deals; beyond
    # that, aggregate stays per (stage, day) first and join the norms back to the snapshots.
    j = running(spells, grid, ["stage_key"], ["stay_s", "stays"], how="sum", carry=carry)
    return j.select(
        "opportunity_id",
        "c_day",
        stage_entered_us=j.entered_us,  # so the ratio needs no other source
        norm_days=ibis.ifelse(
            j.run_stays.fill_null(0) > 0,
            j.run_stay_s.cast("float64") / j.run_stays.cast("float64") / 86_400.0,
            None,
        ),
    )


def deal_activity(ctx: Context) -> ir.Table:
    """Touches on the deal before each snapshot: last 30 days, since the current stage, ever."""
    t = ctx.activities.filter(ctx.activities.opportunity_id.notnull())
    touch = t.kind.isin(prep.TOUCH_TYPES)
    r = t.group_by(["opportunity_id", "contact_id", "occ_day", "vis_day"]).aggregate(
        touches=_n(touch).sum(),
        meetings=_n(t.kind == "meeting").sum(),
        calls=_n(t.kind == "call").sum(),
        connected=_n((t.kind == "call") & (t.result == "connected")).sum(),
        dm=_n(touch & t.reached_decision_maker).sum(),
    )
    g = ctx.opportunity_grid.select("opportunity_id", "c_day")
    if has_stages(ctx):
        entered = stage_now(ctx).select("opportunity_id", "c_day", "entered_day")
        g = left_join(g, entered, ["opportunity_id", "c_day"])
    else:
        g = g.mutate(entered_day=ibis.null("int64"))
    j = r.join(g, [r.opportunity_id == g.opportunity_id, r.vis_day < g.c_day])
    since_stage = j.entered_day.notnull() & (j.occ_day >= j.entered_day)
    return j.group_by([g.opportunity_id, g.c_day]).aggregate(
        d_touches=j.touches.sum(),
        d_touches30=_x(j.occ_day >= j.c_day - 30, j.touches).sum(),
        d_in_stage=_x(since_stage, j.touches).sum(),
        d_meetings=j.meetings.sum(),
        d_calls=j.calls.sum(),
        d_connected=j.connected.sum(),
        d_dm=j.dm.sum(),
        d_contacts=ibis.ifelse(j.touches > 0, j.contact_id, None).nunique(),
        d_last_touch=ibis.ifelse(j.touches > 0, j.occ_day, None).max(),
    )


def rep_record(ctx: Context) -> ir.Table:
    """The owning rep's deals closed before the cutoff: count, wins, and the win rate of those
    that reached at least the current stage."""
    o = ctx.opportunities
    closed = o.filter(o.closed_us.notnull() & o.result.isin(("won", "lost")))
    if has_stages(ctx):
        s = ctx.stages
        furthest = s.group_by("opportunity_id").aggregate(furthest=s.pos.max())
        closed = left_join(closed, furthest, ["opportunity_id"])
    else:
        closed = closed.mutate(furthest=ibis.literal(0).cast("int64"))
    levels = ibis.memtable(pd.DataFrame({"k": range(len(ctx.stage_order) + 1)}, dtype="int64"))
    ev = closed.join(levels, levels.k <= closed.furthest.fill_null(0)).select(
        rep=closed.owner_rep_id,
        k=levels.k,
        vis_day=closed.closed_day,
        deals=ibis.literal(1).cast("int64"),
        wins=_n(closed.result == "won"),
    )
    snaps = ctx.opportunity_grid.select("opportunity_id", "c_day")
    if has_stages(ctx):
        snaps = left_join(
            snaps,
            stage_now(ctx).select("opportunity_id", "c_day", "pos"),
            ["opportunity_id", "c_day"],
        )
    else:
        snaps = snaps.mutate(pos=ibis.null("int64"))
    snaps = snaps.join(o.select("opportunity_id", rep=o.owner_rep_id), "opportunity_id")
    snaps = snaps.filter(snaps.rep.notnull()).mutate(pos=snaps.pos.fill_null(0))
    level = lambda name: ibis.literal(name).cast("string")  # noqa: E731
    grid = snaps.select("rep", "c_day", "opportunity_id", k=_.pos, level=level("stage")).union(
        snaps.select(
            "rep", "c_day", "opportunity_id", k=ibis.literal(0).cast("int64"), level=level("all")
        )
    )
    runs = running(
        ev, grid, ["rep", "k"], ["deals", "wins"], how="sum", carry=("opportunity_id", "level")
    )
    pick = lambda lvl, col: ibis.ifelse(runs.level == lvl, runs[col], None).max()  # noqa: E731
    return runs.group_by(["opportunity_id", "c_day"]).aggregate(
        rep_deals=pick("all", "run_deals"),
        rep_wins=pick("all", "run_wins"),
        stage_deals=pick("stage", "run_deals"),
        stage_wins=pick("stage", "run_wins"),
    )
