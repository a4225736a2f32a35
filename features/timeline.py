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


WARMUP_DAYS = 90  # the first cutoff sees a full 90-day window of activity
SHORT_WARMUP_DAYS = 60  # short histories: the first cutoffs' 90-day windows are two-thirds full
FREQUENCIES = {"MS": "monthly", "SMS": "semi-monthly", "W-MON": "weekly"}  # coarsest first
MIN_LABELLED_CUTOFFS = 12


def history_cutoffs(
    first: pd.Timestamp, last: pd.Timestamp, freq: str, warmup_days: int = WARMUP_DAYS
) -> list[pd.Timestamp]:
    """Cutoffs at `freq` from `warmup_days` after the first activity's day to the last one."""
    start = pd.Timestamp(first).normalize() + pd.Timedelta(days=warmup_days - 1)
    return monthly_cutoffs(start, last, freq)


def labelled_cutoffs(cutoffs: list[pd.Timestamp], horizon_days: int, end: pd.Timestamp) -> int:
    """How many cutoffs have a churn horizon that ends by `end` (their labels are known)."""
    horizon = pd.Timedelta(days=horizon_days)
    return sum(1 for c in cutoffs if c + horizon <= pd.Timestamp(end))


def choose_frequency(
    first: pd.Timestamp, last: pd.Timestamp, horizon_days: int, freq: str = "auto"
) -> tuple[str, list[pd.Timestamp], str]:
    """The cutoff frequency, its cutoffs, and why, in words.

    Monthly, from `WARMUP_DAYS` after the first activity, when that gives at least
    `MIN_LABELLED_CUTOFFS` cutoffs whose label is known (a backtest needs a test window, a
    calibration window and the label horizon between them, plus something to train on; at
    monthly cutoffs and a 90-day horizon, a year of labelled cutoffs gives one fold). A shorter
    history starts after `SHORT_WARMUP_DAYS` and takes the coarsest of semi-monthly and weekly
    that reaches `MIN_LABELLED_CUTOFFS` (else weekly): more cutoffs, so each window holds several.
    A given `freq` is used as is (with the 90-day warm-up).
    """
    span = (pd.Timestamp(last) - pd.Timestamp(first)).days / 30.44
    if freq != "auto":
        cutoffs = history_cutoffs(first, last, freq)
        known = labelled_cutoffs(cutoffs, horizon_days, last)
        name = FREQUENCIES.get(freq, freq)
        return freq, cutoffs, f"{name} cutoffs as configured ({known} labelled)"
    seen = []
    for option in FREQUENCIES:
        warmup = WARMUP_DAYS if option == "MS" else SHORT_WARMUP_DAYS
        cutoffs = history_cutoffs(first, last, option, warmup)
        known = labelled_cutoffs(cutoffs, horizon_days, last)
        seen.append(f"{known} labelled {FREQUENCIES[option]}")
        if known >= MIN_LABELLED_CUTOFFS or option == "W-MON":
            why = (
                f"{span:.0f} months of activity, {horizon_days}-day horizon: "
                + ", ".join(seen)
                + f" cutoffs; monthly needs {MIN_LABELLED_CUTOFFS} labelled"
                + ("" if option == "MS" else f", finer ones start {warmup} days in")
            )
            return option, cutoffs, why
    raise AssertionError("unreachable: weekly is always chosen last")


def days_before_cutoff(c_day: ir.IntegerValue, moment_us: ir.IntegerValue) -> ir.FloatingValue:
    """Days (with fractions) from a moment in epoch microseconds to the cutoff, midnight UTC of
    epoch day `c_day` (Ibis values)."""
    return (c_day * US_PER_DAY - moment_us).cast("float64") / float(US_PER_DAY)
