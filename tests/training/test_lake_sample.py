"""The training sample from the lake: whole entities, the same share of every cutoff, within the
memory budget, reproducible from its seed; and what the learning curve says about its size."""

from __future__ import annotations

import pandas as pd
import pytest

from barometer.settings import Settings
from training.lake_sample import (
    COPIES,
    keep_share,
    learning_curve_verdict,
    sample_frame,
)

from .conftest import make_panel, small_config


def test_keep_share_fits_the_budget() -> None:
    # 1 MB budget, 1 kB rows, COPIES copies: 250 rows fit out of 1,000.
    assert keep_share(1_000, 1_000.0, 0.001) == pytest.approx(1e6 / (COPIES * 1_000) / 1_000)
    assert keep_share(100, 1_000.0, 0.001) == 1.0


def test_learning_curve_verdict_reads_the_last_step() -> None:
    rising = pd.DataFrame({"train_rows": [100, 200, 400], "roc_auc": [0.70, 0.74, 0.78]})
    flat = pd.DataFrame({"train_rows": [100, 200, 400], "roc_auc": [0.70, 0.78, 0.781]})
    assert "still rising" in learning_curve_verdict(rising, 400)
    assert "+0.040" in learning_curve_verdict(rising, 400)
    assert "flat" in learning_curve_verdict(flat, 400)
    assert "too few" in learning_curve_verdict(flat.head(1), 400)


@pytest.fixture(scope="module")
def lake_settings(tmp_path_factory) -> Settings:
    """A lake output holding `features_account` and `labels_churn` written by Spark, partitioned
    by cutoff: 600 accounts over 12 cutoffs, the second half of them arriving at the 7th."""
    from features import lake
    from features.backends import spark_session

    settings = Settings(
        home=tmp_path_factory.mktemp("sample"),
        spark_master="local[2]",
        spark_conf={"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"},
    )
    panel = make_panel(n_entities=600, n_cutoffs=12, seed=5)
    late = (panel["account_id"] >= "A0300") & (panel["cutoff"] < panel["cutoff"].unique()[6])
    panel = panel[~late].copy()
    panel["cutoff"] = panel["cutoff"].dt.date
    spark = spark_session(settings)
    features = panel.drop(columns=["label", "label_time"])
    labels = panel[["account_id", "cutoff", "label", "label_time"]]
    for name, frame in (("features_account", features), ("labels_churn", labels)):
        lake.write(spark.createDataFrame(frame), lake.location(settings, name), ("cutoff",))
    return settings


@pytest.mark.spark
def test_sample_keeps_whole_accounts_and_every_cutoff_evenly(lake_settings) -> None:
    config = small_config()
    full, info_full = sample_frame(lake_settings, config)
    assert info_full.share == 1.0 and len(full) == 300 * 12 + 300 * 6
    rows = len(full)
    budget = info_full.bytes_per_row * COPIES * (rows / 3) / 1e9  # room for a third of the rows
    small = lake_settings.model_copy(update={"train_memory_gb": budget})
    sample, info = sample_frame(small, config)
    assert info.share == pytest.approx(1 / 3)
    assert info.rows == len(sample) and info.population_rows == rows
    assert rows / 3 * 0.8 < len(sample) < rows / 3 * 1.2  # the budget, give or take the hash
    first_seen = full.groupby("account_id")["cutoff"].min()
    counts = sample.groupby("account_id").size()
    whole = 12 - first_seen.rank(method="dense").sub(1).mul(6).loc[counts.index]
    assert (counts == whole).all()  # whole histories: no account straddles the time splits
    shares = sample.groupby("cutoff").size() / full.groupby("cutoff").size()
    assert shares.between(1 / 3 - 0.1, 1 / 3 + 0.1).all()  # each cutoff keeps about its share
    cohorts = sample.groupby(sample["account_id"].map(first_seen))["account_id"].nunique()
    assert cohorts.size == 2 and (cohorts / 300).between(0.23, 0.43).all()
    again, _ = sample_frame(small, config)
    assert again["account_id"].tolist() == sample["account_id"].tolist()  # the seed fixes it
    other, _ = sample_frame(small.model_copy(update={"train_sample_seed": 8}), config)
    assert set(other["account_id"]) != set(sample["account_id"])
    assert sample["cutoff"].dtype == "datetime64[us]" and sample["label"].isin([0, 1]).all()
