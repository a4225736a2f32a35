"""Where features read from: contract frames or a warehouse, opened as an Ibis backend.

Both engines see the same typed tables. Spark is fed from Parquet (never from pandas objects), so
nullable integers and booleans keep their nulls (Ibis pitfall: `Int64` becomes NaN on Spark).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from data.contract import TABLES

if TYPE_CHECKING:
    from barometer.settings import Settings

Engine = Literal["duckdb", "spark"]
PANDAS_DTYPES = {
    "string": "string",
    "enum": "string",
    "timestamp": "datetime64[us]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}


class MissingTableError(ValueError):
    """A mandatory contract table is absent."""


def normalise_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Contract columns in contract order and dtypes; absent optional columns become nulls."""
    table = TABLES[name]
    out = {}
    for column in table.columns:
        dtype = PANDAS_DTYPES[column.kind]
        if column.name in frame.columns:
            values = frame[column.name]
            if column.kind == "timestamp":
                values = _naive_utc(values, name, column.name)
            out[column.name] = values.astype(dtype)
        elif column.required:
            raise ValueError(f"table {name!r}: required column {column.name!r} is missing")
        else:
            out[column.name] = pd.Series([None] * len(frame), index=frame.index).astype(dtype)
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def _naive_utc(values: pd.Series, table: str, column: str) -> pd.Series:
    """Timestamps as naive UTC; an unparseable value names its table, row and column."""
    try:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"table {table!r}, column {column!r}: {exc}") from exc
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None)


def normalise_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every known contract table present in `tables`, normalised; mandatory ones must exist."""
    missing = [n for n in ("accounts", "activities") if n not in tables]
    if missing:
        raise MissingTableError(f"mandatory contract tables missing: {', '.join(missing)}")
    return {n: normalise_frame(n, f) for n, f in tables.items() if n in TABLES}


# What every Barometer session needs, whatever the cluster: times are compared as naive UTC, and
# Arrow moves pandas batches to and from Python workers (the scoring UDF, reasons).
SPARK_REQUIRED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Parquet's standard timestamp encoding (Spark's default INT96 is deprecated in Parquet).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def spark_session(settings: Settings | None = None) -> Any:
    """The Spark session for `--engine spark` (reused if one is running).

    The master is `settings.spark_master` when set; otherwise Spark's own resolution applies, as
    for any PySpark program: `spark-submit --master`, `PYSPARK_SUBMIT_ARGS`, `spark-defaults.conf`,
    then `local[*]`. `settings.spark_conf` adds any configuration (memory, executors, shuffle
    partitions, a metastore); nothing else is set here but `SPARK_REQUIRED`.
    """
    from pyspark.sql import SparkSession

    from barometer.settings import Settings

    settings = settings or Settings()
    # Python workers run this interpreter (the venv's) unless the cluster says otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("barometer")
    if settings.spark_master:
        builder = builder.master(settings.spark_master)
    for key, value in (settings.spark_conf | SPARK_REQUIRED).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def spark_frame(con: BaseBackend, expr: ir.Table) -> Any:
    """The Spark DataFrame of an Ibis expression on a PySpark backend (nothing is collected).

    In-memory tables the expression uses (cutoffs, day maps) are registered with Spark first."""
    con._run_pre_execute_hooks(expr)
    return con._session.sql(con.compile(expr))


def open_frames(
    tables: dict[str, pd.DataFrame],
    engine: Engine = "duckdb",
    workdir: Path | None = None,
    settings: Settings | None = None,
) -> BaseBackend:
    """An Ibis backend holding the normalised contract frames as tables (Spark: the session of
    `settings`)."""
    frames = normalise_tables(tables)
    if engine == "duckdb":
        con = tune_duckdb(ibis.duckdb.connect())
        for name, frame in frames.items():
            con.create_table(name, frame, overwrite=True)
        return con
    folder = Path(workdir or tempfile.mkdtemp(prefix="barometer-spark-"))
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return open_parquet(folder, list(frames), settings)


def open_parquet(folder: Path, names: list[str], settings: Settings | None = None) -> BaseBackend:
    """A PySpark Ibis backend reading `<folder>/<name>.parquet` for each name."""
    con = ibis.pyspark.connect(spark_session(settings))
    for name in names:
        con.read_parquet(str(folder / f"{name}.parquet"), table_name=name)
    return con


def tune_duckdb(con: BaseBackend, threads: int = 2, memory_limit: str = "3GB") -> BaseBackend:
    """Bound a DuckDB backend: `threads` workers and a memory limit past which DuckDB spills
    to disk (by default it may take 80% of RAM). Insertion order is not kept: every output is
    sorted explicitly. Other engines are returned unchanged."""
    if con.name == "duckdb":
        con.raw_sql(f"set threads = {int(threads)}")
        con.raw_sql(f"set memory_limit = '{memory_limit}'")
        con.raw_sql("set preserve_insertion_order = false")
    return con


def fetch(expr: ir.Table) -> pd.DataFrame:
    """Run `expr` and return it as a DataFrame, converted by pyarrow from the Arrow result: Ibis's
    `to_pandas` converts column by column in Python (0.7-1.0 s for 944k rows, against 0.1 s).
    Callers set their dtypes."""
    return expr.to_pyarrow().to_pandas()


def available(con: BaseBackend) -> set[str]:
    """Contract tables present in the backend.

    Ibis 12's DuckDB `list_tables` calls a method DuckDB 2 removed, so DuckDB is asked directly.
    """
    if con.name == "duckdb":
        rows = con.raw_sql(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
        names = {r[0] for r in rows}
    else:
        names = set(con.list_tables())
    return {name for name in names if name in TABLES}
