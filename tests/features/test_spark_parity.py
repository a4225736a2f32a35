"""The same registry definitions on PySpark (local mode) give DuckDB's results."""

from __future__ import annotations

import pandas as pd
import pytest

from barometer.settings import Settings
from features.backends import open_frames
from features.engine import feature_frames
from features.labels import churn_labels, deal_win_labels, rep_attrition_labels

from .conftest import assert_same_frames

pytestmark = pytest.mark.spark
# Four cutoffs a quarter apart over the simulation's second and third years.
CUTOFFS = ["2024-03-01", "2024-06-01", "2024-09-01", "2024-12-01"]
END = pd.Timestamp("2025-06-30")
LOCAL_SPARK = Settings(
    spark_master="local[2]",
    spark_conf={"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"},
)


def _everything(con) -> dict[str, pd.DataFrame]:
    """Every registry feature for each entity, and every label, on one backend."""
    frames = feature_frames(con, ["account", "opportunity", "rep"], CUTOFFS)
    return {
        "account": frames["account"][0],
        "opportunity": frames["opportunity"][0],
        "rep": frames["rep"][0],
        "churn": churn_labels(con, CUTOFFS, 90, data_end=END),
        "churn_inactivity": churn_labels(
            con, CUTOFFS, 90, "inactivity", 30, ("call", "email"), data_end=END
        ),
        "deal_win": deal_win_labels(con, CUTOFFS),
        "rep_attrition": rep_attrition_labels(con, CUTOFFS, 90, data_end=END),
    }


def with_departures(sim: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The simulation with two reps leaving inside the cutoffs' horizons (it has no departures
    of its own this early), so both attrition outcomes are compared."""
    reps = sim["reps"].copy()
    reps["left_at"] = pd.to_datetime(reps["left_at"])
    reps.loc[reps.index[:2], "left_at"] = [pd.Timestamp("2024-07-15"), pd.Timestamp("2024-10-20")]
    return {**sim, "reps": reps}


@pytest.fixture(scope="module")
def results(sim, tmp_path_factory) -> dict[str, dict[str, pd.DataFrame]]:
    """Both engines on the whole 80-account simulation, loaded once; Spark reads Parquet (keeps
    nullable ints and bools intact) in one local session (2 threads, 2 shuffle partitions, no
    UI)."""
    spark_dir = tmp_path_factory.mktemp("spark")
    tables = with_departures(sim)
    return {
        "duckdb": _everything(open_frames(tables, "duckdb")),
        "spark": _everything(open_frames(tables, "spark", spark_dir, LOCAL_SPARK)),
    }


@pytest.mark.parametrize("table", ["account", "opportunity", "rep"])
def test_spark_features_equal_duckdb(results, table):
    from features.registry import feature_names

    duck, spark = results["duckdb"][table], results["spark"][table]
    assert set(feature_names(table)) <= set(duck.columns)  # every registry feature compared
    assert set(pd.to_datetime(CUTOFFS)) <= set(duck.cutoff)
    if table == "opportunity":
        assert set(duck.snapshot) == {"cutoff", "stage_entry"}
    assert_same_frames(duck, spark)


@pytest.mark.parametrize("table", ["churn", "churn_inactivity", "deal_win", "rep_attrition"])
def test_spark_labels_equal_duckdb(results, table):
    duck, spark = results["duckdb"][table], results["spark"][table]
    assert duck.label.nunique() == 2  # both outcomes present: the comparison is not vacuous
    assert_same_frames(duck, spark)


def test_account_keys_need_no_single_partition_window(sim):
    """`acc_key` on Spark comes from a distributed sort, not a window over every account (a
    window without a partition moves all rows to one task): unique, in `account_id` order."""
    from features.backends import spark_session
    from features.core import spark_account_keys

    spark = spark_session(LOCAL_SPARK)
    accounts = spark.createDataFrame(sim["accounts"][["account_id"]].sample(frac=1, random_state=1))
    keyed = spark_account_keys(accounts)
    plan = keyed._jdf.queryExecution().executedPlan().toString()
    assert "Window" not in plan and "SinglePartition" not in plan
    rows = keyed.toPandas()
    assert rows["acc_key"].is_unique
    assert rows.sort_values("acc_key")["account_id"].tolist() == sorted(sim["accounts"].account_id)
