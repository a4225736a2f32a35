"""Load one `Source` into its warehouse table: validate, quarantine, upsert, log, atomically.

Row numbers are 1-based data rows: the first row after the header is row 1 (a quoted value that
spans lines is still one row). Checks run in this order and a row is rejected for the first that
fails: a malformed row, field checks in contract column order, effects before causes, then a key
already seen earlier in the same file (the first occurrence loads), then references (orphans) in
contract column order. Rows that load may still raise warnings, which are counted per file.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb

from data.contract import TABLES, Table
from features.ingest.files import Inputs, safe_error
from features.ingest.sources import IngestError, Source, file_sha256, ident, sql_str
from features.ingest.validate import (
    CLOSED_STAGES,
    MALFORMED_FIELD,
    Check,
    Rules,
    table_checks,
    table_warnings,
    typed_select,
)
from features.warehouse import table_exists

STAGE = "_ingest_stage"
PAUSE_ENV = "BAROMETER_INGEST_PAUSE_IN_TXN"  # test hook: seconds to sleep before each commit

REJECTS_DDL = (
    "create table if not exists rejects (file VARCHAR, table_name VARCHAR, row_number BIGINT, "
    "field VARCHAR, value VARCHAR, reason VARCHAR, ingested_at TIMESTAMP)"
)
LOG_DDL = (
    "create table if not exists ingest_log (file VARCHAR, table_name VARCHAR, rows_read BIGINT, "
    "loaded BIGINT, updated BIGINT, unchanged BIGINT, rejected BIGINT, sha256 VARCHAR, "
    "ingested_at TIMESTAMP)"
)
WARNINGS_DDL = (
    "create table if not exists ingest_warnings (file VARCHAR, table_name VARCHAR, "
    "field VARCHAR, reason VARCHAR, rows BIGINT, first_row BIGINT, ingested_at TIMESTAMP)"
)
TOP_REASONS = 3


@dataclass(frozen=True)
class Tally:
    """How many rows of a file share one (field, reason), and the first of them."""

    field: str
    reason: str
    rows: int
    first_row: int


@dataclass(frozen=True)
class LoadResult:
    """What happened to one source's rows; loaded + updated + unchanged + rejected = rows_read."""

    table: str
    file: str
    rows_read: int
    loaded: int
    updated: int
    unchanged: int
    rejected: int
    seconds: float
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    top_rejects: tuple[Tally, ...] = ()
    warnings: tuple[Tally, ...] = ()
    origins: tuple[tuple[str, str], ...] = ()  # mapped contract column -> the file's column(s)

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.rows_read if self.rows_read else 0.0


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _key_match(table: Table, left: str, right: str) -> str:
    return " and ".join(f"{left}.{ident(k)} = {right}.{ident(k)}" for k in table.key)


def stage_typed(
    con: duckdb.DuckDBPyConnection, table: Table, source: Source, rules: Rules
) -> list[Check]:
    """Materialise the typed rows in the stage table (row id order = file order), field rejects
    into `_rej`; returns the warnings whose bits `_warn` carries.

    The stage is a warehouse table written outside the load transaction, so that a first load can
    become the target by a rename instead of a second copy; the next ingest replaces a stray one.
    """
    checks = table_checks(table, source.columns, rules)
    warns = table_warnings(table, source.columns)
    con.execute(f"create or replace table {STAGE} as {typed_select(table, source, checks, warns)}")
    row = "_row" if source.has_row else "(rowid + 1)"
    con.execute(
        f"create or replace temp view _rows as select {row} as _row, * exclude "
        f"({'_row, ' if source.has_row else ''}_bad, _bad_value, _warn), _bad, _bad_value, _warn "
        f"from {STAGE}"
    )
    con.execute(
        "create or replace temp table _rej "
        "(_row BIGINT, field VARCHAR, value VARCHAR, reason VARCHAR)"
    )
    lookup = ", ".join(
        f"({i}, {sql_str(c.field)}, {sql_str(c.reason)})" for i, c in enumerate(checks)
    )
    malformed = f"c.field = {sql_str(MALFORMED_FIELD)}"
    con.execute(
        "insert into _rej select r._row, c.field, "
        f"case when {malformed} then split_part(r._bad_value, '|', 2) else r._bad_value end, "
        f"case when {malformed} then split_part(r._bad_value, '|', 1) else c.reason end "
        f"from _rows r join (values {lookup}) c(code, field, reason) on r._bad = c.code"
    )
    return warns


