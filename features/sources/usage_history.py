"""Usage history: the purchase-log summary BG/NBD reads (days with usage or a purchase, and the
first of them), all history before each cutoff.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import prep
from features.core import Context, running
from features.declare import Source, count_of


def usage_history(ctx: Context) -> ir.Table:
    """Days with usage or a purchase visible before each cutoff (all history), and the first of
    them (as minus its day, so a running max finds it): the purchase-log summary that BG/NBD
    reads (repeat days, age of the customer) and a frequency the windows cannot give."""
    t = ctx.activities.filter(ctx.activities.kind.isin(prep.USAGE_TYPES))
    days = t.group_by(["acc_key", "occ_day"]).aggregate(vis_day=t.vis_day.min())
    ev = days.select(
        "acc_key", "vis_day", days=ibis.literal(1).cast("int64"), first_neg=-days.occ_day
    )
    grid = ctx.account_grid
    counts = running(ev, grid, ["acc_key"], ["days"], how="sum")
    firsts = running(ev, grid, ["acc_key"], ["first_neg"], how="max")
    return counts.join(firsts, ["acc_key", "c_day"]).select(
        "acc_key", "c_day", "run_days", "run_first_neg"
    )


SOURCE = Source(name="usage_history", entity="account", query=usage_history)

FEATURES = (
    SOURCE.feature(
        name="usage_days_total",
        family="cadence",
        description="Days with product usage or a purchase, all history",
        window_days=None,
        expr=count_of("run_days"),
        unit="days",
    ),
    SOURCE.feature(
        name="days_since_first_usage",
        family="cadence",
        description="Days since the first product usage or purchase",
        window_days=None,
        expr=lambda t: (t.c_day + t.run_first_neg).cast("float64"),
        unit="days",
    ),
)
