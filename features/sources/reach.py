"""Reach: distinct contacts and contact roles touched in the last 90 days before each cutoff."""

from __future__ import annotations

import ibis.expr.types as ir

from features import prep
from features.core import Context, with_runs
from features.declare import Source, count_of


def windowed_touches(ctx: Context) -> ir.Table:
    """Touches with the run of cutoffs that sees them (see `day_map`): `lo`, the index of the first
    cutoff after the day the touch became visible; `hi30` / `hi90`, the index of the last cutoff
    whose 30 / 90-day window holds the day it occurred. Touches no window holds are left out."""
    t = with_runs(ctx, ctx.touches)
    return t.filter(t.lo <= t.hi90)


def reach(ctx: Context) -> ir.Table:
    """Distinct contacts and contact roles touched in the last 90 days: touches reduced to one
    row per contact and run of cutoffs that sees them (see `day_map`), expanded by `spans`."""
    t = windowed_touches(ctx)
    r = t.select("acc_key", "contact_id", "lo", "hi30", "hi90", role=prep.lower(t.contact_role))
    j = r.distinct().join(ctx.spans, ["lo", "hi30", "hi90"])
    return j.group_by(["acc_key", "c_day"]).aggregate(
        contacts=j.contact_id.nunique(), roles=j.role.nunique()
    )


SOURCE = Source(name="reach", entity="account", query=reach)

FEATURES = (
    SOURCE.feature(
        name="distinct_contacts_90d",
        family="reach",
        description="Different customer contacts engaged, last 90 days",
        window_days=90,
        expr=count_of("contacts"),
        actionable=True,
        unit="contacts",
    ),
    SOURCE.feature(
        name="distinct_contact_roles_90d",
        family="reach",
        description="Different contact roles touched (e.g. champion, decision maker), last 90 days",
        window_days=90,
        expr=count_of("roles"),
        actionable=True,
        unit="roles",
    ),
)
