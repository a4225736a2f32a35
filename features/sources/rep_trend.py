"""Each rep's behaviour trend at each cutoff: activity volume against the rep's own past, win
rate against the rep's own past, accounts lost, tenure.

The entity is the rep (`features.core.rep_grid`: reps hired before the cutoff who had not left
before it). Every measure is a running sum of signed events (`features.core.running`): an event
enters its window on the day it became visible and leaves it when it is too old, so one pass over
the events serves every cutoff. Only the record of who *did* something is read
(`activities.rep_id`, the owner of a deal when it closed): `owner_rep_id` of accounts and open
deals is the current owner, which a departure after the cutoff rewrites, so it would leak the
label.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis import _

from features.core import Context, one_if, running
from features.declare import Source, count_of, per_week, ratio_of
from features.timeline import ratio

RECENT_DAYS = 90  # the recent activity window
PRIOR_DAYS = 180  # the rep's own baseline: the 180 days before the recent window
DEALS_DAYS = 180  # closed deals: the last 180 days against the 360 before
DEALS_PRIOR_DAYS = 360
LOST_DAYS = 180  # accounts lost in the last 180 days
LOST_TOUCH_DAYS = 180  # … that the rep had touched in the 180 days before they churned
MONTH_DAYS = 30.44


def window_events(t: ir.Table, start: ir.IntegerValue, days: int, lag: int = 0) -> ir.Table:
    """Signed events that count `t.n` for every cutoff c with `start` in [c - lag - days, c - lag)
    once the row is visible (`t.vis_day < c`): +n from max(vis, start + lag), -n from
    max(vis, start + lag + days). Summed by `running`, they give the window's total."""
    enter = ibis.greatest(t.vis_day, start + lag)
    leave = ibis.greatest(t.vis_day, start + lag + days)
    n = t.n.cast("int64")
    plus = t.select("rep_id", "name", vis_day=enter.cast("int64"), n=n)
    minus = t.select("rep_id", "name", vis_day=leave.cast("int64"), n=-n)
    return plus.union(minus)


def touch_events(ctx: Context) -> ir.Table:
    """Touches the rep made, per (rep, day, visible day), in the recent and the prior window."""
    a = ctx.touches.filter(ctx.touches.rep_id.notnull())
    daily = a.group_by(["rep_id", "occ_day", "vis_day"]).aggregate(n=_.count().cast("int64"))
    recent = window_events(daily.mutate(name=ibis.literal("touches")), daily.occ_day, RECENT_DAYS)
    prior = daily.mutate(name=ibis.literal("prior_touches"))
    prior = window_events(prior, prior.occ_day, PRIOR_DAYS, lag=RECENT_DAYS)
    return recent.union(prior)


def deal_events(ctx: Context) -> ir.Table:
    """Deals the rep owned when they closed (won or lost), recent and prior windows."""
    o = ctx.opportunities
    done = o.closed_day.notnull() & o.result.isin(("won", "lost")) & o.owner_rep_id.notnull()
    closed = o.filter(done)
    rows = closed.select(rep_id=_.owner_rep_id, day=_.closed_day, won=one_if(_.result == "won"))
    out = []
    for measure, n in (("deals", ibis.literal(1).cast("int64")), ("wins", rows.won)):
        base = rows.select("rep_id", "day", vis_day=_.day, n=n)
        out.append(window_events(base.mutate(name=ibis.literal(measure)), base.day, DEALS_DAYS))
        prior = base.mutate(name=ibis.literal(f"prior_{measure}"))
        out.append(window_events(prior, prior.day, DEALS_PRIOR_DAYS, lag=DEALS_DAYS))
    return out[0].union(out[1]).union(out[2]).union(out[3])


def lost_events(ctx: Context) -> ir.Table:
    """Accounts that churned within `LOST_DAYS` before the cutoff after the rep had touched them
    in the `LOST_TOUCH_DAYS` before their churn (a touch logged only after the churn does not
    count)."""
    acc = ctx.accounts.filter(ctx.accounts.churned_day.notnull())
    a = ctx.touches.filter(ctx.touches.rep_id.notnull())
    churned = acc.select(acc_id=_.account_id, churn_day=_.churned_day)
    j = a.join(churned, a.account_id == churned.acc_id)
    j = j.filter((j.occ_day >= j.churn_day - LOST_TOUCH_DAYS) & (j.vis_day <= j.churn_day))
    pairs = j.select("rep_id", "acc_id", "churn_day").distinct()
    base = pairs.select("rep_id", vis_day=_.churn_day, n=ibis.literal(1).cast("int64"))
    base = base.mutate(name=ibis.literal("lost"))
    return window_events(base, base.vis_day, LOST_DAYS)


