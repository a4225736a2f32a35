"""Customer voice: the latest NPS response before each cutoff, with the previous score."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
from ibis import _

from features import prep
from features.core import Context
from features.declare import Expression, Source, days_since, value_of


def latest_response(ctx: Context) -> ir.Table:
    """The latest NPS response before each cutoff, with the previous score."""
    n, c = prep.nps(ctx.con), ctx.cut
    valid = (n.resp_day < c.c_day) & (n.next_day.isnull() | (n.next_day >= c.c_day))
    return n.join(c, valid).select(
        "account_id", "c_day", nps_score=_.score, nps_prev=_.prev_score, nps_day=_.resp_day
    )


def nps_flag(low: float, high: float) -> Expression:
    """True when the latest score is within [low, high]."""
    return lambda t: t.nps_score.between(low, high)


def change_since_previous(t: Any) -> Any:
    return (t.nps_score - t.nps_prev).cast("float64")


SOURCE = Source(name="voice", entity="account", query=latest_response, tables=("nps",))

FEATURES = (
    SOURCE.feature(
        name="latest_nps",
        family="customer_voice",
        description="Latest Net Promoter score (0-10)",
        window_days=None,
        expr=value_of("nps_score", "float64"),
        unit="points",
    ),
    SOURCE.feature(
        name="nps_change_since_previous",
        family="customer_voice",
        description="Change in Net Promoter score since the previous response",
        window_days=None,
        expr=change_since_previous,
        unit="points",
    ),
    SOURCE.feature(
        name="is_nps_detractor",
        family="customer_voice",
        description="Latest NPS response is a detractor (0-6)",
        window_days=None,
        expr=nps_flag(0, 6),
        kind="bool",
    ),
    SOURCE.feature(
        name="is_nps_promoter",
        family="customer_voice",
        description="Latest NPS response is a promoter (9-10)",
        window_days=None,
        expr=nps_flag(9, 10),
        kind="bool",
    ),
    SOURCE.feature(
        name="days_since_last_nps",
        family="customer_voice",
        description="Days since the latest NPS response",
        window_days=None,
        expr=days_since("nps_day"),
        unit="days",
    ),
)
