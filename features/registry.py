"""The declarative feature registry: every feature declared once, with the words a manager reads.

The registry drives computation (`features.engine`), documentation (`barometer features --list`)
and explanations (`barometer.scoring.reasons` turns a feature's description into a sentence).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Entity = Literal["account", "opportunity", "rep"]
Family = Literal[
    "cadence",
    "conversation_depth",
    "reach",
    "responsiveness",
    "timing",
    "intent",
    "service_quality",
    "customer_voice",
    "pipeline",
    "rep_context",
    "account_context",
]
Kind = Literal["numeric", "categorical", "bool"]

FAMILY_LABELS: dict[str, str] = {
    "cadence": "Cadence and silence",
    "conversation_depth": "Conversation depth",
    "reach": "Reach and multi-threading",
    "responsiveness": "Responsiveness and follow-up",
    "timing": "Timing",
    "intent": "Intent",
    "service_quality": "Service quality",
    "customer_voice": "Customer voice",
    "pipeline": "Pipeline and stage",
    "rep_context": "Rep context",
    "account_context": "Account context",
}


@dataclass(frozen=True)
class Feature:
    """One behavioural feature.

    `description` is the plain-words sentence a manager reads, e.g.
    "Share of connected calls over 10 minutes, last 90 days". `actionable` marks behaviours a rep
    controls (what-if suggestions are limited to these). `unit` helps phrasing ("days", "calls").
    `expr` is the engine's definition (see `features.engine`); `tables` are the contract tables it
    needs, so a missing table switches the feature off with a message.
    """

    name: str
    entity: Entity
    family: Family
    description: str
    window_days: int | None
    kind: Kind = "numeric"
    actionable: bool = False
    unit: str = ""
    tables: tuple[str, ...] = ("activities",)
    expr: Callable[..., Any] | None = None
    source: str = ""  # the rollup source (`features.engine.SOURCES`) the expression reads


# ------------------------------------------------------------------ expression helpers
# Each expression takes the wide table of raw rollup columns (one row per entity and cutoff)
# and returns an Ibis value. See `features.rollups` and `features.deals` for the raw columns.


def _c(name: str) -> Callable[[Any], Any]:
    """A count column; no rows in the window means zero."""
    return lambda t: t[name].fill_null(0)


def _r(num: str, den: str) -> Callable[[Any], Any]:
    """num / den, empty when den is zero."""
    from features.timeline import ratio

    return lambda t: ratio(t[num], t[den])


def _per_week(name: str, days: int) -> Callable[[Any], Any]:
    return lambda t: t[name].fill_null(0).cast("float64") * (7.0 / days)


def _days_since(day_col: str) -> Callable[[Any], Any]:
    return lambda t: (t.c_day - t[day_col]).cast("float64")


def _mean(total: str, n: str) -> Callable[[Any], Any]:
    return _r(total, n)


def _std(total: str, squares: str, n: str) -> Callable[[Any], Any]:
    """Population standard deviation from sums of whole numbers (exact in float64 on every
    engine); needs 2+ values."""

    def expr(t: Any) -> Any:
        import ibis

        n_ = t[n].fill_null(0).cast("float64")
        mean = t[total].cast("float64") / n_
        var = t[squares].cast("float64") / n_ - mean * mean
        return ibis.ifelse(n_ >= 2, ibis.greatest(var, 0.0).sqrt(), None)

    return expr


def _trend(recent: str, total: str) -> Callable[[Any], Any]:
    """Per-week rate in the last 30 days minus the per-week rate in the 60 days before."""

    def expr(t: Any) -> Any:
        r = t[recent].fill_null(0).cast("float64")
        prior = t[total].fill_null(0).cast("float64") - r
        return r * (7.0 / 30) - prior * (7.0 / 60)

    return expr


def _col(name: str, cast: str | None = None) -> Callable[[Any], Any]:
    return (lambda t: t[name].cast(cast)) if cast else (lambda t: t[name])


def _flag(name: str) -> Callable[[Any], Any]:
    return lambda t: t[name].fill_null(0) > 0


def _days_in_stage(t: Any) -> Any:
    from features.timeline import US_PER_DAY

    return (t.c_day * US_PER_DAY - t.entered_us).cast("float64") / float(US_PER_DAY)


def _stage_vs_norm(t: Any) -> Any:
    import ibis

    from features.timeline import US_PER_DAY

    norm = t.norm_days
    days = (t.c_day * US_PER_DAY - t.stage_entered_us).cast("float64") / float(US_PER_DAY)
    return ibis.ifelse(norm.fill_null(0) > 0, days / norm, None)


def _velocity(t: Any) -> Any:
    import ibis

    age = t.age_days
    return ibis.ifelse(age > 0, t.advances.fill_null(0).cast("float64") * 30.0 / age, None)


def _nps_flag(low: float, high: float) -> Callable[[Any], Any]:
    return lambda t: t.nps_score.between(low, high)


# ------------------------------------------------------------------ the registry

A, OPP = "account", "opportunity"
ACT, CASES, NPS = ("activities",), ("cases",), ("nps",)
OPPS = ("opportunities",)
STAGES = ("opportunities", "opportunity_stages")
DEAL_ACTS = ("opportunities", "activities")


def _f(
    name: str,
    entity: Entity,
    family: Family,
    description: str,
    window: int | None,
    source: str,
    expr: Callable[[Any], Any],
    **kw: Any,
) -> Feature:
    return Feature(
        name=name,
        entity=entity,
        family=family,
        description=description,
        window_days=window,
        source=source,
        expr=expr,
        **kw,
    )


_OBJECTIVE_WORDS = {
    "discovery": "discovery",
    "follow_up": "follow-up",
    "negotiation": "negotiation",
    "check_in": "check-in",
    "upsell": "upsell",
    "support": "support",
}

REGISTRY: tuple[Feature, ...] = (
    # Cadence and silence
    _f(
        "touches_per_week_30d",
        A,
        "cadence",
        "Calls, emails, meetings and demos per week, last 30 days",
        30,
        "activity",
        _per_week("a30_touches", 30),
        actionable=True,
        unit="touches per week",
    ),
    _f(
        "touches_per_week_90d",
        A,
        "cadence",
        "Calls, emails, meetings and demos per week, last 90 days",
        90,
        "activity",
        _per_week("a90_touches", 90),
        actionable=True,
        unit="touches per week",
    ),
    _f(
        "touch_trend_30d_vs_prior_60d",
        A,
        "cadence",
        "Change in touches per week: last 30 days against the 60 days before",
        90,
        "activity",
        _trend("a30_touches", "a90_touches"),
        actionable=True,
        unit="touches per week",
    ),
    _f(
        "mean_days_between_touches_90d",
        A,
        "cadence",
        "Average days between days with a touch, last 90 days",
        90,
        "gaps",
        _mean("g90_sum", "g90_n"),
        actionable=True,
        unit="days",
    ),
    _f(
        "touch_gap_variability_90d",
        A,
        "cadence",
        "How irregular the touches are: spread (standard deviation) of the days between touches, "
        "last 90 days",
        90,
        "gaps",
        _std("g90_sum", "g90_sq", "g90_n"),
        actionable=True,
        unit="days",
    ),
    _f(
        "touch_gap_variability_30d",
        A,
        "cadence",
        "Spread (standard deviation) of the days between touches, last 30 days",
        30,
        "gaps",
        _std("g30_sum", "g30_sq", "g30_n"),
        actionable=True,
        unit="days",
    ),
    _f(
        "longest_silence_90d",
        A,
        "cadence",
        "Longest stretch without a touch, last 90 days",
        90,
        "gaps",
        _col("g90_max", "float64"),
        actionable=True,
        unit="days",
    ),
    _f(
        "days_since_last_touch",
        A,
        "cadence",
        "Days since the last call, email, meeting or demo",
        None,
        "recency",
        _days_since("run_touch"),
        actionable=True,
        unit="days",
    ),
    _f(
        "days_since_last_connected_call",
        A,
        "cadence",
        "Days since the last call that connected",
        None,
        "recency",
        _days_since("run_connected"),
        actionable=True,
        unit="days",
    ),
    _f(
        "usage_events_30d",
        A,
        "cadence",
        "Product usage and purchase events, last 30 days",
        30,
        "activity",
        _c("a30_usage"),
        unit="events",
    ),
    _f(
        "usage_trend_30d_vs_prior_60d",
        A,
        "cadence",
        "Change in usage and purchase events per week: last 30 days against the 60 days before",
        90,
        "activity",
        _trend("a30_usage", "a90_usage"),
        unit="events per week",
    ),
    _f(
        "days_since_last_usage",
        A,
        "cadence",
        "Days since the last product usage or purchase",
        None,
        "recency",
        _days_since("run_usage"),
        unit="days",
    ),
    _f(
        "usage_days_total",
        A,
        "cadence",
        "Days with product usage or a purchase, all history",
        None,
        "usage_history",
        _c("run_days"),
        unit="days",
    ),
    _f(
        "days_since_first_usage",
        A,
        "cadence",
        "Days since the first product usage or purchase",
        None,
        "usage_history",
        lambda t: (t.c_day + t.run_first_neg).cast("float64"),
        unit="days",
    ),
    # Conversation depth
    _f(
        "connect_rate_90d",
        A,
        "conversation_depth",
        "Share of calls that connected, last 90 days",
        90,
        "activity",
        _r("a90_connected", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    _f(
        "avg_connected_call_minutes_90d",
        A,
        "conversation_depth",
        "Average length of connected calls in minutes, last 90 days",
        90,
        "activity",
        lambda t: _r("a90_connected_s", "a90_connected")(t) / 60.0,
        actionable=True,
        unit="minutes",
    ),
    _f(
        "long_call_share_90d",
        A,
        "conversation_depth",
        "Share of connected calls over 10 minutes, last 90 days",
        90,
        "activity",
        _r("a90_long_calls", "a90_connected"),
        actionable=True,
        unit="share",
    ),
    _f(
        "meetings_90d",
        A,
        "conversation_depth",
        "Meetings held, last 90 days",
        90,
        "activity",
        _c("a90_meetings"),
        actionable=True,
        unit="meetings",
    ),
    _f(
        "demos_90d",
        A,
        "conversation_depth",
        "Product demos given, last 90 days",
        90,
        "activity",
        _c("a90_demos"),
        actionable=True,
        unit="demos",
    ),
    # Reach and multi-threading
    _f(
        "reached_decision_maker_90d",
        A,
        "reach",
        "Reached the decision maker in the last 90 days",
        90,
        "activity",
        _flag("a90_dm"),
        kind="bool",
        actionable=True,
    ),
    _f(
        "decision_maker_touch_share_90d",
        A,
        "reach",
        "Share of touches that reached the decision maker, last 90 days",
        90,
        "activity",
        _r("a90_dm", "a90_touches"),
        actionable=True,
        unit="share",
    ),
    _f(
        "distinct_contacts_90d",
        A,
        "reach",
        "Different customer contacts engaged, last 90 days",
        90,
        "reach",
        _c("contacts"),
        actionable=True,
        unit="contacts",
    ),
    _f(
        "distinct_contact_roles_90d",
        A,
        "reach",
        "Different contact roles touched (e.g. champion, decision maker), last 90 days",
        90,
        "reach",
        _c("roles"),
        actionable=True,
        unit="roles",
    ),
    # Responsiveness and follow-up
    _f(
        "days_to_follow_up_after_meeting_90d",
        A,
        "responsiveness",
        "Average days from a meeting to the next outbound call or email (0 = same day), "
        "meetings in the last 90 days",
        90,
        "rhythm",
        _mean("meet_lat_sum", "meet_lat_n"),
        actionable=True,
        unit="days",
    ),
    _f(
        "meetings_followed_up_within_2_days_share_90d",
        A,
        "responsiveness",
        "Share of meetings followed up by call or email within 2 days, last 90 days",
        90,
        "rhythm",
        _r("meet_within2", "meet_settled"),
        actionable=True,
        unit="share",
    ),
    _f(
        "days_to_answer_inbound_90d",
        A,
        "responsiveness",
        "Average days from the customer reaching out to the next outbound call or email "
        "(0 = same day), last 90 days",
        90,
        "rhythm",
        _mean("in_lat_sum", "in_lat_n"),
        actionable=True,
        unit="days",
    ),
    _f(
        "follow_ups_chased_by_call_share_90d",
        A,
        "responsiveness",
        "Share of follow-up emails or calls the rep chased with another call within 7 days, "
        "last 90 days",
        90,
        "rhythm",
        _r("fu_chased", "fu_settled"),
        actionable=True,
        unit="share",
    ),
    _f(
        "inbound_share_90d",
        A,
        "responsiveness",
        "Share of touches the customer started, last 90 days",
        90,
        "activity",
        _r("a90_inbound", "a90_touches"),
        unit="share",
    ),
    # Timing
    _f(
        "morning_call_share_90d",
        A,
        "timing",
        "Share of calls placed 06:00-12:00 UTC, last 90 days",
        90,
        "activity",
        _r("a90_calls_morning", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    _f(
        "afternoon_call_share_90d",
        A,
        "timing",
        "Share of calls placed 12:00-18:00 UTC, last 90 days",
        90,
        "activity",
        _r("a90_calls_afternoon", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    _f(
        "weekend_call_share_90d",
        A,
        "timing",
        "Share of calls placed at weekends, last 90 days",
        90,
        "activity",
        _r("a90_calls_weekend", "a90_calls"),
        actionable=True,
        unit="share",
    ),
    _f(
        "business_hours_call_share_90d",
        A,
        "timing",
        "Share of calls in the customer's business hours (09:00-17:00 local, Monday-Friday), "
        "last 90 days; empty when the region's time zone is unknown",
        90,
        "activity",
        _r("a90_calls_business", "a90_calls_tz_known"),
        actionable=True,
        unit="share",
        tables=("activities", "accounts"),
    ),
    # Intent
    *(
        _f(
            f"{goal}_call_share_90d",
            A,
            "intent",
            f"Share of calls with a {_OBJECTIVE_WORDS[goal]} objective, last 90 days",
            90,
            "activity",
            _r(f"a90_goal_{goal}", "a90_calls_with_goal"),
            actionable=True,
            unit="share",
        )
        for goal in _OBJECTIVE_WORDS
    ),
    # Service quality
    _f(
        "cases_opened_90d",
        A,
        "service_quality",
        "Support cases opened, last 90 days",
        90,
        "service",
        _c("opened"),
        unit="cases",
        tables=CASES,
    ),
    _f(
        "urgent_cases_opened_90d",
        A,
        "service_quality",
        "High-priority or urgent support cases opened, last 90 days",
        90,
        "service",
        _c("urgent"),
        unit="cases",
        tables=CASES,
    ),
    _f(
        "open_cases",
        A,
        "service_quality",
        "Support cases still open at the cutoff",
        None,
        "service",
        _c("open"),
        unit="cases",
        tables=CASES,
    ),
    _f(
        "oldest_open_case_days",
        A,
        "service_quality",
        "Age in days of the oldest support case still open",
        None,
        "service",
        _days_since("oldest_open_day"),
        unit="days",
        tables=CASES,
    ),
    _f(
        "first_contact_resolution_rate_180d",
        A,
        "service_quality",
        "Share of cases resolved at first contact, cases closed in the last 180 days",
        180,
        "service",
        _r("fcr", "fcr_known"),
        actionable=True,
        unit="share",
        tables=CASES,
    ),
    _f(
        "avg_hours_to_resolve_180d",
        A,
        "service_quality",
        "Average hours from opening to closing a case, cases closed in the last 180 days",
        180,
        "service",
        _mean("res_h_sum", "closed"),
        actionable=True,
        unit="hours",
        tables=CASES,
    ),
    _f(
        "escalation_rate_180d",
        A,
        "service_quality",
        "Share of cases escalated, cases closed in the last 180 days",
        180,
        "service",
        _r("esc", "esc_known"),
        actionable=True,
        unit="share",
        tables=CASES,
    ),
    _f(
        "avg_case_csat_180d",
        A,
        "service_quality",
        "Average customer satisfaction (1-5) on cases closed in the last 180 days",
        180,
        "service",
        _mean("csat_sum", "csat_n"),
        unit="points",
        tables=CASES,
    ),
    # Customer voice
    _f(
        "latest_nps",
        A,
        "customer_voice",
        "Latest Net Promoter score (0-10)",
        None,
        "voice",
        _col("nps_score", "float64"),
        unit="points",
        tables=NPS,
    ),
    _f(
        "nps_change_since_previous",
        A,
        "customer_voice",
        "Change in Net Promoter score since the previous response",
        None,
        "voice",
        lambda t: (t.nps_score - t.nps_prev).cast("float64"),
        unit="points",
        tables=NPS,
    ),
    _f(
        "is_nps_detractor",
        A,
        "customer_voice",
        "Latest NPS response is a detractor (0-6)",
        None,
        "voice",
        _nps_flag(0, 6),
        kind="bool",
        tables=NPS,
    ),
    _f(
        "is_nps_promoter",
        A,
        "customer_voice",
        "Latest NPS response is a promoter (9-10)",
        None,
        "voice",
        _nps_flag(9, 10),
        kind="bool",
        tables=NPS,
    ),
    _f(
        "days_since_last_nps",
        A,
        "customer_voice",
        "Days since the latest NPS response",
        None,
        "voice",
        _days_since("nps_day"),
        unit="days",
        tables=NPS,
    ),
    _f(
        "avg_interaction_rating_90d",
        A,
        "customer_voice",
        "Average customer rating of calls and meetings (1-5), last 90 days",
        90,
        "activity",
        _mean("a90_rating_sum", "a90_rated"),
        unit="points",
    ),
    # Account context
    _f(
        "segment",
        A,
        "account_context",
        "Commercial segment",
        None,
        "profile",
        _col("segment"),
        kind="categorical",
        tables=("accounts",),
    ),
    _f(
        "industry",
        A,
        "account_context",
        "Industry the account works in",
        None,
        "profile",
        _col("industry"),
        kind="categorical",
        tables=("accounts",),
    ),
    _f(
        "region",
        A,
        "account_context",
        "Sales region",
        None,
        "profile",
        _col("region"),
        kind="categorical",
        tables=("accounts",),
    ),
    _f(
        "tenure_days",
        A,
        "account_context",
        "Days since the account was created",
        None,
        "profile",
        _col("tenure_days"),
        unit="days",
        tables=("accounts",),
    ),
    _f(
        "arr",
        A,
        "account_context",
        "Annual recurring revenue",
        None,
        "profile",
        _col("arr", "float64"),
        unit="currency",
        tables=("accounts",),
    ),
    # Pipeline and stage (opportunity)
    _f(
        "current_stage",
        OPP,
        "pipeline",
        "Stage the deal is in",
        None,
        "stage",
        _col("stage"),
        kind="categorical",
        tables=STAGES,
    ),
    _f(
        "stage_position",
        OPP,
        "pipeline",
        "Position of the current stage in the sales process (1 = first)",
        None,
        "stage",
        lambda t: (t.pos + 1).cast("float64"),
        unit="stage",
        tables=STAGES,
    ),
    _f(
        "days_in_current_stage",
        OPP,
        "pipeline",
        "Days since the deal entered its current stage",
        None,
        "stage",
        _days_in_stage,
        actionable=True,
        unit="days",
        tables=STAGES,
    ),
    _f(
        "days_in_stage_vs_norm",
        OPP,
        "pipeline",
        "Days in the current stage divided by the usual stay in that stage (1 = typical, "
        "2 = twice as long)",
        None,
        "stage_norm",
        _stage_vs_norm,
        actionable=True,
        unit="times",
        tables=STAGES,
    ),
    _f(
        "stage_velocity_per_30d",
        OPP,
        "pipeline",
        "Stages moved forward per 30 days since the deal opened",
        None,
        "stage",
        _velocity,
        unit="stages per 30 days",
        tables=STAGES,
    ),
    _f(
        "stage_regressions",
        OPP,
        "pipeline",
        "Times the deal moved back to an earlier stage",
        None,
        "stage",
        _c("regressions"),
        unit="times",
        tables=STAGES,
    ),
    _f(
        "deal_amount",
        OPP,
        "pipeline",
        "Deal value",
        None,
        "deal",
        _col("amount", "float64"),
        unit="currency",
        tables=OPPS,
    ),
    _f(
        "deal_type",
        OPP,
        "pipeline",
        "Kind of deal (new business, upsell, renewal, ...)",
        None,
        "deal",
        _col("type"),
        kind="categorical",
        tables=OPPS,
    ),
    _f(
        "deal_age_days",
        OPP,
        "pipeline",
        "Days since the deal was opened",
        None,
        "deal",
        _col("age_days"),
        unit="days",
        tables=OPPS,
    ),
    _f(
        "touches_in_current_stage",
        OPP,
        "pipeline",
        "Calls, emails, meetings and demos on the deal since the day it entered its current stage",
        None,
        "deal_activity",
        _c("d_in_stage"),
        actionable=True,
        unit="touches",
        tables=STAGES,
    ),
    _f(
        "deal_touches_30d",
        OPP,
        "cadence",
        "Touches on the deal, last 30 days",
        30,
        "deal_activity",
        _c("d_touches30"),
        actionable=True,
        unit="touches",
        tables=DEAL_ACTS,
    ),
    _f(
        "days_since_last_deal_touch",
        OPP,
        "cadence",
        "Days since the last touch on the deal",
        None,
        "deal_activity",
        _days_since("d_last_touch"),
        actionable=True,
        unit="days",
        tables=DEAL_ACTS,
    ),
    _f(
        "deal_meetings",
        OPP,
        "conversation_depth",
        "Meetings held on the deal so far",
        None,
        "deal_activity",
        _c("d_meetings"),
        actionable=True,
        unit="meetings",
        tables=DEAL_ACTS,
    ),
    _f(
        "deal_connect_rate",
        OPP,
        "conversation_depth",
        "Share of calls on the deal that connected",
        None,
        "deal_activity",
        _r("d_connected", "d_calls"),
        actionable=True,
        unit="share",
        tables=DEAL_ACTS,
    ),
    _f(
        "deal_reached_decision_maker",
        OPP,
        "reach",
        "Reached the decision maker on this deal",
        None,
        "deal_activity",
        _flag("d_dm"),
        kind="bool",
        actionable=True,
        tables=DEAL_ACTS,
    ),
    _f(
        "deal_distinct_contacts",
        OPP,
        "reach",
        "Different customer contacts engaged on the deal",
        None,
        "deal_activity",
        _c("d_contacts"),
        actionable=True,
        unit="contacts",
        tables=DEAL_ACTS,
    ),
    # Rep context
    _f(
        "rep_win_rate",
        OPP,
        "rep_context",
        "The owning rep's win rate on deals closed before the cutoff",
        None,
        "rep",
        _r("rep_wins", "rep_deals"),
        unit="share",
        tables=OPPS,
    ),
    _f(
        "rep_closed_deals",
        OPP,
        "rep_context",
        "Deals the owning rep closed before the cutoff",
        None,
        "rep",
        _c("rep_deals"),
        unit="deals",
        tables=OPPS,
    ),
    _f(
        "rep_win_rate_from_current_stage",
        OPP,
        "rep_context",
        "The owning rep's win rate on closed deals that reached this deal's current stage",
        None,
        "rep",
        _r("stage_wins", "stage_deals"),
        unit="share",
        tables=STAGES,
    ),
)

BY_NAME: dict[str, Feature] = {f.name: f for f in REGISTRY}


def features_for(entity: Entity, tables: set[str] | None = None) -> list[Feature]:
    """The registry's features for an entity, optionally only those whose tables are present."""
    return [
        f for f in REGISTRY if f.entity == entity and (tables is None or set(f.tables) <= tables)
    ]


