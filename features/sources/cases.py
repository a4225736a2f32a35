"""Support cases: opened in the last 90 days, closed in the last 180 (their outcome fields known
from the close), and open at each cutoff.
"""

from __future__ import annotations

import ibis.expr.types as ir
from ibis import _

from features import prep
from features.core import WINDOW, Context, left_join, one_if, whole
from features.declare import Source, count_of, days_since, mean_of, ratio_of
from features.timeline import US_PER_HOUR

CASE_WINDOW = 180


def cases(ctx: Context) -> ir.Table:
    """Cases opened (90 days), closed (180 days; outcome fields known from close), open now."""
    cs, c = prep.cases(ctx.con), ctx.cut
    grid = ctx.account_grid
    m90, m180 = ctx.window_map(WINDOW), ctx.window_map(CASE_WINDOW)
    opened = cs.join(m90, cs.opened_day == m90.occ_day)
    opened = opened.group_by(["account_id", "c_day"]).aggregate(
        opened=_.case_id.count(), urgent=one_if(_.urgent).sum()
    )
    closed = cs.join(m180, cs.closed_day == m180.occ_day)
    closed = closed.group_by(["account_id", "c_day"]).aggregate(
        closed=_.case_id.count(),
        fcr_known=one_if(_.first_contact_resolved.notnull()).sum(),
        fcr=one_if(_.first_contact_resolved).sum(),
        esc_known=one_if(_.escalated.notnull()).sum(),
        esc=one_if(_.escalated).sum(),
        csat_n=one_if(_.csat.notnull()).sum(),
        csat_milli=whole(_.csat, 1000).fill_null(0).sum(),
        res_us_sum=_.resolution_us.sum(),
    )
    still_open = cs.opened_day < c.c_day
    still_open &= cs.closed_day.isnull() | (cs.closed_day >= c.c_day)
    open_now = (
        cs.join(c, still_open)
        .group_by(["account_id", "c_day"])
        .aggregate(open=_.case_id.count(), oldest_open_day=_.opened_day.min())
    )
    out = grid
    for part in (opened, closed, open_now):
        out = left_join(out, part, ["account_id", "c_day"])
    return out


SOURCE = Source(name="cases", entity="account", query=cases, tables=("cases",))

FEATURES = (
    SOURCE.feature(
        name="cases_opened_90d",
        family="service_quality",
        description="Support cases opened, last 90 days",
        window_days=90,
        expr=count_of("opened"),
        unit="cases",
    ),
    SOURCE.feature(
        name="urgent_cases_opened_90d",
        family="service_quality",
        description="High-priority or urgent support cases opened, last 90 days",
        window_days=90,
        expr=count_of("urgent"),
        unit="cases",
    ),
    SOURCE.feature(
        name="open_cases",
        family="service_quality",
        description="Support cases still open at the cutoff",
        window_days=None,
        expr=count_of("open"),
        unit="cases",
    ),
    SOURCE.feature(
        name="oldest_open_case_days",
        family="service_quality",
        description="Age in days of the oldest support case still open",
        window_days=None,
        expr=days_since("oldest_open_day"),
        unit="days",
    ),
    SOURCE.feature(
        name="first_contact_resolution_rate_180d",
        family="service_quality",
        description="Share of cases resolved at first contact, cases closed in the last 180 days",
        window_days=180,
        expr=ratio_of("fcr", "fcr_known"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="avg_hours_to_resolve_180d",
        family="service_quality",
        description="Average hours from opening to closing a case, cases closed in the last 180 "
        "days",
        window_days=180,
        expr=lambda t: mean_of("res_us_sum", "closed")(t) / US_PER_HOUR,
        actionable=True,
        unit="hours",
    ),
    SOURCE.feature(
        name="escalation_rate_180d",
        family="service_quality",
        description="Share of cases escalated, cases closed in the last 180 days",
        window_days=180,
        expr=ratio_of("esc", "esc_known"),
        actionable=True,
        unit="share",
    ),
    SOURCE.feature(
        name="unresolved_cases_180d",
        family="service_quality",
        description="Cases not resolved at first contact, cases closed in the last 180 days",
        window_days=180,
        expr=lambda t: t.fcr_known.fill_null(0) - t.fcr.fill_null(0),
        unit="cases",
    ),
    SOURCE.feature(
        name="escalated_cases_180d",
        family="service_quality",
        description="Escalated cases, cases closed in the last 180 days",
        window_days=180,
        expr=count_of("esc"),
        unit="cases",
    ),
    SOURCE.feature(
        name="avg_case_csat_180d",
        family="service_quality",
        description="Average customer satisfaction (1-5) on cases closed in the last 180 days",
        window_days=180,
        expr=lambda t: mean_of("csat_milli", "csat_n")(t) / 1000,
        unit="points",
    ),
)
