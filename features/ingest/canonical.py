"""Canonical adapter: files named after contract tables whose columns are contract columns."""

from __future__ import annotations

from pathlib import Path

from data.contract import TABLES
from features.ingest.files import PROBLEM, Inputs, describe_header
from features.ingest.sources import IngestError, Plan, Source, ident


def text(parquet: bool, column: str) -> str:
    """SQL for one source column as VARCHAR (Parquet columns are typed)."""
    return f"cast({ident(column)} as varchar)" if parquet else ident(column)


def canonical_source(inputs: Inputs, path: Path, table: str) -> Source:
    """A canonical-format file: its columns are contract columns (matched case-insensitively)."""
    contract = TABLES[table]
    entry = inputs.open(path)
    columns = entry.columns
    by_name = {c.strip().lower(): c for c in columns}
    missing = [c for c in contract.required if c not in by_name]
    if missing:
        raise IngestError(
            f"{path}: missing required column(s) {', '.join(missing)} for table {table} "
            f"({describe_header(columns)})"
        )
    present = tuple(c for c in contract.names if c in by_name)
    ignored = tuple(c for c in columns if c.strip().lower() not in contract.names)
    selects = [PROBLEM] + [f"{text(entry.parquet, by_name[c])} as {ident(c)}" for c in present]
    if entry.parquet:
        selects.append("file_row_number + 1 as _row")
    sql = f"select {', '.join(selects)} from {entry.view}"
    return Source(table, path, sql, present, has_row=entry.parquet, ignored=ignored, inputs=(path,))


def canonical_plan(inputs: Inputs) -> Plan:
    """Files named after contract tables (`accounts.csv`, `activities.parquet`, ...)."""
    plan = Plan()
    for path in inputs.listing():
        table = path.stem.lower()
        if table in TABLES:
            plan.sources.append(canonical_source(inputs, path, table))
        else:
            plan.notes.append(f"{path.name}: not a contract table name; ignored")
    return plan