def feature_names(entity: Entity) -> list[str]:
    """Column names of an entity's feature table, in registry order."""
    return [f.name for f in features_for(entity)]


def registry_hash() -> str:
    """A short hash of the registry's names, kinds, windows and descriptions (model provenance)."""
    text = "\n".join(
        f"{f.name}|{f.entity}|{f.family}|{f.kind}|{f.window_days}|{f.description}" for f in REGISTRY
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def markdown() -> str:
    """The generated feature table for `docs/features.md`."""
    lines = [
        "# Features",
        "",
        "Generated from `features/registry.py` by `barometer features --list --markdown`; "
        "do not edit by hand.",
        "",
        f"{len(REGISTRY)} features, registry hash `{registry_hash()}`. "
        "A feature for (entity, cutoff) "
        "uses only events strictly before the cutoff whose record existed before it.",
    ]
    for entity in ("account", "opportunity"):
        lines += [
            "",
            f"## {entity.title()} features",
            "",
            "| feature | family | kind | window | description | actionable | needs |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in features_for(entity):  # type: ignore[arg-type]
            window = f"{f.window_days} d" if f.window_days else "all history"
            lines.append(
                f"| `{f.name}` | {FAMILY_LABELS[f.family]} | {f.kind} | {window} | "
                f"{f.description} | {'yes' if f.actionable else ''} | {', '.join(f.tables)} |"
            )
    return "\n".join(lines) + "\n"
