"""The logged pyfunc scores in Spark local mode through `mlflow.pyfunc.spark_udf`."""

from __future__ import annotations

import sys

import mlflow
import numpy as np
import pytest

from barometer.model.flavour import output_schema_ddl
from barometer.settings import Settings
from training import lifecycle
from training.fit import as_model_input, fit_scoring_model
from training.splits import time_split

from .conftest import KINDS, make_panel, small_config

pytestmark = pytest.mark.spark


def test_spark_udf_matches_local_scoring(tmp_path, monkeypatch) -> None:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # workers need this venv
    panel = make_panel(n_entities=150, n_cutoffs=12, seed=2)
    split = time_split(panel, test_cutoffs=2, holdout_cutoffs=2)
    model = fit_scoring_model(
        panel.loc[split.train], panel.loc[split.holdout], KINDS, small_config()
    )
    rows = as_model_input(panel.loc[split.test].head(40), KINDS).reset_index(drop=True)
    settings = Settings(home=tmp_path / "workspace")
    lifecycle.configure(settings)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, "churn")):
        uri = lifecycle.log_scoring_model(model, rows.head(5))
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
