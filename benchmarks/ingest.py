"""`make bench-ingest`: full ingest of the simulated export vs DuckDB's bare `read_csv` of it.

The export (`--accounts` accounts, `--seed`) is simulated once and cached under
`BAROMETER_HOME/bench-data/`. The baseline, measured in the same run, is
`select count(*) from read_csv(file)` over every file. The ingest runs into a fresh temporary
workspace: validation, rejects, reference checks and the load. Goal: within 3x of the bare read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from barometer.settings import Settings
from features.ingest.run import ingest


def export_dir(settings: Settings, accounts: int, seed: int) -> Path:
    """The cached simulated CSV export for (accounts, seed); simulated on first use."""
    from data.simulator import simulate_chunks, write_export

    folder = settings.home / "bench-data" / f"sim-{accounts}-{seed}"
    done = folder / ".complete"
    if not done.exists():
        Console().print(f"Simulating {accounts:,} accounts (seed {seed}) into {folder} ...")
        write_export(simulate_chunks(accounts, seed), folder, "csv")
        done.touch()
    return folder


def bare_read(folder: Path) -> tuple[int, float]:
    """Rows and seconds for DuckDB's bare `count(*)` over `read_csv` of every CSV file."""
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    rows, start = 0, time.perf_counter()
    for path in sorted(folder.glob("*.csv")):
        row = con.execute(f"select count(*) from read_csv('{path}')").fetchone()
        rows += row[0] if row else 0
    seconds = time.perf_counter() - start
    con.close()
    return rows, seconds


def plain_load(folder: Path) -> tuple[int, float]:
    """Rows and seconds for DuckDB loading every file as-is into a fresh database file
    (`create table as select * from read_csv`, no validation): the storage cost alone."""
    with tempfile.TemporaryDirectory(prefix="bench-plain-") as home:
        con = duckdb.connect(str(Path(home) / "plain.duckdb"))
        con.execute("set enable_progress_bar = false")
        rows, start = 0, time.perf_counter()
        for path in sorted(folder.glob("*.csv")):
            con.execute(f"create table {path.stem} as select * from read_csv('{path}')")
            row = con.execute(f"select count(*) from {path.stem}").fetchone()
            rows += row[0] if row else 0
        seconds = time.perf_counter() - start
        con.close()
    return rows, seconds


def full_ingest(folder: Path) -> tuple[int, int, float]:
    """Rows read, rows rejected and seconds for a full ingest into a fresh workspace."""
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as home:
        start = time.perf_counter()
        report = ingest(folder, Settings(home=Path(home)))
        seconds = time.perf_counter() - start
    read = sum(r.rows_read for r in report.results)
    return read, sum(r.rejected for r in report.results), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    folder = export_dir(Settings(), args.accounts, args.seed)
    bare_rows, bare_s = bare_read(folder)
    plain_rows, plain_s = plain_load(folder)
    rows, rejected, ingest_s = full_ingest(folder)
    out = Table(title=f"Ingest benchmark: {args.accounts:,} simulated accounts")
    for name in ("step", "rows", "seconds", "rows/s"):
        out.add_column(name, justify="left" if name == "step" else "right")
    out.add_row(
        "DuckDB bare read_csv", f"{bare_rows:,}", f"{bare_s:.2f}", f"{bare_rows / bare_s:,.0f}"
    )
    out.add_row(
        "DuckDB plain CTAS load",
        f"{plain_rows:,}",
        f"{plain_s:.2f}",
        f"{plain_rows / plain_s:,.0f}",
    )
    out.add_row("barometer ingest", f"{rows:,}", f"{ingest_s:.2f}", f"{rows / ingest_s:,.0f}")
    console = Console(width=100)
    console.print(out)
    ratio = ingest_s / bare_s
    verdict = "within" if ratio <= 3 else "NOT within"
    console.print(
        f"ratio ingest / bare read: {ratio:.2f}x ({verdict} the 3x goal); "
        f"ingest / plain load: {ingest_s / plain_s:.2f}x; rejected rows: {rejected:,}"
    )


if __name__ == "__main__":
    main()
