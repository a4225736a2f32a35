"""Rhythm: follow-up latencies from the touch days visible before each cutoff within the last 90
days (what follows a meeting, an inbound touch, a follow-up).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.core import WINDOW, Context, one_if, value_if
from features.declare import Source, mean_of, ratio_of


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


def _band(rollup: ir.Table, ctx: Context, window: int) -> ir.Table:
    """Rollup rows joined to each cutoff whose window holds them and before which they were seen."""
    j = rollup.join(ctx.window_map(window), "occ_day")
    return j.filter(j.vis_day < j.c_day)


def rhythm(ctx: Context) -> ir.Table:
    """Follow-up latencies, from the touch days visible before each cutoff within the last 90
    days (what follows a meeting, an inbound touch, a follow-up)."""
    j = _band(touch_days(ctx), ctx, WINDOW)
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
        meet_lat_n=one_if(meet_lat.notnull()).sum(),
        meet_lat_sum=meet_lat.fill_null(0).sum(),
        meet_settled=one_if(settled_meeting).sum(),
        meet_within2=one_if(settled_meeting & (j.next_out - j.occ_day <= 2)).sum(),
        in_lat_n=one_if(j.is_inbound & j.next_out.notnull()).sum(),
        in_lat_sum=value_if(j.is_inbound, j.next_out - j.occ_day).sum(),
        fu_settled=one_if(settled_fu).sum(),
        fu_chased=one_if(settled_fu & (j.next_call - j.occ_day <= 7)).sum(),
    )


SOURCE = Source(name="rhythm", entity="account", query=rhythm)

FEATURES = (
    SOURCE.feature(
        name="days_to_follow_up_after_meeting_90d",
        family="responsiveness",
        description="Average days from a meeting to the next outbound call or email (0 = same "
        "day), "
        "meetings in the last 90 days",
        window_days=90,
        expr=mean_of("meet_lat_sum", "meet_lat_n"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="meetings_followed_up_within_2_days_share_90d",
        family="responsiveness",
        description="Share of meetings followed up by call or email within 2 days, last 90 days",
        window_days=90,
        expr=ratio_of("meet_within2", "meet_settled"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="days_to_answer_inbound_90d",
        family="responsiveness",
        description="Average days from the customer reaching out to the next outbound call or "
        "email "
        "(0 = same day), last 90 days",
        window_days=90,
        expr=mean_of("in_lat_sum", "in_lat_n"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="follow_ups_chased_by_call_share_90d",
        family="responsiveness",
        description="Share of follow-up emails or calls the rep chased with another call within 7 "
        "days, "
        "last 90 days",
        window_days=90,
        expr=ratio_of("fu_chased", "fu_settled"),
        actionable=True,
        unit="share",
    ),
)
