"""Time on both engines: microsecond and day numbers, visibility, and the cutoff grid.

Every comparison with a cutoff is done on integers. Cutoffs are midnight UTC, so "before the
cutoff" is exactly "on an earlier day": `ts < cutoff` ⇔ `day(ts) < day(cutoff)`. Times are
microsecond deltas against a UTC epoch (Spark's `epoch_seconds()` would drop fractions).
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir
import pandas as pd

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
EPOCH = ibis.timestamp("1970-01-01 00:00:00")


def micros(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Microseconds since the UTC epoch."""
    return ts.delta(EPOCH, unit="microsecond").cast("int64")


def day_number(us: ir.IntegerValue) -> ir.IntegerValue:
    """Whole days since the epoch (floor) from microseconds."""
    return (us // US_PER_DAY).cast("int64")


def as_float(value: ir.NumericValue) -> ir.FloatingValue:
    """Float64 before arithmetic: Spark would turn literals into DECIMAL."""
    return value.cast("float64")


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """num / den as float64, null when den is null or zero."""
    return ibis.ifelse(den.fill_null(0) > 0, as_float(num.fill_null(0)) / as_float(den), None)


def normalise_cutoffs(cutoffs: Iterable) -> list[pd.Timestamp]:
    """Sorted distinct midnight-UTC cutoffs; refuses times of day so "before" stays exact."""
    out = []
    for value in cutoffs:
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        if ts != ts.normalize():
            raise ValueError(f"cutoff {value!s} is not midnight UTC; cutoffs are whole days")
        out.append(ts)
    if not out:
        raise ValueError("no cutoffs given")
    return sorted(set(out))


def cutoff_day(ts: pd.Timestamp) -> int:
    """Epoch day of a midnight cutoff."""
    return int((ts - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1))


def day_to_timestamp(days: pd.Series) -> pd.Series:
    """Epoch days back to naive-UTC midnight timestamps (datetime64[us])."""
    base = pd.Timestamp("1970-01-01")
    return (base + pd.to_timedelta(days.astype("int64"), unit="D")).astype("datetime64[us]")


def monthly_cutoffs(start: pd.Timestamp, end: pd.Timestamp, freq: str = "MS") -> list[pd.Timestamp]:
    """Cutoffs at `freq` (pandas alias, monthly by default) strictly after start, up to end."""
    first = pd.Timestamp(start).normalize() + pd.Timedelta(days=1)
    dates = pd.date_range(first, pd.Timestamp(end).normalize(), freq=freq)
    return [pd.Timestamp(d).normalize() for d in dates]


def cutoff_table(cutoffs: list[pd.Timestamp]) -> ir.Table:
    """A small in-memory table of cutoff days."""
    days = [cutoff_day(c) for c in normalise_cutoffs(cutoffs)]
    return ibis.memtable(pd.DataFrame({"c_day": pd.Series(days, dtype="int64")}))
