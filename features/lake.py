"""The lake's edges for `--engine spark`: where tables live, reading them, replacing them whole.

Layout under `Settings.lake_output` (a folder or a URI the cluster can write, e.g. `hdfs://`, `s3a://`):

    contract/<table>/                  validated contract tables (`activities` partitioned by month)
    rejects/, ingest_log/              what validation refused, and its accounting per table
    features_account/cutoff=YYYY-MM-DD/        feature and label tables, partitioned by cutoff
    features_opportunity/, labels_churn/, labels_deal_win/
    scores/target=<t>/as_of=YYYY-MM-DD/        batch scores, one partition per scoring run

Every write goes to a hidden sibling folder first and is renamed into place (`replace`), so a
killed job leaves the previous table whole; readers skip hidden folders. Renames use the
cluster's Hadoop file system (atomic on HDFS and local disks; object stores copy instead).
"""

from __future__ import annotations

import uuid
from typing import Any

import ibis
from ibis.backends import BaseBackend

from barometer.settings import Settings
from data.contract import TABLES
from features.backends import spark_session

FEATURE_TABLES = ("features_account", "features_opportunity", "labels_churn", "labels_deal_win")


def location(settings: Settings, *parts: str) -> str:
    """A path under the lake output, e.g. `location(s, "contract", "activities")`."""
    return "/".join([settings.lake_output.rstrip("/"), *parts])


def _fs(spark: Any, path: str) -> tuple[Any, Any]:
    """The Hadoop file system holding `path`, and `path` as a Hadoop Path."""
    hpath = spark._jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark._jsc.hadoopConfiguration()), hpath


def exists(spark: Any, path: str) -> bool:
    fs, hpath = _fs(spark, path)
    return bool(fs.exists(hpath))


def replace(spark: Any, staged: str, target: str) -> None:
    """Move the folder `staged` to `target`, replacing what was there: the old folder is moved
    aside first and deleted last, so no reader ever sees a half-written table."""
    fs, old = _fs(spark, target)
    parent = old.getParent()
    if parent is not None and not fs.exists(parent):
        fs.mkdirs(parent)
    aside = spark._jvm.org.apache.hadoop.fs.Path(
        parent, f".{old.getName()}-old-{uuid.uuid4().hex[:8]}"
    )
    had_old = bool(fs.exists(old))
    if had_old and not fs.rename(old, aside):
        raise OSError(f"could not move {target} aside")
    if not fs.rename(_fs(spark, staged)[1], old):
        if had_old:
            fs.rename(aside, old)
        raise OSError(f"could not move {staged} to {target}")
    if had_old:
        fs.delete(aside, True)


def write(frame: Any, target: str, partition_by: tuple[str, ...] = ()) -> None:
    """Write a Spark DataFrame as Parquet to `target`, replacing it whole (see `replace`).

    Partitioned tables are rebalanced on their partition columns first: adaptive execution
    splits a large cutoff over several tasks and packs small ones together, so each cutoff
    gets a few well-sized files instead of one per task.
    """
    spark = frame.sparkSession
    hpath = _fs(spark, target)[1]
    staged = str(
        spark._jvm.org.apache.hadoop.fs.Path(
            hpath.getParent(), f".{hpath.getName()}-new-{uuid.uuid4().hex[:8]}"
        )
    )
    try:
        write_parquet(frame, staged, partition_by)
        replace(spark, staged, target)
    finally:
        remove(spark, staged)


def write_parquet(frame: Any, path: str, partition_by: tuple[str, ...] = ()) -> None:
    """Write `frame` as Parquet to the new folder `path`, partitioned by `partition_by`.

    A partitioned write of no rows leaves no file, so the table could not be read back (Spark
    cannot infer a schema from nothing); an empty table is then written unpartitioned, as one
    file holding its schema and no rows, which reads back as the same columns.
    """
    if partition_by:
        frame = frame.hint("rebalance", *partition_by)
    frame.write.mode("errorifexists").partitionBy(*partition_by).parquet(path)
    if partition_by and not has_partitions(frame.sparkSession, path):
        frame.write.mode("overwrite").parquet(path)


def has_partitions(spark: Any, path: str) -> bool:
    """Whether the folder `path` holds at least one partition folder."""
    fs, hpath = _fs(spark, path)
    return any(status.isDirectory() for status in fs.listStatus(hpath))


def remove(spark: Any, path: str) -> None:
    """Delete a folder (and what it holds) if it exists."""
    fs, hpath = _fs(spark, path)
    if fs.exists(hpath):
        fs.delete(hpath, True)


def read(spark: Any, target: str) -> Any:
    """A Parquet table written by `write` (partition columns come back as columns)."""
    return spark.read.parquet(target)


def open_contract(settings: Settings, spark: Any | None = None) -> BaseBackend:
    """An Ibis PySpark backend with each validated contract table (`contract/<table>`) as a
    temporary view named after the table, in contract column order."""
    spark = spark or spark_session(settings)
    con = ibis.pyspark.connect(spark)
    found = False
    for name, table in TABLES.items():
        path = location(settings, "contract", name)
        if exists(spark, path):
            read(spark, path).select(*table.names).createOrReplaceTempView(name)
            found = True
        else:
            spark.catalog.dropTempView(name)
    if not found:
        raise FileNotFoundError(
            f"No validated contract tables under {location(settings, 'contract')}: run "
            "`barometer ingest --engine spark` first."
        )
    return con
