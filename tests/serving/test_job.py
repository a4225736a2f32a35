"""The scoring job: who is scored as of a date, history in `scores`, and the documented export."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from barometer.scoring import job
from barometer.settings import Settings
from features.warehouse import connect, replace_table

JUNE, JULY = datetime(2026, 6, 1), datetime(2026, 7, 1)


@pytest.fixture
def warehouse(tmp_path, models) -> Settings:
    settings = Settings(home=tmp_path / "ws")
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4"],
            "created_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2026-06-15", "2025-01-01"]),
            "segment": ["smb", "smb", "enterprise", "enterprise"],
            "owner_rep_id": ["r1", "r2", "r1", "r2"],
            "arr": [1000.0, 2000.0, 3000.0, 4000.0],
            # A2 churned before July; A4 churns on July 1st itself (still active as of July 1st).
            "churned_at": pd.to_datetime([None, "2026-06-20", None, "2026-07-01"]),
        }
    )
    reps = pd.DataFrame({"rep_id": ["r1", "r2"], "team": ["sales", "service"]})
    features = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A4"] * 2,
            "cutoff": [JUNE] * 3 + [JULY] * 3,
            "days_since_last_call": [5.0, 50.0, 30.0, 40.0, 60.0, 2.0],
            "open_cases": [0.0, 3.0, 1.0, 2.0, 4.0, 0.0],
            "segment": ["smb", "smb", "enterprise"] * 2,
        }
    )
    with connect(settings.warehouse_path) as con:
        replace_table(con, "accounts", accounts)
        replace_table(con, "reps", reps)
        replace_table(con, "features_account", features)
    return settings


def test_scores_active_accounts_keeps_history_and_exports(warehouse, models, tmp_path) -> None:
    loaded = models["churn"]
    june = job.run(warehouse, loaded, JUNE)
    out = tmp_path / "out" / "churn.csv"
    july = job.run(warehouse, loaded, JULY, out)
    assert (june.rows, july.rows) == (3, 2)  # A2 churned in June; A3 was created after July 1st
    csv = pd.read_csv(out)
    assert list(csv.columns[:5]) == [
        "account_id",
        "as_of",
        "probability",
        "model_version",
        "reasons",
    ]
    assert sorted(csv["account_id"]) == ["A1", "A4"]
    row = csv.set_index("account_id").loc["A1"]
    july_features = pd.DataFrame(
        {"days_since_last_call": [40.0], "open_cases": [2.0], "segment": ["smb"]}
    )
    assert row["probability"] == pytest.approx(loaded.model.predict_proba(july_features)[0])
    assert row["team"] == "sales" and row["value"] == 1000.0
    assert row["value_at_risk"] == pytest.approx(1000.0 * row["probability"])
    with connect(warehouse.warehouse_path, read_only=True) as con:
        counts = con.execute(
            "select entity_id, count(*) from scores group by 1 order by 1"
        ).fetchall()
    assert counts == [("A1", 2), ("A2", 1), ("A4", 2)]


def test_rescoring_the_same_date_replaces_that_run(warehouse, models) -> None:
    job.run(warehouse, models["churn"], JULY)
    job.run(warehouse, models["churn"], JULY)
    with connect(warehouse.warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from scores").fetchone()[0] == 2


def test_default_as_of_is_the_latest_cutoff_and_parquet_export(warehouse, models, tmp_path):
    result = job.run(warehouse, models["churn"], out=tmp_path / "s.parquet")
    assert result.as_of == JULY
    assert pd.read_parquet(tmp_path / "s.parquet").columns[0] == "account_id"


def test_missing_cutoff_and_bad_extension_are_clear_errors(warehouse, models, tmp_path):
    with pytest.raises(LookupError, match="no rows at 2026-08-01.*barometer features --as-of"):
        job.run(warehouse, models["churn"], datetime(2026, 8, 1))
    with pytest.raises(ValueError, match="use a .csv or .parquet"):
        job.run(warehouse, models["churn"], JULY, tmp_path / "scores.xlsx")
    assert not list(tmp_path.glob("scores*"))
