"""Validation in the lake (`barometer ingest-lake`) and Spark settings, in local mode.

Known answers on the hand-made tables with planted bad rows: each bad row is rejected for its
first failing check, naming file, row and field; the good rows load; rows read = loaded +
rejected; a failed run replaces nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from barometer.settings import Settings
from features import lake
from features.lake_contract import LakeError, validate_lake

pytestmark = pytest.mark.spark
SPARK = {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"}


def text_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text (nulls kept), as an untyped export arrives."""
    out = frame.astype("object").map(lambda v: None if pd.isna(v) else str(v))
    return out.astype("string")


@pytest.fixture
def raw_lake(toy, tmp_path) -> Path:
    """The toy tables as a lake folder: typed Parquet, except text `activities` with bad rows
    appended (rows 11-16 of its file)."""
    root = tmp_path / "raw"
    acts = text_table(toy["activities"])
    template = acts.iloc[0].to_dict()
    bad = [
        {"activity_id": "x1"},  # 11: duplicated id (x1 is row 1)
        {"activity_id": "b2", "occurred_at": "yesterday"},  # 12: bad date
        {"activity_id": "b3", "type": "Fax"},  # 13: unknown enum (after lower-casing)
        {"activity_id": "b4", "duration_s": "-1", "rating": "9"},  # 14: first failure: duration
        {"activity_id": "b5", "account_id": "nobody"},  # 15: orphan account
        {"activity_id": "b6", "account_id": None},  # 16: missing required field
    ]
    rows = [template | change for change in bad]
    frames = dict(toy) | {"activities": pd.concat([acts, pd.DataFrame(rows)], ignore_index=True)}
    for name, frame in frames.items():
        (root / name).mkdir(parents=True)
        frame.to_parquet(root / name / "part-0.parquet", index=False)
    return root


def settings_for(tmp_path: Path, raw: Path) -> Settings:
    return Settings(home=tmp_path / "ws", lake=str(raw), spark_master="local[2]", spark_conf=SPARK)


def test_bad_rows_are_rejected_and_counted(raw_lake, tmp_path):
    settings = settings_for(tmp_path, raw_lake)
    report = validate_lake(settings)
    counts = {t.table: (t.rows_read, t.loaded, t.rejected) for t in report.tables}
    assert counts["activities"] == (16, 10, 6)
    assert counts["accounts"] == (3, 3, 0) and "churn_events" in report.skipped
    files = f"{lake.location(settings, 'contract', 'rejects')}/**/*.parquet"
    rejects = duckdb.sql(f"select * from read_parquet('{files}', hive_partitioning=true)").df()
    got = rejects.sort_values("row_number")[["row_number", "field", "value", "reason"]]
    got["value"] = got["value"].astype(object).where(got["value"].notna(), None)
    assert got.values.tolist() == [
        [11, "activity_id", "x1", "duplicated id in file (first at row 1)"],
        [12, "occurred_at", "yesterday", "bad date (expected ISO 8601, e.g. 2025-03-04T10:00:00Z)"],
        [
            13,
            "type",
            "Fax",
            "unknown enum value (allowed: call / email / meeting / demo / note / task / "
            "purchase / usage / other)",
        ],
        [14, "duration_s", "-1", "out of range [0..2,592,000]"],
        [15, "account_id", "nobody", "orphan: no accounts.account_id with this value"],
        [16, "account_id", None, "missing required field"],
    ]
    assert rejects["file"].str.endswith("activities/part-0.parquet").all()
    assert set(rejects["table_name"]) == {"activities"}
    loaded = duckdb.sql(
        f"select * from read_parquet('{lake.location(settings, 'contract', 'activities')}"
        "/**/*.parquet', hive_partitioning=true)"
    ).df()
    assert sorted(loaded["activity_id"]) == sorted(f"x{i}" for i in range(1, 11))
    assert str(loaded["occurred_at"].dtype).startswith("datetime64")  # naive UTC, typed
    assert loaded["occurred_at"].dt.tz is None
    assert set(loaded["month"]) == {"2024-01", "2024-02"}  # partitioned by month


