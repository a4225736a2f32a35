"""`barometer score --engine spark`: the champion scores the lake's feature table on the cluster.

The same job as `barometer.scoring.job`, where the data lives:

- rows: the feature table (`features_account`, or `features_opportunity`'s `cutoff` snapshots) at
  the `as_of` cutoff, for the entities `job.context_sql` selects (the same SQL, run by Spark);
- scores: the registered model through `mlflow.pyfunc.spark_udf`. Each executor loads the logged
  pyfunc (self-contained: its code and requirements travel with it, see
  `barometer.model.flavour`) and scores its share of rows in Arrow batches, so the model runs
  beside the data and nothing is collected on the driver. `env_manager="local"` uses the
  executors' Python; `virtualenv` or `uv` builds the model's own environment on each executor;
- reasons: worded on the executors by `barometer.scoring.reasons` from the UDF's per-feature
  points (the one place reasons are worded), so their Python needs Barometer (see the README);
- band, lift and peer percentile as `barometer.scoring.bands` and `barometer.scoring.scores`
  define them (the band cuts from the run's base rate, one aggregation on the cluster);
- not here: the change since the previous run and suggested actions (the warehouse job's), left
  empty;
- output: the `scores` table's columns, written to `scores/target=<t>/as_of=<date>/` in the lake
  output, replacing that run whole (`features.lake.write`).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from barometer.model.flavour import CONTRIB_PREFIX, output_schema_ddl
from barometer.model.store import NoChampionError, champion_version, client, registered_name
from barometer.scoring.bands import BandCuts, settings_cuts
from barometer.scoring.history import SCORES_COLUMNS, SCORES_TYPES
from barometer.scoring.job import JobResult, context_sql
from barometer.scoring.reasons import DECIMALS, TOP_K
from barometer.scoring.scores import CONTEXT_COLUMNS, MONEY_DECIMALS, peer_column
from barometer.settings import Settings
from barometer.targets import ID_COLUMNS, TARGETS
from features import lake

SCORE_COLUMNS = [c for c in SCORES_COLUMNS if c not in ("target", "as_of")]  # those are partitions
CONTEXT = "_context_"  # prefix of the context columns while they sit beside the features


def champion_model(settings: Settings, target: str, folder: Path) -> tuple[str, str]:
    """The champion's version, and its logged pyfunc downloaded under `folder` (spark_udf ships
    that copy to the executors)."""
    import mlflow.artifacts

    info = champion_version(settings, target)
    if info is None:
        raise NoChampionError(
            f"No champion for {registered_name(target)}: train and promote a model first."
        )
    uri = client(settings).get_model_version_download_uri(info.name, info.version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=uri, dst_path=str(folder), tracking_uri=settings.tracking_uri
    )
    return info.version, local


def model_inputs(model: str) -> dict[str, str]:
    """Input column -> Spark type, in the model's order, from the logged signature (the pyfunc's
    contract: categoricals as text, everything else as doubles, booleans as 0/1)."""
    from mlflow.models import Model

    inputs = Model.load(model).signature.inputs
    return {
        name: spark_type(dtype)
        for name, dtype in zip(inputs.input_names(), inputs.input_types(), strict=True)
    }


def spark_type(dtype: Any) -> str:
    """A signature column's Spark type. A yes/no feature is declared `AnyType` (the pyfunc takes
    true/false or 0/1); the lake's feature tables hold it as 0/1, so it travels as a double."""
    to_spark = getattr(dtype, "to_spark", None)
    return to_spark().simpleString() if to_spark else "double"


def context_tables(spark: Any, settings: Settings) -> set[str]:
    """The optional tables the scoring context can use: contract views of this session, and the
    lake's `churn_population` (registered as a view) when the build wrote one."""
    found = {name for name in ("reps", "opportunity_stages") if spark.catalog.tableExists(name)}
    population = lake.location(settings, "churn_population")
    if lake.exists(spark, population):
        lake.read(spark, population).createOrReplaceTempView("churn_population")
        found.add("churn_population")
    return found


