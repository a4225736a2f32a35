"""The rich summary printed after an ingest."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from features.ingest.run import IngestReport


def wide_console() -> Console:
    """A console at least 110 columns wide, so the summary stays readable in logs and pipes."""
    return Console(width=max(Console().width, 110))


def summary_table(report: IngestReport, threshold: float) -> Table:
    """One row per loaded file: rows read, loaded, updated, unchanged, rejected and the share."""
    out = Table(title="Ingest summary")
    for name in (
        "table",
        "file",
        "read",
        "loaded",
        "updated",
        "unchanged",
        "rejected",
        "rejected %",
    ):
        out.add_column(name, justify="left" if name in ("table", "file") else "right")
    for r in report.results:
        share = f"{100 * r.rejected_share:.2f}"
        flag = f"[red]{share}[/red]" if r.rejected_share > threshold else share
        out.add_row(
            r.table,
            Path(r.file).name,
            f"{r.rows_read:,}",
            f"{r.loaded:,}",
            f"{r.updated:,}",
            f"{r.unchanged:,}",
            f"{r.rejected:,}",
            flag,
        )
    return out


def print_report(report: IngestReport, threshold: float, console: Console | None = None) -> None:
    """Print the summary, ignored columns, skipped tables and threshold breaches."""
    console = console or wide_console()
    console.print(summary_table(report, threshold))
    for r in report.results:
        if r.ignored:
            console.print(f"{Path(r.file).name}: ignored unknown column(s): {', '.join(r.ignored)}")
        for note in r.notes:
            console.print(f"{Path(r.file).name}: {note}")
    for note in report.notes:
        console.print(note)
    if report.skipped:
        console.print(f"Skipped optional table(s) with no input file: {', '.join(report.skipped)}")
    if any(r.rejected for r in report.results):
        console.print(
            "Rejected rows are in the warehouse table `rejects` (row 1 = first data row)."
        )
    for r in report.over_threshold(threshold):
        console.print(
            f"[red]{Path(r.file).name}: {100 * r.rejected_share:.2f}% of rows rejected, above the "
            f"threshold of {100 * threshold:.2f}% (BAROMETER_REJECT_THRESHOLD)[/red]"
        )
