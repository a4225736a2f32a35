"""`barometer train --engine spark`: a training sample from the lake's feature tables that fits
the training machine's memory (`Settings.train_memory_gb`).

- **Entity-grouped:** an entity (an account for churn, a deal for deal wins) is kept or left
  out with its whole history, decided by a seeded hash of its id, so no entity straddles the
  time splits and the sample is the same for the same seed and data.
- **Time-stratified:** the keep rate is the same for every cohort (entities first seen at the
  same cutoff), so each cutoff keeps the same share of its rows (in expectation; with thousands
  of entities per cutoff, to within a percent or two). The backtest's recent test periods are
  as well represented as the early ones.
- **Sized by memory:** bytes per row are measured on a few hundred rows converted to pandas;
  training holds about `COPIES` copies of its frame (model input, LightGBM's binned dataset,
  backtest folds), so the sample takes `train_memory_gb / COPIES` at most.

Only the sample reaches the driver. The run records its rows, entities, share, seed and budget,
and `learning_curve_verdict` says whether the learning curve asks for a larger sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from barometer.settings import Settings
from training.config import ExperimentConfig
from training.data import TARGETS

COPIES = 4  # frames training holds at once, as multiples of the sample
PROBE_ROWS = 500
HASH_BUCKETS = 1_000_000


@dataclass(frozen=True)
class SampleInfo:
    """What the sample is, logged with the run as `sample.*` parameters."""

    rows: int
    entities: int
    population_rows: int
    population_entities: int
    share: float
    seed: int
    memory_gb: float
    bytes_per_row: float

    def params(self) -> dict[str, str]:
        return {
            f"sample.{k}": f"{v:.6g}" if isinstance(v, float) else str(v)
            for k, v in asdict(self).items()
        }


def labelled_rows(spark: Any, settings: Settings, target: str) -> Any:
    """Feature rows joined to their labels, as training's warehouse query does
    (`training.data.load_frame`), on the lake's tables."""
    from pyspark.sql import functions as F

    from features import lake

    t = TARGETS[target]
    features = lake.read(spark, lake.location(settings, t.features))
    labels = lake.read(spark, lake.location(settings, t.labels))
    if target == "churn":
        return features.join(labels, ["account_id", "cutoff"])
    once = labels.select("opportunity_id", "label", "label_time").distinct()
    rows = features.join(once, "opportunity_id").filter(
        F.col("cutoff").cast("timestamp_ntz") < F.col("label_time")
    )
    accounts = lake.read(spark, lake.location(settings, "contract", "accounts"))
    segments = accounts.select("account_id", F.col("segment").alias("account_segment"))
    return rows.join(segments, "account_id", "left")


def bytes_per_row(rows: Any) -> float:
    """pandas bytes per row of a few hundred rows (text columns counted deeply)."""
    probe = rows.limit(PROBE_ROWS).toPandas()
    return float(probe.memory_usage(deep=True).sum()) / max(len(probe), 1)


def keep_share(population: int, row_bytes: float, memory_gb: float) -> float:
    """The share of entities to keep so the sample fits `memory_gb` (1.0: everything fits)."""
    fits = memory_gb * 1e9 / (COPIES * max(row_bytes, 1.0))
    return 1.0 if population <= fits else fits / population


def keep(key: str, share: float, seed: int) -> Any:
    """Spark condition: the entity is in the sample (a seeded hash, the same on every row)."""
    from pyspark.sql import functions as F

    bucket = F.pmod(F.xxhash64(F.col(key).cast("string"), F.lit(seed)), F.lit(HASH_BUCKETS))
    return bucket < F.lit(int(round(share * HASH_BUCKETS)))


def sample_frame(settings: Settings, config: ExperimentConfig) -> tuple[pd.DataFrame, SampleInfo]:
    """The training frame (as `training.data.load_frame` returns it) from a lake sample."""
    from pyspark.sql import functions as F

    from features.backends import spark_session

    spark = spark_session(settings)
    t = TARGETS[config.target]
    key = t.group or t.key
    rows = labelled_rows(spark, settings, config.target).filter(F.col("label").isNotNull())
    counts = rows.agg(F.count("*"), F.countDistinct(key)).first()
    if not counts[0]:
        raise ValueError(f"No labelled rows in {t.features} joined to {t.labels} in the lake.")
    row_bytes = bytes_per_row(rows)
    share = keep_share(counts[0], row_bytes, settings.train_memory_gb)
    seed = settings.train_sample_seed
    chosen = rows if share >= 1.0 else rows.filter(keep(key, share, seed))
    frame = chosen.toPandas()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"]).astype("datetime64[us]")
    frame["label"] = frame["label"].astype(int)
    order = ["cutoff", t.key] + (["snapshot"] if "snapshot" in frame else [])
    frame = frame.sort_values(order).reset_index(drop=True)
    info = SampleInfo(
        rows=len(frame),
        entities=int(frame[key].nunique()),
        population_rows=int(counts[0]),
        population_entities=int(counts[1]),
        share=share,
        seed=seed,
        memory_gb=settings.train_memory_gb,
        bytes_per_row=row_bytes,
    )
    return frame, info


def learning_curve_verdict(learning: pd.DataFrame, rows: int, tolerance: float = 0.005) -> str:
    """What the learning curve (test AUC against the share of training history used) says about
    the sample's size: still rising at full size means a larger sample (a larger memory budget)
    is likely to help; flat means it is large enough.

    The curve varies how much recent history trains the model, so it mixes size with recency;
    it is the size evidence training already computes."""
    curve = learning.dropna(subset=["roc_auc"]).sort_values("train_rows")
    if len(curve) < 2:
        return f"{rows:,} sampled rows: too few learning-curve points to judge the size"
    last, before = curve.iloc[-1], curve.iloc[-2]
    gain = float(last["roc_auc"] - before["roc_auc"])
    step = f"{int(before['train_rows']):,} -> {int(last['train_rows']):,} training rows"
    if gain > tolerance:
        return (
            f"{rows:,} sampled rows: test AUC still rising ({step}: {gain:+.3f}); "
            "a larger memory budget is likely to help"
        )
    return (
        f"{rows:,} sampled rows: learning curve flat ({step}: {gain:+.3f}); "
        "the sample is large enough"
    )


def record_sample(settings: Settings, result: Any, info: SampleInfo) -> str:
    """Log the sample (`sample.*` parameters) and the learning curve's verdict (the tag
    `sample.learning_curve`) on the training run; returns the verdict."""
    from barometer.model.store import client

    verdict = learning_curve_verdict(result.learning, info.rows)
    mc = client(settings)
    for name, value in info.params().items():
        mc.log_param(result.run_id, name, value)
    mc.set_tag(result.run_id, "sample.learning_curve", verdict)
    return verdict
