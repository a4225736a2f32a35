"""`barometer features --engine spark`: features and labels computed where the data lives.

The validated contract tables (`contract/` in the lake output, see `features.lake_contract`) are
read by Spark, the registry's Ibis definitions run on them with the same point-in-time rules as
on DuckDB (`features.engine`, `features.labels`), and the four tables are written back as Parquet
partitioned by cutoff. No row passes through the driver: only cutoffs, counts and null rates do.

Without a lake (`Settings.lake` and `lake_tables` unset) the workspace is the lake: the
warehouse's contract tables (validated by `barometer ingest`) are exported to `contract/` first,
and the results are also loaded back into the warehouse, so `train` and `score` work as after a
DuckDB build.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from barometer.settings import Settings
from data.contract import TABLES
from features import engine as feature_engine
from features import labels as label_engine
from features import lake
from features.backends import spark_frame, spark_session
from features.build import BuildReport, Step, build_meta, meta_frame, plan_cutoffs
from features.core import Context
from features.label_config import ChurnLabels, ResolvedChurn
from features.registry import Feature
from features.timeline import US_PER_DAY, cutoff_table
from features.warehouse import connect, table_exists

KIND_TYPES = {"numeric": "double", "bool": "boolean", "categorical": "string"}
# Key columns of each output table, in the warehouse's column order.
TABLE_KEYS = {
    "features_account": ("account_id", "cutoff"),
    "features_opportunity": ("opportunity_id", "account_id", "cutoff", "snapshot"),
    "labels_churn": ("account_id", "cutoff", "label", "label_time"),
    "labels_deal_win": ("opportunity_id", "cutoff", "label", "label_time"),
    "churn_population": ("account_id", "cutoff"),
    "features_rep": ("rep_id", "cutoff"),
    "labels_rep_attrition": ("rep_id", "cutoff", "label", "label_time"),
}


def workspace_is_lake(settings: Settings) -> bool:
    """No lake configured: the workspace warehouse is exported to the lake output and read there."""
    return not settings.lake and not settings.lake_tables


def export_warehouse(settings: Settings) -> None:
    """The warehouse's contract tables as Parquet folders under `contract/` (replaced whole;
    `activities` partitioned by month). DuckDB writes them, so the lake output must be local."""
    target = Path(lake.location(settings, "contract"))
    staged = target.with_name(f".contract-new-{uuid.uuid4().hex[:8]}")
    staged.mkdir(parents=True)
    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            for name in TABLES:
                if not table_exists(con, name):
                    continue
                if name == "activities":
                    query = "select *, strftime(occurred_at, '%Y-%m') as month from activities"
                    options = "format parquet, partition_by (month)"
                    con.execute(f"copy ({query}) to '{staged / name}' ({options})")
                else:
                    (staged / name).mkdir()
                    con.execute(
                        f"copy {name} to '{staged / name / 'part-0.parquet'}' (format parquet)"
                    )
        aside = target.with_name(f".contract-old-{uuid.uuid4().hex[:8]}")
        if target.exists():
            os.replace(target, aside)
        os.replace(staged, target)
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def data_span(spark: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last activity time in the lake's contract tables."""
    from pyspark.sql import functions as F

    row = spark.table("activities").agg(F.min("occurred_at"), F.max("occurred_at")).first()
    if row[0] is None:
        raise ValueError("The activities table is empty: nothing to compute features from.")
    return pd.Timestamp(row[0]), pd.Timestamp(row[1])


def cutoff_date(column: str = "c_day") -> Any:
    """The cutoff as a DATE (the partition value) from its epoch day."""
    from pyspark.sql import functions as F

    return F.expr(f"date_from_unix_date(cast({column} as int))").alias("cutoff")


def feature_table(ctx: Context, entity: str) -> tuple[Any, list[Feature], list[str]]:
    """One entity's feature table as a Spark DataFrame in the warehouse's columns and types."""
    from pyspark.sql import functions as F

    expr, feats, notes = feature_engine.features_expr(ctx, entity)  # type: ignore[arg-type]
    frame = spark_frame(ctx.con, expr)
    keys = [cutoff_date() if k == "cutoff" else F.col(k) for k in TABLE_KEYS[f"features_{entity}"]]
    values = [F.col(f.name).cast(KIND_TYPES[f.kind]).alias(f.name) for f in feats]
    return frame.select(*keys, *values), feats, notes


