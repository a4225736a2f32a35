"""The logged pyfunc scores in Spark local mode through `mlflow.pyfunc.spark_udf`."""

from __future__ import annotations

import sys

import mlflow
import numpy as np
import pytest

from barometer.model.flavour import output_schema_ddl

from .conftest import logged_churn_model

pytestmark = pytest.mark.spark


def test_spark_udf_matches_local_scoring(tmp_path, monkeypatch) -> None:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # workers need this venv
    model, rows, uri = logged_churn_model(tmp_path, seed=2, n_rows=40)
    spark = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    try:
        udf = mlflow.pyfunc.spark_udf(
            spark, uri, result_type=output_schema_ddl(model.feature_names), env_manager="local"
        )
        frame = spark.createDataFrame(rows)
        scored = frame.withColumn("score", udf(*[frame[c] for c in rows.columns]))
        out = scored.select("score.probability", "score.`contrib__calls_90d`").toPandas()
    finally:
        spark.stop()
    np.testing.assert_allclose(out["probability"], model.predict_proba(rows), atol=1e-9)
    local = model.explain(rows).points["calls_90d"].to_numpy()
    np.testing.assert_allclose(out["contrib__calls_90d"], local, atol=1e-9)
