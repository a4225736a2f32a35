"""Contract tables prepared for point-in-time work: integer times and visibility days.

An activity becomes *visible* when it has both happened and been logged:
`visible = max(occurred_at, logged_at)`. It counts for a cutoff only if visible before it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis import _

from features.timeline import day_number, micros

TOUCH_TYPES = ("call", "email", "meeting", "demo")
USAGE_TYPES = ("usage", "purchase")
OBJECTIVES = ("discovery", "follow_up", "negotiation", "check_in", "upsell", "support")
# Regions whose customers' business hours we can place (UTC offset in hours); others are unknown.
REGION_UTC_OFFSETS = {
    "na": -5,
    "north_america": -5,
    "amer": -5,
    "americas": -5,
    "us": -5,
    "us_east": -5,
    "us_west": -8,
    "latam": -3,
    "south_america": -3,
    "emea": 1,
    "europe": 1,
    "eu": 1,
    "uk": 0,
    "dach": 1,
    "nordics": 1,
    "apac": 8,
    "asia": 8,
    "anz": 10,
    "japan": 9,
    "india": 5,
}


def lower(value: ir.StringValue) -> ir.StringValue:
    """Lower-cased text for free-text fields.

    Not `strip()`: Ibis compiles it for Spark as TRIM(' \\t\\n\\r\\v\\f' ...), and Spark reads
    `\\v` and `\\f` as the letters v and f, so 'follow_up' loses its leading f (the parity test
    caught it). Ingestion already trims values.
    """
    return value.lower()


def account_keys(accounts: ir.Table) -> ir.Table:
    """Accounts with `acc_key`: their rank by `account_id`, an integer stand-in that activity
    rollups group, sort and join by (cheaper than text keys)."""
    return accounts.mutate(acc_key=ibis.row_number().over(order_by=_.account_id).cast("int64"))


def activities(con, accounts: ir.Table) -> ir.Table:
    """The activity columns features read: occurred/visible days, lower-cased kinds, local time,
    and the account's `acc_key` (null for an account missing from `accounts`, see
    `account_keys`)."""
    t = con.table("activities")
    occ = micros(t.occurred_at)
    logged = micros(t.logged_at)
    vis = ibis.greatest(occ, logged.fill_null(occ))
    offsets = accounts.select(
        "acc_key",
        acc_id=_.account_id,
        offset_h=lower(_.region).substitute(REGION_UTC_OFFSETS, else_=ibis.null("int64")),
    )
    t = t.left_join(offsets, t.account_id == offsets.acc_id).drop("acc_id")
    local = t.occurred_at + t.offset_h.fill_null(0).cast("int64").as_interval("h")
    return t.select(
        "account_id",
        "acc_key",
        "opportunity_id",
        "contact_id",
        "contact_role",
        "duration_s",
        "reached_decision_maker",
        "rating",
        "rep_id",
        occ_day=day_number(occ),
        vis_day=day_number(vis),
        kind=lower(t.type),
        result=lower(t.outcome),
        goal=lower(t.objective),
        way=lower(t.direction),
        hour_utc=t.occurred_at.hour().cast("int64"),
        weekday_utc=t.occurred_at.day_of_week.index().cast("int64"),
        local_hour=ibis.ifelse(t.offset_h.isnull(), None, local.hour().cast("int64")),
        local_weekday=ibis.ifelse(
            t.offset_h.isnull(), None, local.day_of_week.index().cast("int64")
        ),
    )


def accounts(con) -> ir.Table:
    """Accounts with created/churned microseconds and days."""
    t = con.table("accounts")
    created, churned = micros(t.created_at), micros(t.churned_at)
    return t.mutate(
        created_us=created,
        created_day=day_number(created),
        churned_us=churned,
        churned_day=day_number(churned),
    )


def reps(con) -> ir.Table:
    """Reps with hired/left days (null when unknown or still employed)."""
    t = con.table("reps")

    def day(name: str) -> ir.IntegerValue:
        return day_number(micros(t[name])) if name in t.columns else ibis.null("int64")

    return t.select("rep_id", hired_day=day("hired_at"), left_day=day("left_at"))


def opportunities(con) -> ir.Table:
    """Opportunities with created/closed microseconds and days."""
    t = con.table("opportunities")
    created, closed = micros(t.created_at), micros(t.closed_at)
    return t.mutate(
        created_us=created,
        created_day=day_number(created),
        closed_us=closed,
        closed_day=day_number(closed),
        result=lower(t.outcome),
    )


def stage_position(stage: ir.StringValue, order: tuple[str, ...]) -> ir.IntegerValue:
    """0-based position in the configured order; unknown stages (e.g. closed) sit after the last."""
    mapping = {s.lower(): i for i, s in enumerate(order)}
    return lower(stage).substitute(mapping, else_=len(order)).cast("int64")


def stages(con, order: tuple[str, ...]) -> ir.Table:
    """Stage entries with position, the previous position, and running counts per deal.

    Running counts (regressions, forward moves, furthest stage) include every entry up to and
    including this one, so the entry current at a cutoff carries the deal's history until then.
    """
    t = con.table("opportunity_stages")
    us = micros(t.entered_at)
    t = t.mutate(entered_us=us, entered_day=day_number(us), pos=stage_position(t.stage, order))
    by_deal = ibis.window(group_by=_.opportunity_id, order_by=[_.entered_us, _.pos, _.stage])
    t = t.mutate(prev_pos=_.pos.lag().over(by_deal))
    t = t.mutate(
        back=ibis.ifelse(_.pos < _.prev_pos, 1, 0),
        fwd=ibis.ifelse(_.pos > _.prev_pos, 1, 0),
    )
    running = ibis.cumulative_window(
        group_by=_.opportunity_id, order_by=[_.entered_us, _.pos, _.stage]
    )
    return t.mutate(
        regressions=_.back.sum().over(running),
        advances=_.fwd.sum().over(running),
        furthest=_.pos.max().over(running),
        seq=ibis.row_number().over(running),
    )


def cases(con) -> ir.Table:
    """Cases with opened/closed days and resolution time in whole microseconds (summed exactly,
    so an average does not depend on the order an engine adds the rows in)."""
    t = con.table("cases")
    opened, closed = micros(t.opened_at), micros(t.closed_at)
    return t.mutate(
        opened_day=day_number(opened),
        closed_day=day_number(closed),
        resolution_us=closed - opened,
        urgent=lower(t.priority).isin(("high", "urgent", "critical")),
    )


def nps(con) -> ir.Table:
    """One NPS response per account and day (the day's last), with the previous score and the
    day the next response arrived (when this one stops being the latest)."""
    t = con.table("nps")
    us = micros(t.responded_at)
    t = t.mutate(resp_us=us, resp_day=day_number(us))
    last_of_day = ibis.window(group_by=[_.account_id, _.resp_day], order_by=ibis.desc(_.resp_us))
    t = t.mutate(rank=ibis.row_number().over(last_of_day)).filter(_.rank == 0)
    by_account = ibis.window(group_by=_.account_id, order_by=_.resp_day)
    return t.mutate(
        prev_score=_.score.lag().over(by_account),
        next_day=_.resp_day.lead().over(by_account),
    )
