"""Recency: the last day (before each cutoff, all history) with a touch, a connected call and
product usage, carried forward from the activity buckets.
"""

from __future__ import annotations

import ibis.expr.types as ir
from ibis import _

from features.core import Context, running
from features.declare import Source, days_since
from features.sources.activity import buckets


def recency(ctx: Context) -> ir.Table:
    """Last day (before each cutoff, all history) with a touch, a connected call, usage.

    Each bucket counts from its first cutoff (`lo_day`) on; buckets are reduced to one row per
    account and first cutoff, then carried forward across cutoffs."""
    b = buckets(ctx)
    kinds = [c.removeprefix("last_") for c in b.columns if c.startswith("last_")]
    ev = b.group_by(["acc_key", "lo_day"]).aggregate(**{k: b[f"last_{k}"].max() for k in kinds})
    # Seen "the day before" its first cutoff, for `running`.
    ev = ev.select("acc_key", *kinds, vis_day=_.lo_day - 1)
    return running(ev, ctx.account_grid, ["acc_key"], kinds)


SOURCE = Source(name="recency", entity="account", query=recency)

FEATURES = (
    SOURCE.feature(
        name="days_since_last_touch",
        family="cadence",
        description="Days since the last call, email, meeting or demo",
        window_days=None,
        expr=days_since("run_touch"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="days_since_last_connected_call",
        family="cadence",
        description="Days since the last call that connected",
        window_days=None,
        expr=days_since("run_connected"),
        actionable=True,
        unit="days",
    ),
    SOURCE.feature(
        name="days_since_last_usage",
        family="cadence",
        description="Days since the last product usage or purchase",
        window_days=None,
        expr=days_since("run_usage"),
        unit="days",
    ),
)
