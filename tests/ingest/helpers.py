"""Small helpers shared by the ingestion tests: write hand-made CSVs, run an ingest, query."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from barometer.settings import Settings
from features.ingest.run import IngestReport, ingest

FIXTURES = Path(__file__).parent / "fixtures"
MAPPINGS = Path(__file__).resolve().parents[2] / "data" / "mappings"

ACCOUNTS = """account_id,created_at,segment,arr
a1,2024-01-01T00:00:00Z,smb,100
a2,2024-01-02,mid_market,200
"""
ACTIVITIES = """activity_id,account_id,occurred_at,type
x1,a1,2024-02-01T10:00:00Z,call
x2,a2,2024-02-02T10:00:00Z,email
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    """Write `{name: text}` files into `folder` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def run(
    settings: Settings,
    folder: Path,
    fmt: str = "canonical",
    mapping: Path | None = None,
    **options: Any,
) -> IngestReport:
    """Ingest `folder`; `options` are `ingest`'s keywords (encoding, export_date)."""
    return ingest(folder, settings, fmt, mapping, **options)  # type: ignore[arg-type]


def rows(settings: Settings, sql: str) -> list[tuple]:
    """Query the workspace warehouse read-only."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def by_table(report: IngestReport) -> dict[str, tuple[int, int, int, int, int]]:
    """`{table: (read, loaded, updated, unchanged, rejected)}` summed over a report's files."""
    out: dict[str, tuple[int, int, int, int, int]] = {}
    for r in report.results:
        old = out.get(r.table, (0, 0, 0, 0, 0))
        new = (r.rows_read, r.loaded, r.updated, r.unchanged, r.rejected)
        out[r.table] = tuple(a + b for a, b in zip(old, new, strict=True))  # type: ignore[assignment]
    return out


def assert_accounting(report: IngestReport) -> None:
    """No row silently lost: loaded + updated + unchanged + rejected = rows read, per file."""
    for r in report.results:
        assert r.loaded + r.updated + r.unchanged + r.rejected == r.rows_read, r