def test_a_failed_run_replaces_nothing(raw_lake, tmp_path, monkeypatch):
    from features import lake_contract

    settings = settings_for(tmp_path, raw_lake)
    validate_lake(settings)
    contract = Path(lake.location(settings, "contract"))
    before = sorted(p.relative_to(contract) for p in contract.rglob("*.parquet"))
    original = lake_contract.write_validated

    def failing(frame, table, loaded, staged, now):
        if table.name == "activities":
            raise RuntimeError("killed")
        return original(frame, table, loaded, staged, now)

    monkeypatch.setattr(lake_contract, "write_validated", failing)
    with pytest.raises(RuntimeError, match="killed"):
        validate_lake(settings)
    assert sorted(p.relative_to(contract) for p in contract.rglob("*.parquet")) == before
    assert [p.name for p in contract.parent.iterdir() if p.name.startswith(".")] == []


def test_missing_mandatory_table_or_required_column(raw_lake, tmp_path):
    import shutil

    settings = settings_for(tmp_path, raw_lake)
    frame = pd.read_parquet(raw_lake / "accounts" / "part-0.parquet").drop(columns="created_at")
    frame.to_parquet(raw_lake / "accounts" / "part-0.parquet", index=False)
    with pytest.raises(LakeError, match="'accounts': required column.*created_at"):
        validate_lake(settings)
    shutil.rmtree(raw_lake / "activities")
    with pytest.raises(LakeError, match="mandatory contract tables missing.*activities"):
        validate_lake(settings)


def test_settings_read_spark_json_from_the_environment(monkeypatch):
    monkeypatch.setenv("BAROMETER_SPARK_CONF", '{"spark.executor.memory": "8g"}')
    monkeypatch.setenv("BAROMETER_LAKE_TABLES", '{"activities": "crm.activities"}')
    monkeypatch.setenv("BAROMETER_LAKE", "s3a://bucket/crm")
    settings = Settings()
    assert settings.spark_conf == {"spark.executor.memory": "8g"}
    assert settings.lake_tables == {"activities": "crm.activities"}
    assert settings.lake_output == str((settings.home / "lake").resolve())


@pytest.mark.parametrize(
    ("ours", "expected"),
    [(None, "local[1]"), ("local[2]", "local[2]")],
    ids=["launcher-decides", "setting-wins"],
)
def test_master_from_settings_else_from_the_launcher(tmp_path, ours, expected):
    """Unset, the master is what launches Python says (here PYSPARK_SUBMIT_ARGS, as
    spark-submit would); `BAROMETER_SPARK_MASTER` wins. Each case starts its own JVM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAROMETER_")}
    env["PYSPARK_SUBMIT_ARGS"] = "--master local[1] pyspark-shell"
    env["BAROMETER_SPARK_CONF"] = (
        '{"spark.sql.shuffle.partitions": "3", "spark.ui.enabled": "false"}'
    )
    if ours:
        env["BAROMETER_SPARK_MASTER"] = ours
    code = (
        "from barometer.settings import Settings; from features.backends import spark_session; "
        "s = spark_session(Settings()); c = s.sparkContext; "
        "print(c.master, s.conf.get('spark.sql.shuffle.partitions'), "
        "s.conf.get('spark.sql.session.timeZone'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == [expected, "3", "UTC"]


def test_catalogue_tables_through_the_command(raw_lake, tmp_path, monkeypatch):
    """`BAROMETER_LAKE_TABLES` names catalogue tables (here temporary views) instead of folders;
    `barometer ingest-lake` validates them and exits 1 above the reject threshold."""
    from typer.testing import CliRunner

    from barometer.cli import app
    from barometer.settings import get_settings
    from features.backends import spark_session

    spark = spark_session(settings_for(tmp_path, raw_lake))
    names = {}
    for folder in raw_lake.iterdir():
        names[folder.name] = f"crm_{folder.name}"
        spark.read.parquet(str(folder)).createOrReplaceTempView(names[folder.name])
    monkeypatch.setenv("BAROMETER_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("BAROMETER_LAKE_TABLES", json.dumps(names))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ingest-lake"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output  # 6 of 16 activities rejected: above 5%
    assert "crm_activities" in result.output and "['activities']" in result.output
    log = duckdb.sql(
        f"select table_name, rows_read, loaded, rejected from read_parquet("
        f"'{tmp_path / 'ws' / 'lake' / 'contract' / 'ingest_log'}/*.parquet')"
    ).df()
    counts = {r.table_name: (r.rows_read, r.loaded, r.rejected) for r in log.itertuples()}
    assert counts["activities"] == (16, 10, 6) and counts["reps"] == (2, 2, 0)
