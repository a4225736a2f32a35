"""The deal itself: amount, type and age of each open deal at each snapshot."""

from __future__ import annotations

import ibis.expr.types as ir

from features.core import Context
from features.declare import Source, value_of
from features.timeline import days_before_cutoff


def deal_profile(ctx: Context) -> ir.Table:
    """Amount, type and age of each open deal at each snapshot."""
    g, o = ctx.opportunity_grid, ctx.opportunities
    j = g.join(o.select("opportunity_id", "amount", "type", "created_us"), "opportunity_id")
    return j.select(
        "opportunity_id",
        "c_day",
        "amount",
        "type",
        age_days=days_before_cutoff(j.c_day, j.created_us),
    )


SOURCE = Source(
    name="deal_profile", entity="opportunity", query=deal_profile, tables=("opportunities",)
)

FEATURES = (
    SOURCE.feature(
        name="deal_amount",
        family="pipeline",
        description="Deal value",
        window_days=None,
        expr=value_of("amount", "float64"),
        unit="currency",
    ),
    SOURCE.feature(
        name="deal_type",
        family="pipeline",
        description="Kind of deal (new business, upsell, renewal, ...)",
        window_days=None,
        expr=value_of("type"),
        kind="categorical",
    ),
    SOURCE.feature(
        name="deal_age_days",
        family="pipeline",
        description="Days since the deal was opened",
        window_days=None,
        expr=value_of("age_days"),
        unit="days",
    ),
)
