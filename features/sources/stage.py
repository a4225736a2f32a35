"""Stage history: each open deal's current stage at each snapshot, when it entered it, how it
moved so far, and how long the deal has been open.

Outcome and close date of other deals count only from their `closed_at`; stage entries only from
their `entered_at`. `stage_now` is shared: the stage norm, the deal's activity and the rep's
record read it too.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
from ibis import _

from features import prep
from features.core import Context, left_join
from features.declare import Source, count_of, value_of
from features.timeline import days_before_cutoff

STAGES = ("opportunities", "opportunity_stages")


def has_stages(ctx: Context) -> bool:
    """Whether the build has a stage history (`opportunity_stages`)."""
    return "opportunity_stages" in ctx.tables


def _last_entry_per_day(ctx: Context) -> ir.Table:
    """The last stage entry of each deal and day, with the day the deal next changed stage."""
    s = ctx.stages
    w = ibis.window(group_by=[s.opportunity_id, s.entered_day], order_by=ibis.desc(s.seq))
    s = s.mutate(rank=ibis.row_number().over(w)).filter(_.rank == 0)
    by_deal = ibis.window(group_by=s.opportunity_id, order_by=s.entered_day)
    return s.mutate(next_day=s.entered_day.lead().over(by_deal))


def current_stage(ctx: Context) -> ir.Table:
    """The deal's current stage at each snapshot, when it entered it, and its history so far."""
    g, s = ctx.opportunity_grid, _last_entry_per_day(ctx)
    valid = (s.entered_day < g.c_day) & (s.next_day.isnull() | (s.next_day >= g.c_day))
    j = g.join(s, [g.opportunity_id == s.opportunity_id, valid])
    return j.select(
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


def stage_now(ctx: Context) -> ir.Table:
    """`current_stage`, computed once per build."""
    return ctx.shared("stage_now", current_stage)


def stage_snapshots(ctx: Context) -> ir.Table:
    """Every snapshot with its current stage (when there is one) and the days the deal has been
    open (`days_open`, which stage velocity divides by)."""
    g, o = ctx.opportunity_grid, ctx.opportunities
    j = g.join(o.select("opportunity_id", "created_us"), "opportunity_id")
    opened = j.select(
        "opportunity_id",
        "c_day",
        days_open=days_before_cutoff(j.c_day, j.created_us),
    )
    return left_join(opened, stage_now(ctx), ["opportunity_id", "c_day"])


def days_in_stage(t: Any) -> Any:
    return days_before_cutoff(t.c_day, t.entered_us)


def velocity(t: Any) -> Any:
    age = t.days_open
    return ibis.ifelse(age > 0, t.advances.fill_null(0).cast("float64") * 30.0 / age, None)


SOURCE = Source(name="stage", entity="opportunity", query=stage_snapshots, tables=STAGES)

FEATURES = (
    SOURCE.feature(
        name="current_stage",
        family="pipeline",
        description="Stage the deal is in",
        window_days=None,
        expr=value_of("stage"),
        kind="categorical",
    ),
    SOURCE.feature(
        name="stage_position",
        family="pipeline",
        description="Position of the current stage in the sales process (1 = first)",
        window_days=None,
        expr=lambda t: (t.pos + 1).cast("float64"),
        unit="stage",
    ),
    SOURCE.feature(
        name="days_in_current_stage",
        family="pipeline",
        description="Days since the deal entered its current stage",
        window_days=None,
        expr=days_in_stage,
        unit="days",
    ),
    SOURCE.feature(
        name="stage_velocity_per_30d",
        family="pipeline",
        description="Stages moved forward per 30 days since the deal opened",
        window_days=None,
        expr=velocity,
        unit="stages per 30 days",
    ),
    SOURCE.feature(
        name="stage_regressions",
        family="pipeline",
        description="Times the deal moved back to an earlier stage",
        window_days=None,
        expr=count_of("regressions"),
        unit="times",
    ),
)