MEASURES = (
    "touches",
    "prior_touches",
    "deals",
    "prior_deals",
    "wins",
    "prior_wins",
    "lost",
)


def rep_trend(ctx: Context) -> ir.Table:
    """Running window totals per (rep_id, c_day) of every measure (`MEASURES`), and the rep's
    hire day (for tenure)."""
    grid = ctx.rep_grid
    parts = [touch_events(ctx)]
    if "opportunities" in ctx.tables:
        parts.append(deal_events(ctx))
    if "churned_at" in ctx.con.table("accounts").columns:
        parts.append(lost_events(ctx))
    events = parts[0]
    for part in parts[1:]:
        events = events.union(part)
    wide = events.select(
        "rep_id",
        "vis_day",
        **{m: ibis.ifelse(events.name == m, events.n, 0) for m in MEASURES},
    )
    wide = wide.group_by(["rep_id", "vis_day"]).aggregate(**{m: wide[m].sum() for m in MEASURES})
    grid = grid.select("rep_id", "c_day", "hired_day")
    runs = running(wide, grid, ["rep_id"], list(MEASURES), how="sum", carry=("hired_day",))
    return runs.select("rep_id", "c_day", "hired_day", *[f"run_{m}" for m in MEASURES])


def activity_trend(t) -> ir.FloatingValue:
    """Recent weekly touches over the prior window's weekly touches (null without a baseline)."""
    recent = t.run_touches.fill_null(0).cast("float64") / (RECENT_DAYS / 7.0)
    prior = t.run_prior_touches.fill_null(0).cast("float64") / (PRIOR_DAYS / 7.0)
    return ibis.ifelse(prior > 0, recent / prior, None)


def win_rate_change(t) -> ir.FloatingValue:
    """Win rate on deals closed in the recent window minus the prior window's (null unless both
    windows have closed deals)."""
    return ratio(t.run_wins, t.run_deals) - ratio(t.run_prior_wins, t.run_prior_deals)


def tenure_months(t) -> ir.FloatingValue:
    return (t.c_day - t.hired_day).cast("float64") / MONTH_DAYS


SOURCE = Source(name="rep_trend", entity="rep", query=rep_trend, tables=("reps", "activities"))
DEALS = ("reps", "opportunities")
FEATURES = (
    SOURCE.feature(
        name="rep_touches_per_week_90d",
        family="cadence",
        description="Calls, emails, meetings and demos the rep made per week, last 90 days",
        window_days=RECENT_DAYS,
        expr=per_week("run_touches", RECENT_DAYS),
        actionable=True,
        unit="touches a week",
    ),
    SOURCE.feature(
        name="rep_activity_trend",
        family="cadence",
        description="The rep's weekly touches in the last 90 days against their own weekly "
        "touches in the 180 days before (1 = steady, below 1 = a slump)",
        window_days=RECENT_DAYS + PRIOR_DAYS,
        expr=activity_trend,
        actionable=True,
        unit="times their usual",
    ),
    SOURCE.feature(
        name="rep_deals_closed_180d",
        family="pipeline",
        description="Deals the rep closed (won or lost), last 180 days",
        window_days=DEALS_DAYS,
        expr=count_of("run_deals"),
        unit="deals",
        tables=DEALS,
    ),
    SOURCE.feature(
        name="rep_win_rate_180d",
        family="pipeline",
        description="The rep's win rate on deals closed in the last 180 days",
        window_days=DEALS_DAYS,
        expr=ratio_of("run_wins", "run_deals"),
        unit="share",
        tables=DEALS,
    ),
    SOURCE.feature(
        name="rep_win_rate_change",
        family="pipeline",
        description="The rep's win rate in the last 180 days minus their win rate in the 360 "
        "days before",
        window_days=DEALS_DAYS + DEALS_PRIOR_DAYS,
        expr=win_rate_change,
        unit="percentage points",
        tables=DEALS,
    ),
    SOURCE.feature(
        name="rep_accounts_lost_180d",
        family="account_context",
        description="Accounts that churned in the last 180 days after the rep had worked them",
        window_days=LOST_DAYS,
        expr=count_of("run_lost"),
        unit="accounts",
        tables=("reps", "activities", "accounts"),
    ),
    SOURCE.feature(
        name="rep_tenure_months",
        family="rep_context",
        description="Months since the rep was hired",
        window_days=None,
        expr=tenure_months,
        unit="months",
    ),
)
