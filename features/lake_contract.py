"""Validate contract tables where they live (`barometer ingest-lake`): Spark checks every row.

A large export already sits in the lake, so it is validated there, row by row, with the rules of
`data.contract` and the checks and order of the warehouse ingest (`features/ingest/README.md`):
field checks in contract column order (missing required field, bad date, a date before 1990,
wrong type, unknown enum value, out of range), then a key seen earlier in the table, then orphans
in contract column order, worded as `features.ingest.validate` words them. A row is rejected for
its first failing check; the others load. Per table, rows read = loaded + rejected, or the run
fails. The warehouse ingest's checks against an export's text and its file (non-ISO forms, time
zone abbreviations, dates after the export date, effects before causes) are not applied here:
lake tables arrive typed, and a lake has no export date.

Why every row rather than a sample: a sample can pass a table holding bad rows, and those rows
would then flow silently into features. The checks are one pass of column expressions plus a
join per reference, distributed like any Spark job; at lake scale they cost less than the
feature build.

Sources, in contract load order: the catalogue table named in `Settings.lake_tables`, else the
folder `<lake>/<table>` (or `<lake>/<table>.parquet`) in `Settings.lake_format`. Column names
match case-insensitively; typed columns (timestamps, numbers, booleans) are taken as they are,
text columns are parsed. Rows are identified by their file and 1-based row in that file.

Output (all of it replaced at once, see `features.lake.replace`): `contract/<table>` (the loaded
rows in contract column order and types; `activities` partitioned by `month` of `occurred_at`),
`contract/rejects` (`file, table_name, row_number, field, value, reason, ingested_at`) and
`contract/ingest_log` (`table_name, source, rows_read, loaded, rejected, ingested_at`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from barometer.settings import Settings
from data.contract import LOAD_ORDER, MANDATORY, TABLES, Column, Table
from features import lake
from features.ingest.validate import BAD_DATE, EARLIEST, MISSING, TOO_EARLY, WRONG_TYPE

STORAGE = {
    "string": "string",
    "enum": "string",
    "timestamp": "timestamp",
    "float": "double",
    "int": "bigint",
    "bool": "boolean",
}
TRUE_WORDS = ("true", "t", "1", "yes")
FALSE_WORDS = ("false", "f", "0", "no")
PARTITIONS = {"activities": "month"}  # appends land in one folder per month


class LakeError(ValueError):
    """A table-level problem: a mandatory table or a required column is missing."""


@dataclass
class TableReport:
    table: str
    source: str
    rows_read: int
    loaded: int
    rejected: int


@dataclass
class LakeReport:
    tables: list[TableReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def over_threshold(self, threshold: float) -> list[str]:
        return [
            t.table for t in self.tables if t.rows_read and t.rejected / t.rows_read > threshold
        ]


# ---------------------------------------------------------------- sources


def source(spark: Any, settings: Settings, name: str) -> tuple[Any, str] | None:
    """The raw table and where it came from, or None when the lake does not have it."""
    if name in settings.lake_tables:
        return spark.table(settings.lake_tables[name]), settings.lake_tables[name]
    if not settings.lake:
        return None
    for path in (
        f"{settings.lake.rstrip('/')}/{name}",
        f"{settings.lake.rstrip('/')}/{name}.parquet",
    ):
        if lake.exists(spark, path):
            return spark.read.format(settings.lake_format).load(path), path
    return None


def with_row_ids(frame: Any) -> Any:
    """`_file` and `_row` (1-based within its file) for every row; tables whose source exposes
    no file metadata (some catalogue views) get a unique increasing id and their table name."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        return frame.select(
            "*",
            F.col("_metadata.file_path").alias("_file"),
            (F.col("_metadata.row_index") + 1).alias("_row"),
        )
    except AnalysisException:
        return frame.select(
            "*",
            F.lit(None).cast("string").alias("_file"),
            (F.monotonically_increasing_id() + 1).alias("_row"),
        )


# ---------------------------------------------------------------- field checks


def raw_text(frame: Any, name: str) -> Any:
    """The column as trimmed text, empty text as null (what the check reports as the value)."""
    from pyspark.sql import functions as F

    text = F.trim(F.col(name).cast("string"))
    return F.when(text != "", text)