def reject_duplicates(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """A key seen earlier in the same file: later rows are rejected, naming the first row."""
    keys = ", ".join(ident(k) for k in table.key)
    con.execute(
        f"create or replace temp table _dups as select {keys}, min(_row) as _first from _rows "
        f"where _bad is null group by {keys} having count(*) > 1"
    )
    field = ",".join(table.key)
    value = " || '|' || ".join(f"cast(r.{ident(k)} as varchar)" for k in table.key)
    con.execute(
        f"insert into _rej select r._row, {sql_str(field)}, {value}, "
        "'duplicated id in file (first at row ' || d._first || ')' "
        f"from _rows r join _dups d on {_key_match(table, 'r', 'd')} "
        "where r._bad is null and r._row > d._first"
    )


def reject_orphans(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """References to a table that exists in the warehouse but lacks the value are orphans.

    A reference to a table never loaded (e.g. `rep_id` with no `reps`) is not checked.
    """
    for column in table.columns:
        if not column.references:
            continue
        ref_table, ref_col = column.references.split(".")
        if not table_exists(con, ref_table):
            continue
        name = ident(column.name)
        reason = sql_str(f"orphan: no {column.references} with this value")
        con.execute(
            f"insert into _rej select r._row, {sql_str(column.name)}, r.{name}, {reason} "
            f"from _rows r where r._bad is null and r.{name} is not null "
            f"and not exists (select 1 from {ident(ref_table)} p "
            f"where p.{ident(ref_col)} = r.{name}) "
            "and not exists (select 1 from _rej j where j._row = r._row)"
        )


def _good_rows() -> str:
    return (
        "(select * from _rows g where g._bad is null and not exists "
        "(select 1 from _rej j where j._row = g._row))"
    )


def first_load(con: duckdb.DuckDBPyConnection, table: Table, has_row: bool) -> int:
    """Turn the stage into the (absent or empty) target: drop rejects and helper columns, rename."""
    row = "_row" if has_row else "rowid + 1"
    con.execute("drop view if exists _rows")
    con.execute(f"delete from {STAGE} where {row} in (select _row from _rej)")
    for helper in (["_row"] if has_row else []) + ["_bad", "_bad_value", "_warn"]:
        con.execute(f"alter table {STAGE} drop column {helper}")
    con.execute(f"drop table if exists {ident(table.name)}")
    con.execute(f"alter table {STAGE} rename to {ident(table.name)}")
    return _scalar(con, f"select count(*) from {ident(table.name)}")


def merge(con: duckdb.DuckDBPyConnection, table: Table) -> tuple[int, int, int]:
    """Insert new keys, replace changed rows, keep identical ones: (loaded, updated, unchanged)."""
    target = ident(table.name)
    same = " and ".join(f"g.{ident(c)} is not distinct from t.{ident(c)}" for c in table.names)
    con.execute(
        f"create or replace temp table _status as select g.*, case when t.{ident(table.key[0])} "
        f"is null then 'new' when {same} then 'same' else 'changed' end as _status "
        f"from {_good_rows()} g left join {target} t on {_key_match(table, 'g', 't')}"
    )
    counts = dict(con.execute("select _status, count(*) from _status group by 1").fetchall())
    con.execute(
        f"delete from {target} t using _status s "
        f"where s._status = 'changed' and {_key_match(table, 's', 't')}"
    )
    cols = ", ".join(ident(c) for c in table.names)
    con.execute(f"insert into {target} select {cols} from _status where _status <> 'same'")
    return counts.get("new", 0), counts.get("changed", 0), counts.get("same", 0)


def upsert(con: duckdb.DuckDBPyConnection, table: Table, has_row: bool) -> tuple[int, int, int]:
    """Load the good staged rows into the target table: (loaded, updated, unchanged)."""
    target = ident(table.name)
    if (
        not table_exists(con, table.name)
        or _scalar(con, f"select count(*) from (select 1 from {target} limit 1)") == 0
    ):
        return first_load(con, table, has_row), 0, 0
    return merge(con, table)


def record(con: duckdb.DuckDBPyConnection, source: Source, result: LoadResult, sha: str) -> None:
    """Replace this file's rejects and warnings for this table; append a line to `ingest_log`."""
    con.execute(REJECTS_DDL)
    con.execute(LOG_DDL)
    con.execute(WARNINGS_DDL)
    file, table = sql_str(source.name), sql_str(source.table)
    now = "(now() at time zone 'UTC')"
    con.execute(f"delete from rejects where file = {file} and table_name = {table}")
    con.execute(
        f"insert into rejects select {file}, {table}, _row, field, value, reason, {now} "
        "from _rej order by _row"
    )
    con.execute(f"delete from ingest_warnings where file = {file} and table_name = {table}")
    for w in result.warnings:
        con.execute(
            f"insert into ingest_warnings values (?, ?, ?, ?, ?, ?, {now})",
            [source.name, source.table, w.field, w.reason, w.rows, w.first_row],
        )
    con.execute(
        "insert into ingest_log values (?, ?, ?, ?, ?, ?, ?, ?, now() at time zone 'UTC')",
        [
            source.name,
            source.table,
            result.rows_read,
            result.loaded,
            result.updated,
            result.unchanged,
            result.rejected,
            sha,
        ],
    )


def _pause_hook(source: Source) -> None:
    """Sleep inside the open transaction when the test hook asks to (to prove kill safety)."""
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        print(f"paused inside the transaction loading {source.name}", file=sys.stderr, flush=True)
        time.sleep(float(seconds))


def top_rejects(con: duckdb.DuckDBPyConnection, limit: int = TOP_REASONS) -> tuple[Tally, ...]:
    """The most frequent (field, reason) pairs among the rejects (duplicates grouped whatever
    their first row)."""
    rows = con.execute(
        "select field, regexp_replace(reason, ' \\(first at row \\d+\\)$', '') as why, "
        "count(*) as n, min(_row) from _rej group by all order by n desc, why limit ?",
        [limit],
    ).fetchall()
    return tuple(Tally(f, r, int(n), int(first)) for f, r, n, first in rows)


def count_warnings(
    con: duckdb.DuckDBPyConnection, table: Table, warns: list[Check], stage_order: tuple[str, ...]
) -> tuple[Tally, ...]:
    """Warnings among the rows that load: one tally per warning, plus one per unknown stage."""
    out: list[Tally] = []
    if warns and _scalar(con, f"select bit_or(_warn) from {STAGE}"):  # cheap: no join
        parts = ", ".join(
            f"count(*) filter (where _warn & {1 << i} <> 0), "
            f"min(_row) filter (where _warn & {1 << i} <> 0)"
            for i in range(len(warns))
        )
        row = con.execute(f"select {parts} from {_good_rows()}").fetchone() or ()
        for i, w in enumerate(warns):
            if row[2 * i]:
                out.append(Tally(w.field, w.reason, int(row[2 * i]), int(row[2 * i + 1])))
    if table.name == "opportunity_stages":
        known = ", ".join(sql_str(s.lower()) for s in (*stage_order, *CLOSED_STAGES))
        unknown = con.execute(
            f"select stage, count(*) as n, min(_row) from {_good_rows()} "
            f"where lower(stage) not in ({known}) group by stage order by n desc, stage"
        ).fetchall()
        for stage_name, n, first in unknown:
            out.append(
                Tally(
                    "stage",
                    f"unknown stage {stage_name!r}: not in stage_order (BAROMETER_STAGE_ORDER), "
                    "so it sorts after every known stage",
                    int(n),
                    int(first),
                )
            )
    return tuple(out)


@dataclass(frozen=True)
class Staged:
    rows_read: int
    rejected: int
    top_rejects: tuple[Tally, ...]
    warnings: tuple[Tally, ...]


def stage(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    source: Source,
    rules: Rules,
    stage_order: tuple[str, ...] = (),
) -> Staged:
    """Type the source and collect every reject and warning in temp tables.

    Runs before the load transaction (temp tables only), so row ids number the file's rows.
    """
    warns = stage_typed(con, table, source, rules)
    reject_duplicates(con, table)
    reject_orphans(con, table)
    return Staged(
        _scalar(con, f"select count(*) from {STAGE}"),
        _scalar(con, "select count(*) from _rej"),
        top_rejects(con),
        count_warnings(con, table, warns, stage_order),
    )


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temp tables a load used."""
    con.execute("drop view if exists _rows")
    for temp in (STAGE, "_rej", "_dups", "_status"):
        con.execute(f"drop table if exists {temp}")


@dataclass(frozen=True)
class LoadContext:
    """What every load of one ingest shares: the input files, the export date, the stage order."""

    inputs: Inputs | None = None
    export_date: datetime | None = None  # --export-date; else each file's modification time
    stage_order: tuple[str, ...] = ()

    def rules(self, source: Source) -> Rules:
        export = self.export_date
        if export is None and self.inputs is not None and source.inputs:
            export = self.inputs.export_date(source.inputs)
        return Rules(export_date=export, formats=source.formats)


def load_source(
    con: duckdb.DuckDBPyConnection, source: Source, context: LoadContext = LoadContext()
) -> LoadResult:
    """Validate and load one source; its warehouse changes commit together or not at all."""
    table = TABLES[source.table]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:  # hash while DuckDB reads (GIL released)
        sha_future = pool.submit(file_sha256, source.file) if source.file.is_file() else None
        result = _load(
            con, table, source, context, lambda: sha_future.result() if sha_future else ""
        )
    return replace(result, seconds=time.perf_counter() - start)


def stage_with_fallback(
    con: duckdb.DuckDBPyConnection, table: Table, source: Source, context: LoadContext
) -> Staged:
    """Stage the source; when DuckDB's strict CSV reader refuses one of its files, read those
    files with the tolerant parser and stage again."""
    rules = context.rules(source)
    try:
        return stage(con, table, source, rules, context.stage_order)
    except duckdb.Error:
        if context.inputs is None or not context.inputs.tolerate_all(source.inputs):
            raise
    return stage(con, table, source, rules, context.stage_order)


def _load(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    source: Source,
    context: LoadContext,
    sha: Callable[[], str],
) -> LoadResult:
    """Stage, then upsert + rejects + log in one transaction (`sha` waits for the file hash)."""
    start = time.perf_counter()
    try:
        staged = stage_with_fallback(con, table, source, context)
        notes = context.inputs.notes(source.inputs) if context.inputs else ()
        con.execute("begin transaction")
        try:
            loaded, updated, unchanged = upsert(con, table, source.has_row)
            result = LoadResult(
                source.table,
                source.name,
                staged.rows_read,
                loaded,
                updated,
                unchanged,
                staged.rejected,
                time.perf_counter() - start,
                source.ignored,
                notes + source.notes,
                staged.top_rejects,
                staged.warnings,
                source.origins,
            )
            record(con, source, result, sha())
            _pause_hook(source)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    except duckdb.Error as exc:
        raise IngestError(
            f"{source.name}: cannot load into {source.table}, nothing of it was loaded: "
            f"{safe_error(exc)}"
        ) from exc
    finally:
        drop_staging(con)
    return result
