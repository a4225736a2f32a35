"""The rich summary printed after an ingest."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from features.ingest.load import LoadResult, Tally
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


def tally_lines(tallies: tuple[Tally, ...], origins: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """`  1,425 × account_id (account): missing required field (first at row 12)` per tally; the
    file's own column follows a mapped contract column, so the user knows where to look."""
    width = max((len(f"{t.rows:,}") for t in tallies), default=0)
    named = dict(origins)
    return [
        f"  {t.rows:>{width},} × {t.field}"
        + (f" ({named[t.field]})" if t.field in named else "")
        + f": {t.reason} (first at row {t.first_row})"
        for t in tallies
    ]


def file_label(r: LoadResult) -> str:
    """A file's name in the summary, with what a mapping called the source."""
    return f"{Path(r.file).name} -> {r.table}"


def reasons_lines(report: IngestReport) -> list[str]:
    """Per file with rejects: its top reasons, so nobody has to open the warehouse to see why."""
    lines: list[str] = []
    for r in report.results:
        if r.rejected:
            shown = sum(t.rows for t in r.top_rejects)
            rest = f"; {r.rejected - shown:,} more for other reasons" if r.rejected > shown else ""
            lines.append(f"{file_label(r)}: {r.rejected:,} rejected{rest}")
            lines += tally_lines(r.top_rejects, r.origins)
    return lines


def warning_lines(report: IngestReport) -> list[str]:
    """Per file with warnings: every warning with its count."""
    lines: list[str] = []
    for r in report.results:
        if r.warnings:
            lines.append(f"{file_label(r)}: {sum(t.rows for t in r.warnings):,} warning(s)")
            lines += tally_lines(r.warnings, r.origins)
    return lines


def print_report(report: IngestReport, threshold: float, console: Console | None = None) -> None:
    """Print the summary, notes, ignored columns, skipped tables, the top reject reasons per
    file, warnings and threshold breaches."""
    console = console or wide_console()
    say = lambda text: console.print(escape(text), highlight=False)  # noqa: E731
    console.print(summary_table(report, threshold))
    for r in report.results:
        if r.ignored:
            say(f"{Path(r.file).name}: ignored unknown column(s): {', '.join(r.ignored)}")
        for note in r.notes:
            say(f"{Path(r.file).name}: {note}")
    for note in report.notes:
        say(note)
    if report.skipped:
        say(f"Skipped optional table(s) with no input file: {', '.join(report.skipped)}")
    reasons = reasons_lines(report)
    if reasons:
        say(
            "Why rows were rejected (every row is in the warehouse table `rejects`; row 1 = first "
            "data row):"
        )
        for line in reasons:
            say(line)
    warnings = warning_lines(report)
    if warnings:
        say("Warnings: rows loaded as written, worth a look (table `ingest_warnings`):")
        for line in warnings:
            say(line)
    for r in report.over_threshold(threshold):
        console.print(
            f"[red]{escape(Path(r.file).name)}: {100 * r.rejected_share:.2f}% of rows rejected, "
            f"above the threshold of {100 * threshold:.2f}% (BAROMETER_REJECT_THRESHOLD)[/red]"
        )