def typed(frame: Any, column: Column, name: str) -> Any:
    """The column in its contract type (null where it cannot be read as one)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, StringType

    source_type = frame.schema[name].dataType
    raw = raw_text(frame, name)
    kind = column.kind
    if kind == "string":
        return raw
    if kind == "enum":
        return F.lower(raw)
    if not isinstance(source_type, StringType):
        if kind == "bool" and not isinstance(source_type, BooleanType):
            return F.when(F.col(name) == 1, True).when(F.col(name) == 0, False)
        return F.col(name).try_cast(STORAGE[kind])
    if kind == "bool":
        word = F.lower(raw)
        return F.when(word.isin(*TRUE_WORDS), True).when(word.isin(*FALSE_WORDS), False)
    return raw.try_cast(STORAGE[kind])


def column_checks(column: Column, raw: Any, value: Any) -> list[tuple[str, str, Any]]:
    """(field, reason, failing condition) for one column, in the order they are reported."""
    from pyspark.sql import functions as F

    checks = []
    if column.required:
        checks.append((column.name, MISSING, raw.isNull()))
    unread = raw.isNotNull() & value.isNull()
    if column.kind == "timestamp":
        checks.append((column.name, BAD_DATE, unread))
        checks.append((column.name, TOO_EARLY, value < F.lit(EARLIEST).cast("timestamp")))
    elif column.kind in WRONG_TYPE:
        if column.kind == "float":
            unread = unread | F.isnan(value) | (F.abs(value) == float("inf"))
        checks.append((column.name, WRONG_TYPE[column.kind], unread))
    elif column.kind == "enum":
        reason = f"unknown enum value (allowed: {' / '.join(column.values)})"
        checks.append((column.name, reason, ~value.isin(*column.values)))
    bounds = []
    if column.min is not None:
        bounds.append(value < column.min)
    if column.max is not None:
        bounds.append(value > column.max)
    if bounds:
        checks.append((column.name, column.out_of_range(), reduce(lambda a, b: a | b, bounds)))
    return checks


def first_failure(checks: list[tuple[str, str, Any]], pick) -> Any:
    """`pick(check)` of the first check whose condition holds (null when none does)."""
    from pyspark.sql import functions as F

    if not checks:
        return F.lit(None).cast("string")
    out = F.when(checks[0][2], pick(checks[0]))
    for check in checks[1:]:
        out = out.when(check[2], pick(check))
    return out


def checked(frame: Any, table: Table) -> Any:
    """Typed contract columns plus `_file`, `_row` and, for rows failing a field check, the
    first failure's `_field`, `_reason` and `_value` (null on clean rows)."""
    from pyspark.sql import functions as F

    names = {c.lower(): c for c in frame.columns}
    missing = [c for c in table.required if c not in names]
    if missing:
        raise LakeError(f"table {table.name!r}: required column(s) missing: {', '.join(missing)}")
    raw, out, checks = {}, {}, []
    for column in table.columns:
        if column.name not in names:
            out[column.name] = F.lit(None).cast(STORAGE[column.kind])
            continue
        name = names[column.name]
        raw[column.name] = raw_text(frame, name)
        out[column.name] = typed(frame, column, name)
        checks += column_checks(column, raw[column.name], out[column.name])
    return with_row_ids(frame).select(
        *[value.alias(name) for name, value in out.items()],
        "_file",
        "_row",
        first_failure(checks, lambda c: F.lit(c[0])).alias("_field"),
        first_failure(checks, lambda c: F.lit(c[1])).alias("_reason"),
        first_failure(checks, lambda c: raw[c[0]]).alias("_value"),
    )


# ---------------------------------------------------------------- table checks

MARKS = ("_field", "_reason", "_value")


def _base(rows: Any) -> list[str]:
    return [c for c in rows.columns if c not in MARKS and not c.startswith("_t_")]


def _mark(bad: Any, field: Any, reason: Any, value: Any) -> list[Any]:
    """The marks, set from this check on rows that fail it and were clean so far."""
    from pyspark.sql import functions as F

    fresh = F.col("_reason").isNull() & bad
    new = {"_field": field, "_reason": reason, "_value": value.cast("string")}
    return [F.when(fresh, v).otherwise(F.col(k)).alias(k) for k, v in new.items()]


