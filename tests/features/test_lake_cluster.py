"""The lake route on real executor processes (`local-cluster[2,1,1024]`: a master, two workers,
one core and 1 GB each): validation, features, labels and batch scoring give the DuckDB engine's
tables, table by table.

One CRM export (the 80-account simulation as Parquet, with bad rows planted in `accounts` and
`activities`) goes both ways:
- DuckDB: `ingest` → `build_all` → `score` into the warehouse;
- Spark: `validate_lake` → `build_lake` → `score_lake` into the lake output, read back as Parquet.
"""

from __future__ import annotations

import json

import duckdb
import mlflow
import numpy as np
import pandas as pd
import pytest

from barometer.settings import Settings
from data.simulator import write_export
from features import lake

from .conftest import assert_same_frames

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # minutes: `make test-spark`
CUTOFFS = ["2024-03-01", "2024-06-01", "2024-09-01", "2024-12-01"]
CLUSTER = "local-cluster[2,1,1024]"
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "1g",
}
FEATURE_KEYS = {
    "features_account": ["account_id", "cutoff"],
    "features_opportunity": ["opportunity_id", "cutoff", "snapshot"],
    "labels_churn": ["account_id", "cutoff"],
    "labels_deal_win": ["opportunity_id", "cutoff"],
    "features_rep": ["rep_id", "cutoff"],
    "labels_rep_attrition": ["rep_id", "cutoff"],
}
# Both outcomes present, so the comparison is not vacuous (this simulation has no departures by
# its last cutoff; the local-mode parity test plants some).
TWO_CLASS_LABELS = ("labels_churn", "labels_deal_win")


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text, the way a CRM export arrives (nulls stay null)."""
    out = {}
    for name, column in frame.items():
        if pd.api.types.is_datetime64_any_dtype(column):
            out[name] = column.dt.strftime("%Y-%m-%dT%H:%M:%S")
        else:
            out[name] = column.astype("object").map(lambda v: None if pd.isna(v) else str(v))
        out[name] = out[name].astype("object").where(column.notna(), None)
    return pd.DataFrame(out)


def planted(sim: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], int]:
    """The simulation with bad rows appended (as text tables); and how many were planted."""
    tables = dict(sim)
    acts = as_text(sim["activities"])
    row = acts.iloc[0]
    bad = [row.copy()]  # a duplicated id
    edits = [
        {"activity_id": "bad-date", "occurred_at": "2024-13-45"},
        {"activity_id": "bad-type", "type": "fax"},
        {"activity_id": "bad-range", "duration_s": "-5"},
        {"activity_id": "bad-number", "rating": "five"},
        {"activity_id": "bad-old", "occurred_at": "1800-01-01"},
        {"activity_id": "bad-orphan", "account_id": "ACC-NOPE"},
        {"activity_id": None},
    ]
    for edit in edits:
        changed = row.copy()
        for key, value in edit.items():
            changed[key] = value
        bad.append(changed)
    tables["activities"] = pd.concat([acts, pd.DataFrame(bad)], ignore_index=True)
    accounts = as_text(sim["accounts"])
    extra = accounts.iloc[[0, 1]].copy()
    extra.iloc[1, accounts.columns.get_loc("account_id")] = "ACC-BAD"
    extra.iloc[1, accounts.columns.get_loc("arr")] = "abc"
    tables["accounts"] = pd.concat([accounts, extra], ignore_index=True)
    return tables, len(bad) + len(extra)


@pytest.fixture(scope="module")
def runs(sim, tmp_path_factory):
    """Both routes on the same export; the Spark session is a local cluster for this module."""
    from pyspark.sql import SparkSession

    from barometer.model.store import ChampionProvider
    from barometer.scoring import job
    from barometer.scoring.lake_job import context_tables, score_lake
    from barometer.scoring.reasons import load_registry
    from features.build import build_all
    from features.ingest.run import ingest
    from features.label_config import ChurnLabels
    from features.lake_build import build_lake
    from features.lake_contract import validate_lake

    root = tmp_path_factory.mktemp("lake")
    tables, n_bad = planted(sim)
    write_export(sim, root / "export", fmt="parquet")
    for name in ("accounts", "activities"):  # text columns, as an export without types arrives
        tables[name].astype("string").to_parquet(root / "export" / f"{name}.parquet", index=False)
    duck = Settings(home=root / "duck")
    ingest(root / "export", duck, "canonical", None)
    build_all(duck, CUTOFFS, "duckdb", ChurnLabels(definition="explicit"))
    version = register_champion(duck)

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    spark_settings = Settings(
        home=root / "spark",
        lake=str(root / "export"),
        spark_master=CLUSTER,
        spark_conf=SPARK_CONF,
        mlflow_tracking_uri=duck.tracking_uri,
    )
    spark = lake.spark_session(spark_settings)
    try:
        report = validate_lake(spark_settings, spark)
        build_lake(spark_settings, CUTOFFS, ChurnLabels(definition="explicit"))
        result = score_lake(spark_settings, "churn", pd.Timestamp(CUTOFFS[-1]), spark=spark)
        job.run(
            duck,
            ChampionProvider(duck).load("churn"),
            pd.Timestamp(CUTOFFS[-1]).to_pydatetime(),
            registry=load_registry(),
        )
        with duckdb.connect(str(duck.warehouse_path), read_only=True) as con:
            duck_scores = con.execute("select * from scores where target = 'churn'").df()
        tables = context_tables(spark, spark_settings)
        context = {
            t: spark.sql(
                job.context_sql(t, tables, as_of=":as_of"), args={"as_of": CUTOFFS[-1]}
            ).toPandas()
            for t in ("churn", "deal_win")
        }
        yield {
            "duck": duck,
            "spark": spark_settings,
            "report": report,
            "n_bad": n_bad,
            "score": result,
            "duck_scores": duck_scores,
            "version": version,
            "context": context,
            "master": spark.sparkContext.master,
            "executors": spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size(),
        }
    finally:
        spark.stop()


def register_champion(settings: Settings) -> str:
    """A churn model fitted on the DuckDB features, logged, registered and made champion."""
    from barometer.model.store import CHAMPION, client, registered_name
    from training import lifecycle
    from training.config import ExperimentConfig
    from training.data import feature_kinds, load_frame
    from training.fit import fit_scoring_model

    config = ExperimentConfig.model_validate(
        {
            "target": "churn",
            "lightgbm": {"num_threads": 1, "max_rounds": 40, "min_data_in_leaf": 5},
            "bgnbd": {"enabled": False},
        }
    )
    frame = load_frame(settings, config)
    kinds = feature_kinds(config, list(frame.columns))
    last = frame["cutoff"] == frame["cutoff"].max()
    model = fit_scoring_model(frame[~last], frame[last], kinds, config)
    lifecycle.configure(settings)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, "churn")) as run:
        model.metadata["run_id"] = run.info.run_id
        uri = lifecycle.log_scoring_model(model, frame.head(20))
    info = lifecycle.register(settings, "churn", uri, {"run_id": run.info.run_id})
    client(settings).set_registered_model_alias(registered_name("churn"), CHAMPION, info.version)
    return info.version


def read_lake(settings: Settings, *parts: str) -> pd.DataFrame:
    """A lake table read back by DuckDB (hive partitions as columns)."""
    files = f"{lake.location(settings, *parts)}/**/*.parquet"
    return duckdb.sql(f"select * from read_parquet('{files}', hive_partitioning = true)").df()


def test_runs_on_separate_executor_processes(runs):
    assert runs["master"] == CLUSTER
    assert runs["executors"] == 3  # two executors and the driver's block manager


def test_rejects_and_accounting_equal_duckdb_ingest(runs):
    duck, spark = runs["duck"], runs["spark"]
    columns = ["table_name", "row_number", "field", "value", "reason"]
    with duckdb.connect(str(duck.warehouse_path), read_only=True) as con:
        expected = con.execute(f"select {', '.join(columns)} from rejects").df()
        log = con.execute("select table_name, rows_read, loaded, rejected from ingest_log").df()
    got = read_lake(spark, "contract", "rejects")[columns]
    order = ["table_name", "row_number"]
    expected = expected.sort_values(order).reset_index(drop=True)
    got = got.sort_values(order).reset_index(drop=True)
    assert len(got) == runs["n_bad"]  # every planted row, and nothing else
    pd.testing.assert_frame_equal(expected, got, check_dtype=False)
    mine = {t.table: (t.rows_read, t.loaded, t.rejected) for t in runs["report"].tables}
    for row in log.itertuples():
        assert mine[row.table_name] == (row.rows_read, row.loaded, row.rejected)
        assert row.rows_read == row.loaded + row.rejected


@pytest.mark.parametrize("name", list(FEATURE_KEYS))
def test_lake_tables_equal_duckdb(runs, name):
    with duckdb.connect(str(runs["duck"].warehouse_path), read_only=True) as con:
        expected = con.execute(f"select * from {name}").df()
    got = read_lake(runs["spark"], name)
    got["cutoff"] = pd.to_datetime(got["cutoff"]).astype(expected["cutoff"].dtype)
    if "label_time" in got:
        got["label_time"] = got["label_time"].astype(expected["label_time"].dtype)
    got = got[list(expected.columns)]
    keys = FEATURE_KEYS[name]
    expected = expected.sort_values(keys).reset_index(drop=True)
    got = got.sort_values(keys).reset_index(drop=True)
    if name in TWO_CLASS_LABELS:
        assert expected.label.nunique() == 2
    assert_same_frames(expected, got)


def test_scoring_context_equals_duckdb(runs):
    from barometer.scoring import job

    with duckdb.connect(str(runs["duck"].warehouse_path), read_only=True) as con:
        for target, got in runs["context"].items():
            expected = job.context_at(con, target, pd.Timestamp(CUTOFFS[-1]).to_pydatetime())
            key = "account_id" if target == "churn" else "opportunity_id"
            expected = nulls_as_none(expected.sort_values(key).reset_index(drop=True))
            got = nulls_as_none(got.sort_values(key).reset_index(drop=True))
            assert len(expected) > 0
            pd.testing.assert_frame_equal(expected, got, check_dtype=False)


def nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as objects with None for null (DuckDB and Spark fetch nulls differently)."""
    out = frame.copy()
    for name in out.columns:
        if not pd.api.types.is_numeric_dtype(out[name]):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def test_spark_udf_scores_equal_duckdb_job(runs):
    duck = runs["duck_scores"].sort_values("account_id").reset_index(drop=True)
    got = read_lake(runs["spark"], "scores").sort_values("entity_id").reset_index(drop=True)
    assert runs["score"].rows == len(got) == len(duck) > 0
    assert set(got["target"]) == {"churn"} and set(got["model_version"]) == {runs["version"]}
    assert set(pd.to_datetime(got["as_of"])) == {pd.Timestamp(CUTOFFS[-1])}
    assert list(got["entity_id"]) == list(duck["account_id"])
    np.testing.assert_allclose(got["probability"], duck["probability"], atol=1e-12)
    np.testing.assert_allclose(got["base_probability"], duck["base_probability"], atol=1e-12)
    assert list(got["band"]) == list(duck["band"])
    np.testing.assert_allclose(got["percentile"], duck["percentile"])
    for column in ("segment", "owner_rep_id", "team"):
        assert list(got[column].fillna("")) == list(duck[column].fillna("")), column
    np.testing.assert_allclose(got["value_at_risk"], duck["value_at_risk"], rtol=1e-12)
    assert got["reasons"].map(json.loads).map(len).gt(0).all()
    for mine, theirs in zip(got["reasons"], duck["reasons"], strict=True):
        assert same_reasons(json.loads(mine), json.loads(theirs))


def same_reasons(a: list[dict], b: list[dict]) -> bool:
    """Equal reasons; feature values equal up to summation order (the engines add in their own
    order, so a mean may differ in its last digit)."""
    if [r["feature"] for r in a] != [r["feature"] for r in b]:
        return False
    for x, y in zip(a, b, strict=True):
        if {k: v for k, v in x.items() if k != "value"} != {
            k: v for k, v in y.items() if k != "value"
        }:
            return False
        if isinstance(x["value"], float) and isinstance(y["value"], float):
            if not np.isclose(x["value"], y["value"], rtol=1e-12):
                return False
        elif x["value"] != y["value"]:
            return False
    return True