def rows_at(spark: Any, settings: Settings, target: str, as_of: datetime | None) -> tuple[Any, Any]:
    """(feature rows at `as_of` joined to who is scored and their context, the `as_of` used)."""
    from pyspark.sql import functions as F

    features = lake.read(spark, lake.location(settings, TARGETS[target].features))
    if as_of is None:
        as_of = features.agg(F.max("cutoff")).first()[0]
        if as_of is None:
            raise LookupError(
                f"{TARGETS[target].features} is empty: run `barometer features` first."
            )
    day = pd.Timestamp(as_of).date()
    rows = features.filter(F.col("cutoff") == F.lit(day))
    if target == "deal_win":
        rows = rows.filter(F.col("snapshot") == "cutoff")
    when = pd.Timestamp(day).to_pydatetime()
    sql = context_sql(target, context_tables(spark, settings), as_of=":as_of")
    context = spark.sql(sql, args={"as_of": when})
    # Context columns apart from the features (an account's `segment` is both).
    context = context.select(
        ID_COLUMNS[target], *[F.col(c).alias(CONTEXT + c) for c in CONTEXT_COLUMNS]
    )
    return rows.join(context, ID_COLUMNS[target]), pd.Timestamp(day)


def with_scores(rows: Any, model_uri: str, inputs: dict[str, str], env_manager: str) -> Any:
    """Rows with the pyfunc's output columns (`probability`, `base_probability`, `contrib__*`);
    the probabilities rounded as the warehouse job stores them (`DECIMALS`)."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    names = list(inputs)
    udf = mlflow.pyfunc.spark_udf(
        rows.sparkSession, model_uri, result_type=output_schema_ddl(names), env_manager=env_manager
    )
    cast = [F.col(n).cast(inputs[n]).alias(n) for n in names]
    scored = rows.withColumn("_score", udf(F.struct(*cast)))
    scored = scored.select("*", "_score.*").drop("_score", "model_run_id")
    for name in ("probability", "base_probability"):  # half to even, like numpy's round
        scored = scored.withColumn(name, F.bround(name, DECIMALS))
    return scored


def reason_batches(target: str, names: list[str], top_k: int):
    """A `mapInPandas` function: each batch's rows with `reasons` (JSON), worded on the executor."""

    def word(batches):
        from barometer.scoring.reasons import load_registry, row_reasons

        registry = load_registry()
        for batch in batches:
            points = batch[[CONTRIB_PREFIX + n for n in names]].set_axis(names, axis=1)
            total = (batch["probability"] - batch["base_probability"]).to_numpy(dtype=float)
            reasons = row_reasons(points, batch[names], target, registry, top_k, total)
            yield batch.drop(columns=points.columns.map(CONTRIB_PREFIX.__add__)).assign(
                reasons=[json.dumps(r, separators=(",", ":")) for r in reasons]
            )

    return word


def with_reasons(scored: Any, target: str, names: list[str], top_k: int = TOP_K) -> Any:
    """Scored rows with `reasons`; the per-feature points are dropped once worded."""
    from pyspark.sql.types import StringType, StructField, StructType

    kept = [f for f in scored.schema.fields if not f.name.startswith(CONTRIB_PREFIX)]
    schema = StructType([*kept, StructField("reasons", StringType())])
    return scored.mapInPandas(reason_batches(target, names, top_k), schema)


def lake_cuts(settings: Settings, target: str, scored: Any) -> BandCuts:
    """The run's band cuts (`barometer.scoring.bands.settings_cuts`) from the cluster: the base
    rate by one aggregation (the lift rule needs nothing else); under the capacity rule, the cuts
    from the top `3 × band_capacity` probabilities."""
    from pyspark.sql import functions as F

    base = scored.agg(F.avg("probability")).first()[0]
    if base is None:
        return settings_cuts(settings, target, [])
    if settings.band_rule != "capacity":
        return settings_cuts(settings, target, [float(base)])  # the mean of one is the base rate
    top = scored.select("probability").orderBy(F.desc("probability"))
    ranked = [r[0] for r in top.limit(3 * settings.band_capacity).collect()]
    return replace(settings_cuts(settings, target, ranked), base_rate=float(base))


