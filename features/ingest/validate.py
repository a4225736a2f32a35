"""Field validation in DuckDB SQL: one pass types every column and finds each row's first bad field.

The typed select carries `_bad`, a code for the first failing check in contract column order
(NULL when the row is clean), and `_bad_value`, the raw text that failed. `CHECKS[code]` gives the
field and the reason. No Python touches individual rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.contract import Column, Table
from features.ingest.sources import Source, ident, sql_str

STORAGE = {
    "string": "VARCHAR",
    "enum": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
}

MISSING = "missing required field"
BAD_DATE = "bad date (expected ISO 8601, e.g. 2025-03-04T10:00:00Z)"
# Dates a CRM cannot hold (year 0001 placeholders, 9999 "never" markers) break every time window.
PLAUSIBLE = ("1900-01-01", "2200-01-01")
IMPLAUSIBLE_DATE = f"implausible date (outside {PLAUSIBLE[0]}..{PLAUSIBLE[1]})"
WRONG_TYPE = {
    "float": "wrong type (expected a number)",
    "int": "wrong type (expected an integer)",
    "bool": "wrong type (expected true/false or 1/0)",
}


@dataclass(frozen=True)
class Check:
    field: str
    reason: str
    condition: str


def typed_expr(column: Column, raw: str) -> str:
    """SQL turning the cleaned text `raw` into the column's storage type (NULL when it fails)."""
    kind = column.kind
    if kind == "string":
        return raw
    if kind == "enum":
        return f"lower({raw})"
    if kind == "timestamp":
        return f"(try_cast({raw} as TIMESTAMPTZ) at time zone 'UTC')"
    return f"try_cast({raw} as {STORAGE[kind]})"


def _bounds(column: Column) -> str:
    low = "" if column.min is None else f"{column.min:g}"
    high = "" if column.max is None else f"{column.max:g}"
    return f"out of range [{low}..{high}]"


def column_checks(column: Column, raw: str, typed: str) -> list[Check]:
    """The checks for one column, in the order they are reported."""
    checks: list[Check] = []
    if column.required:
        checks.append(Check(column.name, MISSING, f"{raw} is null"))
    if column.kind == "timestamp":
        checks.append(Check(column.name, BAD_DATE, f"{raw} is not null and {typed} is null"))
        low, high = PLAUSIBLE
        outside = f"{typed} < TIMESTAMP '{low}' or {typed} >= TIMESTAMP '{high}'"
        checks.append(Check(column.name, IMPLAUSIBLE_DATE, outside))
    elif column.kind in WRONG_TYPE:
        bad = f"{raw} is not null and {typed} is null"
        if column.kind == "float":
            bad += f" or not isfinite({typed})"
        checks.append(Check(column.name, WRONG_TYPE[column.kind], bad))
    elif column.kind == "enum":
        allowed = ", ".join(sql_str(v) for v in column.values)
        reason = f"unknown enum value (allowed: {' / '.join(column.values)})"
        checks.append(Check(column.name, reason, f"{typed} not in ({allowed})"))
    bounds = []
    if column.min is not None:
        bounds.append(f"{typed} < {column.min!r}")
    if column.max is not None:
        bounds.append(f"{typed} > {column.max!r}")
    if bounds:
        checks.append(Check(column.name, _bounds(column), " or ".join(bounds)))
    return checks


def table_checks(table: Table, present: tuple[str, ...]) -> list[Check]:
    """Every check for the columns a source provides, in contract column order."""
    checks: list[Check] = []
    for column in table.columns:
        if column.name in present:
            checks.extend(column_checks(column, f"r_{column.name}", f"t_{column.name}"))
    return checks


def typed_select(table: Table, source: Source, checks: list[Check]) -> str:
    """The one-pass select: [`_row`], typed contract columns, `_bad` and `_bad_value`.

    Columns the source lacks come out as typed NULLs, so every contract column is present.
    """
    present = source.columns
    row = ["_row"] if source.has_row else []
    cleaned = row + [f"nullif(trim({ident(c)}), '') as r_{c}" for c in present]
    typed = row + [f"r_{c}" for c in present]
    typed += [f"{typed_expr(table.column(c), f'r_{c}')} as t_{c}" for c in present]
    code = " ".join(f"when {c.condition} then {i}" for i, c in enumerate(checks))
    value = " ".join(f"when _bad = {i} then r_{c.field}" for i, c in enumerate(checks))
    outputs = row + [
        f"t_{c.name} as {ident(c.name)}"
        if c.name in present
        else f"null::{STORAGE[c.kind]} as {ident(c.name)}"
        for c in table.columns
    ]
    outputs += [
        "_bad",
        f"case {value} end as _bad_value" if checks else "null::varchar as _bad_value",
    ]
    bad = f"case {code} end::integer as _bad" if checks else "null::integer as _bad"
    return (
        f"select {', '.join(outputs)} from ("
        f"select *, {bad} from (select {', '.join(typed)} from ("
        f"select {', '.join(cleaned)} from ({source.select}))))"
    )
