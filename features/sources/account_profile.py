"""The account itself: segment, industry, region, revenue and tenure at each cutoff."""

from __future__ import annotations

import ibis.expr.types as ir

from features.core import Context
from features.declare import Source, value_of
from features.timeline import days_before_cutoff


def account_profile(ctx: Context) -> ir.Table:
    """Account attributes and tenure at each cutoff."""
    a, g = ctx.accounts, ctx.account_grid
    j = g.join(a, "account_id")
    return j.select(
        "account_id",
        "c_day",
        "segment",
        "industry",
        "region",
        "arr",
        tenure_days=days_before_cutoff(j.c_day, j.created_us),
    )


SOURCE = Source(
    name="account_profile", entity="account", query=account_profile, tables=("accounts",)
)

FEATURES = (
    SOURCE.feature(
        name="segment",
        family="account_context",
        description="Commercial segment",
        window_days=None,
        expr=value_of("segment"),
        kind="categorical",
    ),
    SOURCE.feature(
        name="industry",
        family="account_context",
        description="Industry the account works in",
        window_days=None,
        expr=value_of("industry"),
        kind="categorical",
    ),
    SOURCE.feature(
        name="region",
        family="account_context",
        description="Sales region",
        window_days=None,
        expr=value_of("region"),
        kind="categorical",
    ),
    SOURCE.feature(
        name="tenure_days",
        family="account_context",
        description="Days since the account was created",
        window_days=None,
        expr=value_of("tenure_days"),
        unit="days",
    ),
    SOURCE.feature(
        name="arr",
        family="account_context",
        description="Annual recurring revenue",
        window_days=None,
        expr=value_of("arr", "float64"),
        unit="currency",
    ),
)
