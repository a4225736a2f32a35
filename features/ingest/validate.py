"""Field validation in DuckDB SQL: one pass types every column and finds each row's first bad field.

The typed select carries `_bad`, a code for the first failing check (NULL when the row is clean),
`_bad_value`, the raw text that failed, and `_warn`, a bit mask of the warnings the row raises.
`checks[code]` gives the field and the reason. No Python touches individual rows.

Order of the checks: a malformed row (the file's own structure), then field checks in contract
column order, then effects before causes (`closed_at` before `created_at`, ...).

Plausibility (see the README's "Plausibility" table): a value that cannot be true, or whose meaning
is a guess, is rejected; a value that is odd but has an honest reading is loaded and counted as a
warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from data.contract import Column, Table
from features.ingest.files import PROBLEM
from features.ingest.sources import Source, ident, sql_str

STORAGE = {
    "string": "VARCHAR",
    "enum": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
}

MALFORMED_FIELD = "(row)"
MISSING = "missing required field"
BAD_DATE = "bad date (expected ISO 8601, e.g. 2025-03-04T10:00:00Z)"
TZ_ABBREVIATION = (
    "bad date (a time-zone abbreviation such as PST is ambiguous; write an offset, e.g. -08:00)"
)
EARLIEST = "1990-01-01"
TOO_EARLY = f"implausible date (before {EARLIEST})"
WRONG_TYPE = {
    "float": "wrong type (expected a number)",
    "int": "wrong type (expected an integer)",
    "bool": "wrong type (expected true/false or 1/0)",
}

# What a text must look like before DuckDB's cast is trusted with it: DuckDB also reads `epoch`,
# `infinity`, `1_000`, `0x10`, `2024/1/2` and zone names, none of which is a plain ISO value.
ISO_DATE = r"\d{4}-\d{2}-\d{2}"
ISO_TIME = r"[T ]\d{1,2}:\d{2}(:\d{2}([.,]\d{1,9})?)?"
ISO_OFFSET = r" ?(Z|z|UTC|GMT|[+-]\d{2}(:?\d{2})?)"
ZONE_NAME = r" [A-Za-z_]+(/[A-Za-z0-9_+-]+)+"
ISO_TIMESTAMP = f"{ISO_DATE}({ISO_TIME}({ISO_OFFSET})?)?"
NAMED_ZONE = f"{ISO_DATE}{ISO_TIME}{ZONE_NAME}"
ABBREVIATED_ZONE = f"{ISO_DATE}{ISO_TIME} ?[A-Za-z]{{2,5}}"
INTEGER = r"[+-]?\d+"

# Effects that cannot come before their cause (compared by day: a close date without a time is
# midnight and still the day the record was created).
ORDER_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "accounts": (("churned_at", "created_at"),),
    "reps": (("left_at", "hired_at"),),
    "opportunities": (("closed_at", "created_at"),),
    "cases": (("closed_at", "opened_at"),),
}
LOGGED_EARLY = (
    "logged_at before occurred_at (loaded: scheduled ahead, or a clock error; the activity "
    "counts from the later of the two)"
)
YES_NO = "Y/N read as true/false"
ZONE_CONVERTED = "time-zone name converted to UTC"
# Closed stages sort after every open one without being listed in `stage_order`.
CLOSED_STAGES = ("closed won", "closed lost")


@dataclass(frozen=True)
class Check:
    field: str
    reason: str
    condition: str


@dataclass(frozen=True)
class Rules:
    """What the checks of one source depend on beyond the contract."""

    export_date: datetime | None = None  # latest plausible moment is a day after it
    formats: tuple[tuple[str, str], ...] = ()

    def latest(self) -> datetime | None:
        return self.export_date + timedelta(days=1) if self.export_date else None


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


def _matches(raw: str, pattern: str) -> str:
    return f"regexp_full_match({raw}, {sql_str(pattern)})"


def flag_columns(column: Column) -> list[str]:
    """Per timestamp column, computed once: `p_` (plain ISO 8601) and `z_` (ISO with an IANA zone
    name). The regular expressions only run where they must: most values are plain."""
    if column.kind != "timestamp":
        return []
    name = column.name
    return [
        f"{_matches(f'r_{name}', ISO_TIMESTAMP)} as p_{name}",
        f"case when p_{name} then false else {_matches(f'r_{name}', NAMED_ZONE)} end as z_{name}",
    ]


def timestamp_checks(column: Column, raw: str, typed: str, rules: Rules) -> list[Check]:
    """Bad dates (with the format the mapping gave), ambiguous zones, and implausible dates."""
    formats = dict(rules.formats)
    bad = (
        f"bad date (expected {formats[column.name]} or ISO 8601)"
        if column.name in formats
        else BAD_DATE
    )
    plain = f"(p_{column.name} or z_{column.name})"
    abbreviated = (
        f"case when {raw} is null or {plain} then false else {_matches(raw, ABBREVIATED_ZONE)} end"
    )
    checks = [
        Check(column.name, TZ_ABBREVIATION, abbreviated),
        Check(column.name, bad, f"{raw} is not null and ({typed} is null or not {plain})"),
        Check(column.name, TOO_EARLY, f"{typed} < TIMESTAMP '{EARLIEST}'"),
    ]
    latest = rules.latest()
    if latest is not None:
        when = rules.export_date.strftime("%Y-%m-%d") if rules.export_date else ""
        checks.append(
            Check(
                column.name,
                f"implausible date (after the export date {when}; see --export-date)",
                f"{typed} > TIMESTAMP '{latest:%Y-%m-%d %H:%M:%S}'",
            )
        )
    return checks


def column_checks(column: Column, raw: str, typed: str, rules: Rules = Rules()) -> list[Check]:
    """The checks for one column, in the order they are reported."""
    checks: list[Check] = []
    if column.required:
        checks.append(Check(column.name, MISSING, f"{raw} is null"))
    if column.kind == "timestamp":
        checks += timestamp_checks(column, raw, typed, rules)
    elif column.kind in WRONG_TYPE:
        bad = f"{raw} is not null and ({typed} is null"
        if column.kind == "float":  # DuckDB also reads `1_000`; nothing else that is not plain
            bad += f" or not isfinite({typed}) or contains({raw}, '_')"
        elif column.kind == "int":
            bad += f" or not {_matches(raw, INTEGER)}"
        checks.append(Check(column.name, WRONG_TYPE[column.kind], bad + ")"))
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
        checks.append(Check(column.name, column.out_of_range(), " or ".join(bounds)))
    return checks


def table_checks(table: Table, present: tuple[str, ...], rules: Rules = Rules()) -> list[Check]:
    """Every check for the columns a source provides: malformed row, fields in contract column
    order, then effects before causes."""
    checks = [Check(MALFORMED_FIELD, "malformed row", f"{PROBLEM} is not null")]
    for column in table.columns:
        if column.name in present:
            checks.extend(column_checks(column, f"r_{column.name}", f"t_{column.name}", rules))
    for effect, cause in ORDER_RULES.get(table.name, ()):
        if effect in present and cause in present:
            checks.append(
                Check(
                    effect,
                    f"{effect} before {cause}",
                    f"t_{effect} < date_trunc('day', t_{cause})",
                )
            )
    return checks


def table_warnings(table: Table, present: tuple[str, ...]) -> list[Check]:
    """Warnings: the row loads, and the summary counts it (bit `i` of `_warn` is warning `i`)."""
    warns: list[Check] = []
    for column in table.columns:
        if column.name not in present:
            continue
        raw, typed = f"r_{column.name}", f"t_{column.name}"
        if column.kind == "bool":
            warns.append(Check(column.name, YES_NO, f"{raw} in ('Y', 'N', 'y', 'n')"))
        if column.kind == "timestamp":
            warns.append(
                Check(column.name, ZONE_CONVERTED, f"z_{column.name} and {typed} is not null")
            )
    if table.name == "activities" and {"logged_at", "occurred_at"} <= set(present):
        warns.append(
            Check("logged_at", LOGGED_EARLY, "t_logged_at < date_trunc('day', t_occurred_at)")
        )
    return warns


def typed_select(
    table: Table,
    source: Source,
    checks: list[Check],
    warns: list[Check] = (),  # type: ignore[assignment]
) -> str:
    """The one-pass select: [`_row`], typed contract columns, `_bad`, `_bad_value`, `_warn`.

    Columns the source lacks come out as typed NULLs, so every contract column is present. A
    malformed row's `_bad_value` is its `_problem` (`reason|detail`).
    """
    present = source.columns
    row = ["_row"] if source.has_row else []
    cleaned = row + [PROBLEM] + [f"nullif(trim({ident(c)}), '') as r_{c}" for c in present]
    typed = row + [PROBLEM] + [f"r_{c}" for c in present]
    typed += [f"{typed_expr(table.column(c), f'r_{c}')} as t_{c}" for c in present]
    typed += [f for c in present for f in flag_columns(table.column(c))]
    code = " ".join(f"when {c.condition} then {i}" for i, c in enumerate(checks))
    value = " ".join(
        f"when _bad = {i} then {PROBLEM if c.field == MALFORMED_FIELD else f'r_{c.field}'}"
        for i, c in enumerate(checks)
    )
    outputs = row + [
        f"t_{c.name} as {ident(c.name)}"
        if c.name in present
        else f"null::{STORAGE[c.kind]} as {ident(c.name)}"
        for c in table.columns
    ]
    warn = " + ".join(
        f"(case when {w.condition} then {1 << i} else 0 end)" for i, w in enumerate(warns)
    )
    outputs += [
        "_bad",
        f"case {value} end as _bad_value" if checks else "null::varchar as _bad_value",
        f"({warn})::bigint as _warn" if warns else "0::bigint as _warn",
    ]
    bad = f"case {code} end::integer as _bad" if checks else "null::integer as _bad"
    return (
        f"select {', '.join(outputs)} from ("
        f"select *, {bad} from (select {', '.join(typed)} from ("
        f"select {', '.join(cleaned)} from ({source.select}))))"
    )
