"""The owning rep's record: deals closed before each cutoff, wins, and the win rate of those that
reached at least the deal's current stage.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from features.core import Context, left_join, one_if, running
from features.declare import Source, count_of, ratio_of
from features.sources.stage import STAGES, has_stages, stage_now


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
        wins=one_if(closed.result == "won"),
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


SOURCE = Source(
    name="rep_record", entity="opportunity", query=rep_record, tables=("opportunities",)
)

FEATURES = (
    SOURCE.feature(
        name="rep_win_rate",
        family="rep_context",
        description="The owning rep's win rate on deals closed before the cutoff",
        window_days=None,
        expr=ratio_of("rep_wins", "rep_deals"),
        unit="share",
    ),
    SOURCE.feature(
        name="rep_closed_deals",
        family="rep_context",
        description="Deals the owning rep closed before the cutoff",
        window_days=None,
        expr=count_of("rep_deals"),
        unit="deals",
    ),
    SOURCE.feature(
        name="rep_win_rate_from_current_stage",
        family="rep_context",
        description="The owning rep's win rate on closed deals that reached this deal's current "
        "stage",
        window_days=None,
        expr=ratio_of("stage_wins", "stage_deals"),
        unit="share",
        tables=STAGES,
    ),
)