def duplicates(rows: Any, table: Table) -> Any:
    """Mark clean rows whose key was seen earlier among the clean rows (the first one loads).

    The window is partitioned by the key, so it spreads over the executors; only a key repeated
    millions of times would load one task."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key = list(table.key)
    clean = F.col("_reason").isNull()
    w = Window.partitionBy(clean, *key).orderBy("_file", "_row")
    ranked = rows.select(
        "*",
        F.row_number().over(w).alias("_t_n"),
        F.first("_file").over(w).alias("_t_file"),
        F.first("_row").over(w).alias("_t_row"),
    )
    reason = F.when(
        F.col("_t_file").eqNullSafe(F.col("_file")),
        F.format_string("duplicated id in file (first at row %d)", "_t_row"),
    ).otherwise(F.format_string("duplicated id (first at row %d of %s)", "_t_row", "_t_file"))
    value = F.concat_ws("|", *[F.col(k).cast("string") for k in key])
    bad = F.col("_t_n") > 1
    return ranked.select(*_base(rows), *_mark(bad, F.lit(",".join(key)), reason, value))


def orphans(rows: Any, column: Column, referenced: Any) -> Any:
    """Mark clean rows whose `column` names a value absent from the referenced table."""
    from pyspark.sql import functions as F

    ref_col = column.references.split(".")[1]
    keys = referenced.select(F.col(ref_col).alias("_t_ref")).distinct()
    keys = keys.withColumn("_t_hit", F.lit(True))
    j = rows.join(keys, rows[column.name] == keys["_t_ref"], "left")
    bad = F.col(column.name).isNotNull() & F.col("_t_hit").isNull()
    reason = F.lit(f"orphan: no {column.references} with this value")
    return j.select(*_base(rows), *_mark(bad, F.lit(column.name), reason, F.col(column.name)))


def marked(frame: Any, table: Table, loaded: dict[str, Any]) -> Any:
    """Every row of one table, typed, with the marks of its first failing check (null when it
    loads). `loaded` holds the referenced tables' loaded rows; a reference to a table absent
    from it is not checked."""
    rows = duplicates(checked(frame, table), table)
    for column in table.columns:
        ref = (column.references or ".").split(".")[0]
        if ref in loaded:
            rows = orphans(rows, column, loaded[ref])
    return rows


def split(rows: Any, table: Table) -> tuple[Any, Any]:
    """(loaded rows in contract columns, rejects in the `rejects` columns but `ingested_at`)."""
    from pyspark.sql import functions as F

    # Stored as the contract says: naive UTC timestamps (Parquet's "not adjusted to UTC").
    naive = {c.name for c in table.columns if c.kind == "timestamp"}
    good = rows.filter(F.col("_reason").isNull()).select(
        *[F.col(n).cast("timestamp_ntz").alias(n) if n in naive else F.col(n) for n in table.names]
    )
    bad = rows.filter(F.col("_reason").isNotNull()).select(
        F.col("_file").alias("file"),
        F.lit(table.name).alias("table_name"),
        F.col("_row").alias("row_number"),
        F.col("_field").alias("field"),
        F.col("_value").alias("value"),
        F.col("_reason").alias("reason"),
    )
    return good, bad


LOG_SCHEMA = (
    "table_name string, source string, rows_read long, loaded long, rejected long, "
    "ingested_at timestamp"
)


def validate_lake(
    settings: Settings, spark: Any | None = None, progress=lambda name: None
) -> LakeReport:
    """Validate every contract table the lake has and replace `contract/` with the result."""
    spark = spark or lake.spark_session(settings)
    found = {name: source(spark, settings, name) for name in LOAD_ORDER}
    missing = [name for name in MANDATORY if found[name] is None]
    if missing:
        raise LakeError(f"mandatory contract tables missing from the lake: {', '.join(missing)}")
    staged = lake.location(settings, f".contract-new-{uuid.uuid4().hex[:8]}")
    now = datetime.now(UTC).replace(tzinfo=None)
    report, loaded = LakeReport(skipped=[n for n, f in found.items() if f is None]), {}
    try:
        for name in (n for n in LOAD_ORDER if found[n] is not None):
            progress(name)
            frame, where = found[name]
            loaded[name], rejected = write_validated(frame, TABLES[name], loaded, staged, now)
            done = TableReport(name, where, frame.count(), loaded[name].count(), rejected)
            if done.rows_read != done.loaded + done.rejected:
                raise RuntimeError(f"{name}: {done} does not add up; nothing was replaced")
            report.tables.append(done)
        log = [(t.table, t.source, t.rows_read, t.loaded, t.rejected, now) for t in report.tables]
        spark.createDataFrame(log, LOG_SCHEMA).coalesce(1).write.parquet(f"{staged}/ingest_log")
        lake.replace(spark, staged, lake.location(settings, "contract"))
    finally:
        lake.remove(spark, staged)
    return report


def write_validated(
    frame: Any, table: Table, loaded: dict[str, Any], staged: str, now: datetime
) -> tuple[Any, int]:
    """Write one table's loaded rows and rejects under `staged`; the loaded rows as written, and
    the count of rejects. The marked rows are persisted so the checks run once for both."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    rows = marked(frame, table, loaded).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        good, bad = split(rows, table)
        partition = (PARTITIONS[table.name],) if table.name in PARTITIONS else ()
        if partition:
            good = good.withColumn("month", F.date_format("occurred_at", "yyyy-MM"))
        lake.write_parquet(good, f"{staged}/{table.name}", partition)
        rejects = f"{staged}/rejects/table_name={table.name}"
        bad.drop("table_name").withColumn("ingested_at", F.lit(now)).write.parquet(rejects)
    finally:
        rows.unpersist()
    spark = frame.sparkSession
    return lake.read(spark, f"{staged}/{table.name}"), lake.read(spark, rejects).count()
