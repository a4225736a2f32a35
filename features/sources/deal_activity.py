"""The deal's own activity: touches on the deal before each snapshot (last 30 days, since the
current stage, ever), its meetings, calls, contacts and the decision maker.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import prep
from features.core import Context, left_join, one_if, value_if
from features.declare import Source, count_of, days_since, flag_of, ratio_of
from features.sources.stage import STAGES, has_stages, stage_now


def deal_activity(ctx: Context) -> ir.Table:
    """Touches on the deal before each snapshot: last 30 days, since the current stage, ever."""
    t = ctx.activities.filter(ctx.activities.opportunity_id.notnull())
    touch = t.kind.isin(prep.TOUCH_TYPES)
    r = t.group_by(["opportunity_id", "contact_id", "occ_day", "vis_day"]).aggregate(
        touches=one_if(touch).sum(),
        meetings=one_if(t.kind == "meeting").sum(),
        calls=one_if(t.kind == "call").sum(),
        connected=one_if((t.kind == "call") & (t.result == "connected")).sum(),
        dm=one_if(touch & t.reached_decision_maker).sum(),
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
        d_touches30=value_if(j.occ_day >= j.c_day - 30, j.touches).sum(),
        d_in_stage=value_if(since_stage, j.touches).sum(),
        d_meetings=j.meetings.sum(),
        d_calls=j.calls.sum(),
        d_connected=j.connected.sum(),
        d_dm=j.dm.sum(),
        d_contacts=ibis.ifelse(j.touches > 0, j.contact_id, None).nunique(),
        d_last_touch=ibis.ifelse(j.touches > 0, j.occ_day, None).max(),
    )


SOURCE = Source(
    name="deal_activity",
    entity="opportunity",
    query=deal_activity,
    tables=("opportunities", "activities"),
)

FEATURES = (
    SOURCE.feature(
        name="touches_in_current_stage",
        family="pipeline",
        description="Calls, emails, meetings and demos on the deal since the day it entered its "
        "current stage",
        window_days=None,
        expr=count_of("d_in_stage"),
        actionable=True,
        unit="touches",
        tables=STAGES,
    ),
    SOURCE.feature(
        name="deal_touches_30d",
        family="cadence",
        description="Touches on the deal, last 30 days",
        window_days=30,
        expr=count_of("d_touches30"),
        actionable=True,
        unit="touches",
    ),
    SOURCE.feature(
        name="days_since_last_deal_touch",
        family="cadence",
        description="Days since the last touch on the deal",
        window_days=None,
        expr=days_since("d_last_touch"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="deal_meetings",
        family="conversation_depth",
        description="Meetings held on the deal so far",
        window_days=None,
        expr=count_of("d_meetings"),
        actionable=True,
        unit="meetings",
    ),
    SOURCE.feature(
        name="deal_connect_rate",
        family="conversation_depth",
        description="Share of calls on the deal that connected",
        window_days=None,
        expr=ratio_of("d_connected", "d_calls"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="deal_reached_decision_maker",
        family="reach",
        description="Reached the decision maker on this deal",
        window_days=None,
        expr=flag_of("d_dm"),
        kind="bool",
        actionable=True,
    ),
    SOURCE.feature(
        name="deal_distinct_contacts",
        family="reach",
        description="Different customer contacts engaged on the deal",
        window_days=None,
        expr=count_of("d_contacts"),
        actionable=True,
        unit="contacts",
    ),
)
