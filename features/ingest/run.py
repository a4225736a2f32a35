"""The ingest job: pick the adapter, check mandatory tables, load each source in contract order."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

import duckdb

from barometer.settings import Settings
from data.contract import LOAD_ORDER, MANDATORY, TABLES
from features.ingest.canonical import canonical_plan
from features.ingest.files import SCRATCH_PREFIX, Inputs
from features.ingest.load import LoadContext, LoadResult, load_source
from features.ingest.sources import IngestError, Plan, Source
from features.warehouse import connect, table_exists, write_lock

Format = Literal["canonical", "salesforce", "mapping"]


@dataclass
class IngestReport:
    """Per-source results, what was skipped, and notes for the summary."""

    results: list[LoadResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def over_threshold(self, threshold: float) -> list[LoadResult]:
        """Sources whose rejected share passes the threshold."""
        return [r for r in self.results if r.rejected_share > threshold]


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings ingestion relies on: UTC for offset-less timestamps, no progress bar."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")


def make_plan(inputs: Inputs, fmt: Format, mapping: Path | None) -> Plan:
    """Ask the chosen adapter which sources the input holds."""
    if fmt == "canonical":
        return canonical_plan(inputs)
    if fmt == "salesforce":
        from features.ingest.salesforce import salesforce_plan

        return salesforce_plan(inputs, mapping)
    if fmt == "mapping":
        if mapping is None:
            raise IngestError("--format mapping needs --mapping FILE (a YAML mapping)")
        from features.ingest.mapping import mapping_plan

        return mapping_plan(inputs, mapping)
    raise IngestError(f"unknown format {fmt!r}: use canonical, salesforce or mapping")


def check_mandatory(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """accounts and activities must come with this ingest or already be in the warehouse."""
    missing = [t for t in MANDATORY if t not in plan.tables() and not table_exists(con, t)]
    if missing:
        raise IngestError(
            f"mandatory table(s) {', '.join(missing)} found neither in the input nor in the "
            "warehouse; provide a file for each"
        )


def export_moment(day: date | datetime | None) -> datetime | None:
    """`--export-date` as the last second of that day (every time on it is before the export)."""
    if day is None:
        return None
    if isinstance(day, datetime):
        day = day.date()
    return datetime.combine(day, time(23, 59, 59))


def ingest(
    path: Path,
    settings: Settings,
    fmt: Format = "canonical",
    mapping: Path | None = None,
    on_source: Callable[[int, int, Source], None] | None = None,
    *,
    encoding: str | None = None,
    export_date: date | datetime | None = None,
) -> IngestReport:
    """Validate and load every file under `path` into the workspace warehouse, file by file.

    `on_source(i, n, source)` is called before each file (for progress display). `encoding`
    overrides the detected text encoding of CSV files; `export_date` replaces each file's
    modification time as the date after which no value is plausible.
    """
    settings.ensure_home()
    with write_lock(settings.home), connect(settings.warehouse_path) as con:
        remove_stale_scratch(settings.home)
        prepare(con)
        with Inputs(
            con,
            Path(path),
            encoding=encoding,
            timeout=settings.ingest_read_timeout_s,
            scratch=settings.home,
        ) as inputs:
            plan = make_plan(inputs, fmt, mapping)
            check_mandatory(con, plan)
            report = IngestReport(notes=list(plan.notes))
            ordered = [s for t in LOAD_ORDER for s in plan.sources if s.table == t]
            report.skipped = [
                t for t in LOAD_ORDER if t not in plan.tables() and not TABLES[t].mandatory
            ]
            context = LoadContext(inputs, export_moment(export_date), tuple(settings.stage_order))
            for i, source in enumerate(ordered):
                if on_source:
                    on_source(i, len(ordered), source)
                report.results.append(load_source(con, source, context))
    return report


def remove_stale_scratch(home: Path) -> None:
    """Scratch folders a killed ingest left behind (the caller holds the workspace lock)."""
    for stale in home.glob(f"{SCRATCH_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
