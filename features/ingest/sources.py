"""What every adapter hands to the loader: a `Source`, a SQL select of one file as contract columns.

Adapters never touch the warehouse tables. They describe, per file, a DuckDB select that yields
VARCHAR columns named after contract columns; the loader types, validates and loads them.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from data.contract import TABLES

TABULAR_SUFFIXES = (".csv", ".parquet", ".tsv")


class IngestError(ValueError):
    """A file (or the whole ingest) cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class Source:
    """One file's rows for one contract table, as a SQL select of VARCHAR contract columns.

    `has_row` says the select already yields `_row` (the 1-based data row number in the file);
    otherwise the select preserves the file's row order and the loader numbers rows itself.
    """

    table: str
    file: Path
    select: str
    columns: tuple[str, ...]
    has_row: bool = False
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        """How summaries and rejects name this source (the file, plus what was derived)."""
        return self.label or str(self.file)


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def csv_header(path: Path) -> tuple[str, ...]:
    """The header row of a CSV/TSV file (a UTF-8 BOM is dropped); duplicate names are refused."""
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            first = next(csv.reader(handle, delimiter=delim), None)
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} near byte {exc.start}); "
            "export it as UTF-8 and ingest again"
        ) from exc
    except (OSError, csv.Error) as exc:
        raise IngestError(f"{path}: cannot read the header: {exc}") from exc
    if not first:
        raise IngestError(f"{path}: the file is empty (no header row)")
    return check_unique(path, tuple(first))


def check_unique(path: Path, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse a header that names a column twice (case-insensitively): which one would count?"""
    counts = Counter(c.strip().lower() for c in columns)
    twice = sorted(name for name, n in counts.items() if n > 1)
    if twice:
        raise IngestError(f"{path}: the header names column(s) {', '.join(twice)} more than once")
    return columns


def delimiter_hint(columns: tuple[str, ...]) -> str:
    """A hint when a one-column header looks split by another delimiter."""
    if len(columns) != 1:
        return ""
    for delim, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
        if delim in columns[0]:
            return f"; the header looks separated by {name}: export with commas (or .tsv for tabs)"
    return ""


def read_sql(path: Path, *, with_row: bool = False) -> str:
    """A DuckDB table expression reading every column of a CSV or Parquet file as VARCHAR text.

    CSV files are read with a fixed dialect (comma, or tab for .tsv; `"` quotes) and the header's
    columns, so a malformed row fails with its line number instead of confusing the sniffer.
    """
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({sql_str(str(path))}, file_row_number={str(with_row).lower()})"
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    columns = ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in csv_header(path))
    return (
        f"read_csv({sql_str(str(path))}, auto_detect=false, header=true, delim={sql_str(delim)}, "
        f"quote='\"', escape='\"', columns={{{columns}}}, allow_quoted_nulls=true, "
        "strict_mode=true)"
    )


def header(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, ...]:
    """The column names of a CSV or Parquet file, as written (a UTF-8 BOM is dropped)."""
    if path.suffix.lower() != ".parquet":
        return csv_header(path)
    try:
        rows = con.execute(f"describe select * from {read_sql(path)}").fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read the file: {exc}") from exc
    return tuple(r[0] for r in rows)


def as_text(path: Path, column: str) -> str:
    """SQL for one source column as VARCHAR (Parquet columns are typed)."""
    return (
        f"cast({ident(column)} as varchar)" if path.suffix.lower() == ".parquet" else ident(column)
    )


def file_sha256(path: Path) -> str:
    """The file's SHA-256, recorded in `ingest_log`."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tabular_files(folder: Path) -> list[Path]:
    """The CSV/Parquet files in a folder (or the one file given), sorted by name."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise IngestError(f"{folder}: no such file or folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in TABULAR_SUFFIXES)


@dataclass
class Plan:
    """What an adapter found: sources per table plus notes for the summary."""

    sources: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> set[str]:
        return {s.table for s in self.sources}


def canonical_source(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Source:
    """A canonical-format file: its columns are contract columns (matched case-insensitively)."""
    contract = TABLES[table]
    columns = header(con, path)
    by_name = {c.strip().lower(): c for c in columns}
    missing = [c for c in contract.required if c not in by_name]
    if missing:
        raise IngestError(
            f"{path}: missing required column(s) {', '.join(missing)} for table {table} "
            f"(found: {', '.join(columns)}){delimiter_hint(columns)}"
        )
    present = tuple(c for c in contract.names if c in by_name)
    ignored = tuple(c for c in columns if c.strip().lower() not in contract.names)
    parquet = path.suffix.lower() == ".parquet"
    selects = [f"{as_text(path, by_name[c])} as {ident(c)}" for c in present]
    if parquet:
        selects.append("file_row_number + 1 as _row")
    sql = f"select {', '.join(selects)} from {read_sql(path, with_row=parquet)}"
    return Source(table, path, sql, present, has_row=parquet, ignored=ignored)


def canonical_plan(con: duckdb.DuckDBPyConnection, folder: Path) -> Plan:
    """Files named after contract tables (`accounts.csv`, `activities.parquet`, ...)."""
    plan = Plan()
    for path in tabular_files(folder):
        table = path.stem.lower()
        if table in TABLES:
            plan.sources.append(canonical_source(con, path, table))
        else:
            plan.notes.append(f"{path.name}: not a contract table name; ignored")
    return plan
