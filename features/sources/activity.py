"""Activity windows: touches, calls, meetings, demos, usage and ratings over the last 30 and 90
days before each cutoff.

One pass over the activities groups them into buckets of events seen by the same run of cutoffs
(`features.core.day_map`); the buckets also carry each account's latest touch, connected call and
usage day, which `features.sources.recency` carries forward.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import prep
from features.core import Context, one_if, value_if, whole, with_runs
from features.declare import (
    Source,
    count_of,
    flag_of,
    mean_of,
    per_week,
    ratio_of,
    trend_of,
)

RECENT_MEASURES = ("touches", "usage")  # measures also summed over the last 30 days

OBJECTIVE_WORDS = {
    "discovery": "discovery",
    "follow_up": "follow-up",
    "negotiation": "negotiation",
    "check_in": "check-in",
    "upsell": "upsell",
    "support": "support",
}


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
        "touches": one_if(touch),
        "outbound": one_if(touch & (t.way == "outbound")),
        "inbound": one_if(touch & (t.way == "inbound")),
        "calls": one_if(call),
        "connected": one_if(connected),
        "connected_ms": value_if(connected, whole(t.duration_s, 1000)),
        "long_calls": one_if(connected & (t.duration_s >= 600)),
        "meetings": one_if(t.kind == "meeting"),
        "demos": one_if((t.kind == "demo") | ((t.kind == "meeting") & (t.goal == "demo"))),
        "dm": one_if(touch & t.reached_decision_maker),
        "usage": one_if(usage),
        "rated": one_if(t.rating.notnull()),
        "rating_milli": value_if(t.rating.notnull(), whole(t.rating, 1000)),
        "calls_morning": one_if(call & t.hour_utc.between(6, 11)),
        "calls_afternoon": one_if(call & t.hour_utc.between(12, 17)),
        "calls_weekend": one_if(call & (t.weekday_utc >= 5)),
        "calls_tz_known": one_if(known_tz),
        "calls_business": one_if(business),
        "calls_with_goal": one_if(call & t.goal.notnull()),
        **{f"goal_{g}": one_if(call & (t.goal == g)) for g in prep.OBJECTIVES},
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


def buckets(ctx: Context) -> ir.Table:
    """The activity buckets of this build, materialised once (this source and `recency` read
    them)."""
    return ctx.shared("activity_buckets", activity_buckets)


def activity_windows(ctx: Context) -> ir.Table:
    """Activity sums over the last 30 and 90 days before each cutoff, from the buckets."""
    b = buckets(ctx)
    j = b.join(ctx.spans, ["lo", "hi30", "hi90"])
    keys = ("acc_key", "lo", "lo_day", "hi30", "hi90")
    names = [c for c in b.columns if c not in keys and not c.startswith("last_")]
    aggs = {f"a90_{n}": j[n].sum() for n in names}
    aggs |= {f"a30_{n}": (j[n] * j.recent).sum() for n in RECENT_MEASURES if n in names}
    return j.group_by(["acc_key", "c_day"]).aggregate(**aggs)


SOURCE = Source(name="activity", entity="account", query=activity_windows)

FEATURES = (
    SOURCE.feature(
        name="touches_per_week_30d",
        family="cadence",
        description="Calls, emails, meetings and demos per week, last 30 days",
        window_days=30,
        expr=per_week("a30_touches", 30),
        actionable=True,
        unit="touches per week",
    ),
    SOURCE.feature(
        name="touches_per_week_90d",
        family="cadence",
        description="Calls, emails, meetings and demos per week, last 90 days",
        window_days=90,
        expr=per_week("a90_touches", 90),
        actionable=True,
        unit="touches per week",
    ),
    SOURCE.feature(
        name="touch_trend_30d_vs_prior_60d",
        family="cadence",
        description="Change in touches per week: last 30 days against the 60 days before",
        window_days=90,
        expr=trend_of("a30_touches", "a90_touches"),
        actionable=True,
        unit="touches per week",
    ),
    SOURCE.feature(
        name="usage_events_30d",
        family="cadence",
        description="Product usage and purchase events, last 30 days",
        window_days=30,
        expr=count_of("a30_usage"),
        unit="events",
    ),
    SOURCE.feature(
        name="usage_trend_30d_vs_prior_60d",
        family="cadence",
        description="Change in usage and purchase events per week: last 30 days against the 60 "
        "days before",
        window_days=90,
        expr=trend_of("a30_usage", "a90_usage"),
        unit="events per week",
    ),
    SOURCE.feature(
        name="connect_rate_90d",
        family="conversation_depth",
        description="Share of calls that connected, last 90 days",
        window_days=90,
        expr=ratio_of("a90_connected", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="avg_connected_call_minutes_90d",
        family="conversation_depth",
        description="Average length of connected calls in minutes, last 90 days",
        window_days=90,
        expr=lambda t: ratio_of("a90_connected_ms", "a90_connected")(t) / 60_000,
        actionable=True,
        unit="minutes",
    ),
    SOURCE.feature(
        name="long_call_share_90d",
        family="conversation_depth",
        description="Share of connected calls over 10 minutes, last 90 days",
        window_days=90,
        expr=ratio_of("a90_long_calls", "a90_connected"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="meetings_90d",
        family="conversation_depth",
        description="Meetings held, last 90 days",
        window_days=90,
        expr=count_of("a90_meetings"),
        actionable=True,
        unit="meetings",
    ),
    SOURCE.feature(
        name="demos_90d",
        family="conversation_depth",
        description="Product demos given, last 90 days",
        window_days=90,
        expr=count_of("a90_demos"),
        actionable=True,
        unit="demos",
    ),
    SOURCE.feature(
        name="reached_decision_maker_90d",
        family="reach",
        description="Reached the decision maker in the last 90 days",
        window_days=90,
        expr=flag_of("a90_dm"),
        kind="bool",
        actionable=True,
    ),
    SOURCE.feature(
        name="decision_maker_touch_share_90d",
        family="reach",
        description="Share of touches that reached the decision maker, last 90 days",
        window_days=90,
        expr=ratio_of("a90_dm", "a90_touches"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="inbound_share_90d",
        family="responsiveness",
        description="Share of touches the customer started, last 90 days",
        window_days=90,
        expr=ratio_of("a90_inbound", "a90_touches"),
        unit="share",
    ),
    SOURCE.feature(
        name="morning_call_share_90d",
        family="timing",
        description="Share of calls placed 06:00-12:00 UTC, last 90 days",
        window_days=90,
        expr=ratio_of("a90_calls_morning", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="afternoon_call_share_90d",
        family="timing",
        description="Share of calls placed 12:00-18:00 UTC, last 90 days",
        window_days=90,
        expr=ratio_of("a90_calls_afternoon", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="weekend_call_share_90d",
        family="timing",
        description="Share of calls placed at weekends, last 90 days",
        window_days=90,
        expr=ratio_of("a90_calls_weekend", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="business_hours_call_share_90d",
        family="timing",
        description="Share of calls in the customer's business hours (09:00-17:00 local, "
        "Monday-Friday), "
        "last 90 days; empty when the region's time zone is unknown",
        window_days=90,
        expr=ratio_of("a90_calls_business", "a90_calls_tz_known"),
        actionable=True,
        unit="share",
        tables=("activities", "accounts"),
    ),
    *(
        SOURCE.feature(
            name=f"{goal}_call_share_90d",
            family="intent",
            description=f"Share of calls with a {OBJECTIVE_WORDS[goal]} objective, last 90 days",
            window_days=90,
            expr=ratio_of(f"a90_goal_{goal}", "a90_calls_with_goal"),
            actionable=True,
            unit="share",
        )
        for goal in OBJECTIVE_WORDS
    ),
    SOURCE.feature(
        name="avg_interaction_rating_90d",
        family="customer_voice",
        description="Average customer rating of calls and meetings (1-5), last 90 days",
        window_days=90,
        expr=lambda t: mean_of("a90_rating_milli", "a90_rated")(t) / 1000,
        unit="points",
    ),
)
