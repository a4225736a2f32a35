"""This room's `barometer` commands: `simulate`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Literal

import typer


def _with_progress(chunks: Iterable, total: int, description: str) -> Iterator:
    """Yield the chunks while a rich progress bar advances once per chunk."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(description, total=total)
        for chunk in chunks:
            yield chunk
            progress.advance(task)


def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the export into (created if absent).")],
    accounts: Annotated[int, typer.Option(min=1, help="Number of accounts to simulate.")] = 2000,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives identical files.")
    ] = 7,
    months: Annotated[
        int, typer.Option(min=6, max=120, help="Months simulated from 2023-01-01.")
    ] = 30,
    format: Annotated[
        Literal["csv", "parquet"], typer.Option("--format", help="File format: csv or parquet.")
    ] = "csv",
) -> None:
    """Simulate a B2B company's CRM export with known behaviour effects (true_effects.json)."""
    import time

    from rich.console import Console
    from rich.table import Table

    from data.simulator import simulate_chunks, write_export
    from data.simulator.config import SimConfig

    chunk = SimConfig().chunk_accounts
    n_chunks = 1 + -(-accounts // chunk)  # the reps piece, then the account chunks
    started = time.perf_counter()
    pieces = simulate_chunks(accounts, seed, months=months, chunk_accounts=chunk)
    rows = write_export(
        _with_progress(pieces, n_chunks, f"Simulating {accounts:,} accounts"), out, fmt=format
    )
    seconds = time.perf_counter() - started
    table = Table(title=f"Wrote {out} in {seconds:.1f}s")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in rows.items():
        table.add_row(f"{name}.{format}", f"{n:,}")
    table.add_row("true_effects.json", "")
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command(name="simulate")(simulate)
