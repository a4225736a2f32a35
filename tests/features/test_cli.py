"""`barometer features`: --list prints the registry; a build writes tables, Parquet, a summary."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.cli import app
from barometer.settings import get_settings
from features.backends import normalise_tables
from features.build import build_all
from features.label_config import ChurnLabels
from features.registry import REGISTRY, feature_names
from features.warehouse import connect, replace_table

from .conftest import assert_same_frames

runner = CliRunner()


def _warehouse(settings, tables) -> None:
    settings.ensure_home()
    with connect(settings.warehouse_path) as con:
        for name, frame in normalise_tables(tables).items():
            replace_table(con, name, frame)


def test_list_prints_every_feature():
    result = runner.invoke(app, ["features", "--list", "--markdown"])
    assert result.exit_code == 0
    assert all(f"`{f.name}`" in result.output for f in REGISTRY)


def test_build_all_writes_tables_and_parquet(settings, toy):
    _warehouse(settings, toy)
    report = build_all(settings, as_of=["2024-02-01", "2024-03-01"])
    assert report.rows["features_account"] == 3
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        account = con.execute("select * from features_account order by account_id, cutoff").df()
        types = {r[0]: r[1] for r in con.execute("describe features_account").fetchall()}
        churn = con.execute("select * from labels_churn").df()
    assert list(account.columns) == ["account_id", "cutoff", *feature_names("account")]
    assert types["cutoff"] == "TIMESTAMP"
    assert list(churn.columns) == ["account_id", "cutoff", "label", "label_time"]
    parquet = pd.read_parquet(settings.features_dir / "features_opportunity.parquet")
    assert {"opportunity_id", "account_id", "cutoff", "snapshot"} <= set(parquet.columns)


def test_command_prints_summary(settings, toy, monkeypatch):
    _warehouse(settings, toy)
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["features", "--as-of", "2024-02-01"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "features_account: 2 rows, 59 features" in result.output
    assert "features_rep: 2 rows, 7 features" in result.output
    assert "null rate" in result.output and "touches_per_week_30d" in result.output


def test_command_without_warehouse_fails_clearly(settings, monkeypatch):
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["features"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "run `barometer ingest` first" in result.output


@pytest.mark.spark
def test_spark_engine_on_the_workspace_gives_the_duckdb_tables(settings, toy, monkeypatch):
    """Without a lake, `--engine spark` exports the warehouse to the lake layout, builds there
    and loads the tables back: the warehouse then holds what a DuckDB build writes."""
    _warehouse(settings, toy)
    cutoffs = ["2024-02-01", "2024-03-01"]
    churn = ChurnLabels(definition="explicit", horizon_days=10)  # labels known by the end
    build_all(settings, as_of=cutoffs, churn=churn)
    names = ("features_account", "features_opportunity", "labels_churn", "labels_deal_win")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        duck = {n: con.execute(f"select * from {n}").df() for n in names}
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    monkeypatch.setenv("BAROMETER_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("BAROMETER_SPARK_CONF", '{"spark.sql.shuffle.partitions": "2"}')
    get_settings.cache_clear()
    try:
        args = ["features", "--engine", "spark", "--as-of", cutoffs[0], "--as-of", cutoffs[1]]
        args += ["--churn-definition", "explicit", "--horizon-days", "10"]
        result = runner.invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "features_account: 3 rows" in result.output
    lake = settings.home.resolve() / "lake"
    assert (lake / "contract" / "activities" / "month=2024-01").is_dir()
    assert (lake / "features_account" / "cutoff=2024-03-01").is_dir()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for name in names:
            spark = con.execute(f"select * from {name}").df()
            keys = [c for c in ("opportunity_id", "account_id", "cutoff", "snapshot") if c in spark]
            expected = duck[name].sort_values(keys).reset_index(drop=True)
            got = spark.sort_values(keys).reset_index(drop=True)
            assert list(got.columns) == list(expected.columns), name
            assert_same_frames(expected, got)
