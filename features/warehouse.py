"""The embedded DuckDB warehouse: opening it with clear errors, and atomic table writes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd


class WarehouseBusyError(RuntimeError):
    """Another Barometer command holds the warehouse."""


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; refuse with a clear message if another process is writing it."""
    if read_only and not Path(path).exists():
        raise FileNotFoundError(f"No warehouse at {path}: run `barometer ingest` first.")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusyError(
                f"The warehouse {path} is in use by another Barometer command; "
                "wait for it to finish and run this again."
            ) from exc
        raise
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether `name` is a table in the main schema."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema='main' and table_name=?",
        [name],
    ).fetchone()
    return bool(row and row[0])


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Replace table `name` with `frame` in one transaction: readers see old or new, never half."""
    replace_tables(con, {name: frame})


def replace_tables(
    con: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame], drop: Iterable[str] = ()
) -> None:
    """Replace several tables, and drop the tables named in `drop`, in one transaction: readers,
    and a writer killed halfway, see the old set or the new one, never a mix."""
    con.execute("begin transaction")
    try:
        for name, frame in tables.items():
            con.register("_replacement", frame)
            con.execute(f'create or replace table "{name}" as select * from _replacement')
            con.unregister("_replacement")
        for name in drop:
            con.execute(f'drop table if exists "{name}"')
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


LOCK_NAME = "warehouse.lock"


@contextmanager
def write_lock(home: Path, *, timeout: float = 0) -> Iterator[None]:
    """Hold the workspace's writer lock; one writer at a time, others get a clear "busy" error."""
    from filelock import FileLock, Timeout

    Path(home).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(home) / LOCK_NAME), timeout=timeout)
    try:
        lock.acquire()
    except Timeout as exc:
        raise WarehouseBusyError(
            f"The workspace {home} is busy: another Barometer command is writing its warehouse. "
            "Wait for it to finish and run this again."
        ) from exc
    try:
        yield
    finally:
        lock.release()