def churn_tables(
    con: Any, cutoffs: list, churn: ResolvedChurn, end: pd.Timestamp
) -> tuple[Any, Any]:
    """`churn_population` (who the definition covers at each cutoff, as `barometer score` reads it)
    and `labels_churn` (its rows whose horizon ends by `end`, the data's end), as Spark
    DataFrames."""
    from pyspark.sql import functions as F

    horizon = churn.horizon_days
    end_us = int((end - pd.Timestamp("1970-01-01")) // pd.Timedelta("1us"))
    population = spark_frame(
        con, label_engine.churn_expr(con, cutoff_table(cutoffs), churn, end_us)
    )
    label_us = (F.col("c_day") + horizon) * US_PER_DAY
    labels = population.filter(label_us <= end_us).select(
        "account_id",
        cutoff_date(),
        F.col("label").cast("bigint").alias("label"),
        F.timestamp_micros(label_us).cast("timestamp_ntz").alias("label_time"),
    )
    return population.select("account_id", cutoff_date()), labels


def one_class_problem(labels: Any, churn: ResolvedChurn) -> str | None:
    """Why the churn labels cannot train a model (one class only, or none), else None; only the
    two counts reach the driver."""
    from pyspark.sql import functions as F

    row = labels.agg(
        F.sum(F.col("label")).alias("positives"), F.count(F.lit(1)).alias("rows")
    ).first()
    positives, rows = int(row["positives"] or 0), int(row["rows"] or 0)
    if rows and 0 < positives < rows:
        return None
    which = "churning" if not positives else "staying"
    others = ", ".join(d for d in label_engine.DEFINITIONS if d != churn.definition)
    return (
        f"churn labels under '{churn.definition}' have no {which} accounts in {rows:,} labelled "
        f"rows; try another definition ({others}) with --churn-definition"
    )


def deal_win_table(ctx: Context) -> Any:
    """`labels_deal_win` as a Spark DataFrame."""
    from pyspark.sql import functions as F

    return spark_frame(ctx.con, label_engine.deal_win_expr(ctx)).select(
        "opportunity_id",
        cutoff_date(),
        F.col("label").cast("bigint").alias("label"),
        F.col("label_time").cast("timestamp_ntz").alias("label_time"),
    )


def rep_attrition_table(ctx: Context, horizon_days: int, end: pd.Timestamp) -> Any:
    """`labels_rep_attrition` as a Spark DataFrame: the rows whose horizon ends by `end`."""
    from pyspark.sql import functions as F

    end_us = int((end - pd.Timestamp("1970-01-01")) // pd.Timedelta("1us"))
    label_us = (F.col("c_day") + horizon_days) * US_PER_DAY
    frame = spark_frame(ctx.con, label_engine.rep_attrition_expr(ctx, horizon_days))
    return frame.filter(label_us <= end_us).select(
        "rep_id",
        cutoff_date(),
        F.col("label").cast("bigint").alias("label"),
        F.timestamp_micros(label_us).cast("timestamp_ntz").alias("label_time"),
    )


def write_all(spark: Any, settings: Settings, tables: dict[str, Any]) -> None:
    """Write every table to a hidden folder first, then move them all into place: a failure
    while computing leaves every previous table as it was."""
    staged = {
        name: lake.location(settings, f".{name}-new-{uuid.uuid4().hex[:8]}") for name in tables
    }
    try:
        for name, frame in tables.items():
            lake.write_parquet(frame, staged[name], ("cutoff",))
        for name in tables:
            lake.replace(spark, staged[name], lake.location(settings, name))
    finally:
        for path in staged.values():
            lake.remove(spark, path)


def null_rates(frame: Any, feats: list[Feature]) -> pd.Series:
    """Share of nulls per feature (one aggregate over the written table)."""
    from pyspark.sql import functions as F

    row = frame.agg(*[F.avg(F.col(f.name).isNull().cast("double")).alias(f.name) for f in feats])
    return pd.Series(row.first().asDict(), dtype="float64")


def build_lake(
    settings: Settings,
    as_of: list | None,
    churn: ChurnLabels,
    step: Step = lambda name: None,
) -> BuildReport:
    """Compute features and labels on Spark from the lake and write them back (see module doc)."""
    started = time.perf_counter()
    settings.ensure_home()
    if workspace_is_lake(settings):
        step("exporting the warehouse")
        export_warehouse(settings)
    spark = spark_session(settings)
    con = lake.open_contract(settings, spark)
    first, last = data_span(spark)
    cutoffs, frequency, why = plan_cutoffs(
        as_of, first, last, churn.horizon_days, settings.cutoff_frequency
    )
    ctx = feature_engine.make_context(con, cutoffs, tuple(settings.stage_order))
    report = BuildReport(cutoffs=cutoffs)
    try:
        tables, feats = {}, {}
        entities = [
            "account",
            *(["opportunity"] if "opportunities" in ctx.tables else []),
            *(["rep"] if "reps" in ctx.tables else []),
        ]
        step("account and opportunity features")  # and rep features, as the DuckDB build
        for entity in entities:
            tables[f"features_{entity}"], feats[entity], notes = feature_table(ctx, entity)
            report.notes += notes
        for entity, table in (("opportunity", "opportunities"), ("rep", "reps")):
            if table not in ctx.tables:
                report.notes.append(f"{entity} features switched off: no {table} table")
        step("churn labels")
        resolved = label_engine.resolve_churn(con, churn)
        tables["churn_population"], tables["labels_churn"] = churn_tables(
            con, cutoffs, resolved, last
        )
        problem = one_class_problem(tables["labels_churn"], resolved)
        if problem:
            report.notes.append(f"{problem}: the churn model cannot be trained on this data")
        step("deal-win labels")
        if "opportunities" in ctx.tables:
            tables["labels_deal_win"] = deal_win_table(ctx)
        if "reps" in ctx.tables:
            step("rep-attrition labels")
            horizon = settings.rep_attrition_horizon_days
            tables["labels_rep_attrition"] = rep_attrition_table(ctx, horizon, last)
        step("writing tables")
        write_all(spark, settings, tables)
    finally:
        ctx.close()
    step("counting rows")
    for name in tables:
        written = lake.read(spark, lake.location(settings, name))
        report.rows[name] = written.count()
        if name.startswith("features_"):
            report.null_rates[name] = null_rates(written, feats[name.removeprefix("features_")])
    label_cutoffs = {
        name: [
            r[0]
            for r in lake.read(spark, lake.location(settings, name))
            .select("cutoff")
            .distinct()
            .collect()
        ]
        for name in ("labels_churn", "labels_deal_win", "labels_rep_attrition")
        if name in tables
    }
    report.meta = build_meta(cutoffs, frequency, why, first, last, resolved, label_cutoffs)
    if workspace_is_lake(settings):
        load_into_warehouse(settings, list(tables), meta_frame(report.meta))
    report.seconds = time.perf_counter() - started
    return report


def load_into_warehouse(settings: Settings, names: list[str], meta: pd.DataFrame) -> None:
    """Replace the warehouse's feature and label tables with the lake's (DuckDB reads the Parquet
    folders itself), in the warehouse's column order and types, in one transaction: readers and a
    killed run see the old set or the new one, never a mix."""
    with connect(settings.warehouse_path) as con:
        selects = {name: lake_select(con, settings, name) for name in names}
        con.execute("begin transaction")
        try:
            for name, select in selects.items():
                con.execute(f'create or replace table "{name}" as {select}')
            con.register("build_meta_frame", meta)
            con.execute("create or replace table build_meta as select * from build_meta_frame")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise


def lake_select(con, settings: Settings, name: str) -> str:
    """The query reading table `name`'s lake folder in the warehouse's column order and types."""
    files = f"{lake.location(settings, name)}/**/*.parquet"  # an empty table is one file
    source = f"read_parquet('{files}', hive_partitioning = true)"
    columns = con.execute(f"describe select * from {source}").fetchall()
    keys = TABLE_KEYS[name]
    rest = [c[0] for c in columns if c[0] not in keys]
    select = ", ".join(
        "cast(cutoff as timestamp) as cutoff" if k == "cutoff" else f'"{k}"' for k in [*keys, *rest]
    )
    return f"select {select} from {source}"
