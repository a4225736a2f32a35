"""The same registry definitions on PySpark (local mode) give DuckDB's results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.engine import compute_features
from features.labels import churn_labels, deal_win_labels
from features.sources import open_frames

pytestmark = pytest.mark.spark
CUTOFFS = ["2024-03-01", "2024-09-01"]


def _assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark) > 0
    for column in duck:
        a, b = duck[column], spark[column]
        if pd.api.types.is_float_dtype(a):
            # Same values up to float summation order (1e-12 relative).
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, err_msg=column)
        else:
            pd.testing.assert_series_equal(a, b, check_dtype=False, obj=column)


@pytest.fixture(scope="module")
def small_sim(sim) -> dict[str, pd.DataFrame]:
    keep = set(sim["accounts"].account_id.iloc[:30])
    out = {}
    for name, frame in sim.items():
        out[name] = frame[frame.account_id.isin(keep)] if "account_id" in frame else frame
    opps = set(out["opportunities"].opportunity_id)
    out["opportunity_stages"] = sim["opportunity_stages"][
        sim["opportunity_stages"].opportunity_id.isin(opps)
    ]
    return out


@pytest.fixture(scope="module")
def engines(small_sim, tmp_path_factory) -> dict[str, object]:
    """Both backends loaded once: Spark from Parquet (keeps nullable ints and bools intact)."""
    return {
        "duckdb": open_frames(small_sim, "duckdb"),
        "spark": open_frames(small_sim, "spark", tmp_path_factory.mktemp("spark")),
    }


@pytest.mark.parametrize("entity", ["account", "opportunity"])
def test_spark_features_equal_duckdb(engines, entity):
    duck = compute_features(engines["duckdb"], entity, CUTOFFS)
    spark = compute_features(engines["spark"], entity, CUTOFFS)
    _assert_same(duck, spark)


def test_spark_labels_equal_duckdb(engines):
    end = pd.Timestamp("2025-06-30")
    for make in (
        lambda con: churn_labels(con, CUTOFFS, 90, data_end=end),
        lambda con: churn_labels(
            con, CUTOFFS, 90, "inactivity", 30, ("call", "email"), data_end=end
        ),
        lambda con: deal_win_labels(con, CUTOFFS),
    ):
        _assert_same(make(engines["duckdb"]), make(engines["spark"]))
