"""Stage norms: mean days deals spent in the current stage, over stays that ended before each
cutoff, against the days this deal has spent there.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from features import prep
from features.core import Context, running
from features.declare import Source
from features.sources.stage import STAGES, stage_now
from features.timeline import day_number, days_before_cutoff


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


def stage_vs_norm(t: Any) -> Any:
    norm = t.norm_days
    days = days_before_cutoff(t.c_day, t.stage_entered_us)
    return ibis.ifelse(norm.fill_null(0) > 0, days / norm, None)


SOURCE = Source(name="stage_norm", entity="opportunity", query=stage_norm, tables=STAGES)

FEATURES = (
    SOURCE.feature(
        name="days_in_stage_vs_norm",
        family="pipeline",
        description="Days in the current stage divided by the usual stay in that stage (1 = "
        "typical, "
        "2 = twice as long)",
        window_days=None,
        expr=stage_vs_norm,
        unit="times",
    ),
)