def score_table(worded: Any, target: str, version: str, scored_at: datetime, cuts: BandCuts) -> Any:
    """The `scores` table's columns (without its partitions `target` and `as_of`).

    The percentile window is partitioned by the peer group (segment, or stage for deals): a few
    groups, so at most that many tasks rank their rows. That is the one place skew could bite;
    the rows are one per entity, not per event, so even millions rank in seconds per group."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    p = F.col("probability")
    band = F.when(p >= F.lit(cuts.high_at), "high")
    band = band.when(p >= F.lit(cuts.medium_at), "medium").otherwise("low")
    lift = p / F.lit(cuts.base_rate) if cuts.base_rate > 0 else F.lit(None).cast("double")
    value = F.bround(F.col(CONTEXT + "value").cast("double"), MONEY_DECIMALS)
    peer = F.col(CONTEXT + peer_column(target))
    peers = Window.partitionBy(F.coalesce(peer, F.lit("(none)")))
    rank = F.cume_dist().over(peers.orderBy(p))  # = pandas' rank(pct=True, method="max")
    id_column = ID_COLUMNS[target]
    out = worded.select(
        *[c for c in worded.columns if c not in CONTEXT_COLUMNS],
        F.col(id_column).alias("entity_id"),
        band.alias("band"),
        F.bround(rank * 100, 1).alias("percentile"),  # half to even, like numpy's round
        F.lit(str(version)).alias("model_version"),
        F.bround(p * value, MONEY_DECIMALS).alias("value_at_risk"),
        F.lit(scored_at).cast("timestamp_ntz").alias("scored_at"),
        F.bround(lift, 4).alias("lift"),
        value.alias("value"),
        *[F.col(CONTEXT + c).alias(c) for c in CONTEXT_COLUMNS if c != "value"],
    )
    for name in SCORE_COLUMNS:  # the warehouse job's change and actions columns: empty here
        if name not in out.columns:
            kind = SCORES_TYPES[name].split()[0].replace("varchar", "string")
            out = out.withColumn(name, F.lit(None).cast(kind.replace("timestamp", "timestamp_ntz")))
    if target == "churn":
        out = out.withColumn("account_id", F.col("entity_id"))
    return out.select(*SCORE_COLUMNS)


def score_lake(
    settings: Settings,
    target: str,
    as_of: datetime | None = None,
    env_manager: str = "local",
    spark: Any | None = None,
) -> JobResult:
    """Score every active entity as of `as_of` (default: the latest cutoff) on Spark and write
    the run to `scores/target=<target>/as_of=<date>` in the lake output."""
    started = time.perf_counter()
    spark = spark or lake.spark_session(settings)
    lake.open_contract(settings, spark)
    with tempfile.TemporaryDirectory(prefix="barometer-model-") as folder:
        version, model = champion_model(settings, target, Path(folder))
        inputs = model_inputs(model)
        rows, day = rows_at(spark, settings, target, as_of)
        scored = with_scores(rows, model, inputs, env_manager).persist()
        try:
            cuts = lake_cuts(settings, target, scored)
            worded = with_reasons(scored, target, list(inputs))
            now = datetime.now(UTC).replace(tzinfo=None)
            where = lake.location(settings, "scores", f"target={target}", f"as_of={day:%Y-%m-%d}")
            lake.write(score_table(worded, target, version, now, cuts), where)
        finally:
            scored.unpersist()
    count = lake.read(spark, where).count()
    seconds = time.perf_counter() - started
    return JobResult(target, day.to_pydatetime(), count, version, seconds, None)
