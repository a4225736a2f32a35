"""The per-run index behind the account and deal pages: slices by key, in the pages' order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.dashboard import warehouse_reads
from serving.dashboard.warehouse_reads import KeyedRows


def test_rows_of_a_key_come_newest_first_limited_and_shown_for_a_page() -> None:
    cases = pd.DataFrame(
        {
            "account_id": ["B", "A", "A", "A", "B"],
            "opened_at": pd.to_datetime(
                ["2026-01-05", "2026-02-01", None, "2026-03-01", "2026-01-01"]
            ),
            "priority": ["low", "urgent", "normal", None, "low"],
            "first_contact_resolved": [True, False, np.nan, True, True],
        }
    )
    index = KeyedRows(cases, "account_id", "opened_at", newest_first=True)
    assert index.records("A", 2) == [
        {"opened_at": "2026-03-01", "priority": None, "first_contact_resolved": True},
        {"opened_at": "2026-02-01", "priority": "urgent", "first_contact_resolved": False},
    ]
    assert [r["opened_at"] for r in index.records("A")] == ["2026-03-01", "2026-02-01", None]
    assert [r["opened_at"] for r in index.records("B")] == ["2026-01-05", "2026-01-01"]
    assert index.records("C") == [] and index.rows("C").empty


def test_account_view_gives_history_oldest_first_and_each_tables_recent_rows() -> None:
    history = pd.DataFrame(
        {
            "entity_id": ["A1", "A2", "A1"],
            "as_of": pd.to_datetime(["2026-10-01", "2026-09-01", "2026-09-01"]),
            "probability": [0.4, 0.2, 0.3],
        }
    )
    nps = pd.DataFrame(
        {
            "account_id": ["A1"] * 12,
            "responded_at": pd.date_range("2025-01-01", periods=12, freq="MS"),
            "score": np.arange(12),
        }
    )
    index = {
        "history:churn": KeyedRows(history, "entity_id", "as_of"),
        "nps": KeyedRows(nps, "account_id", "responded_at", newest_first=True),
    }
    view = warehouse_reads.account_view(index, "A1")
    assert [f"{pd.Timestamp(t):%Y-%m-%d}" for t in view["history"]["as_of"]] == [
        "2026-09-01",
        "2026-10-01",
    ]
    assert list(view["history"]["probability"]) == [0.3, 0.4]
    assert [r["score"] for r in view["nps"]] == list(range(11, 1, -1))  # the latest RECENT
    assert view["activities"] == [] and view["cases"] == []  # tables the warehouse lacks


def test_deal_view_keeps_the_order_stages_were_entered() -> None:
    stages = pd.DataFrame(
        {
            "opportunity_id": ["O1", "O1", "O2", "O1"],
            "stage": ["Proposal", "Prospecting", "Prospecting", "Discovery"],
            "entered_at": pd.to_datetime(["2026-03-01", "2026-01-01", "2026-01-01", "2026-02-01"]),
        }
    )
    view = warehouse_reads.deal_view(
        {"stages": KeyedRows(stages, "opportunity_id", "entered_at")}, "O1"
    )
    assert list(view["stages"]["stage"]) == ["Prospecting", "Discovery", "Proposal"]
    assert view["history"] == {}


def test_models_page_readers_find_a_versions_reliability_and_backtest_in_mlflow(tmp_path) -> None:
    import mlflow

    from barometer.settings import Settings
    from serving.dashboard import mlflow_backtest, mlflow_reliability
    from training import lifecycle

    settings = Settings(home=tmp_path / "workspace", mlflow_tracking_uri=None)
    lifecycle.configure(settings)
    table = pd.DataFrame({"bin": [0, 5], "predicted": [0.05, 0.55], "observed": [0.1, 0.5]})
    folder = tmp_path / "report"
    folder.mkdir()
    table.to_csv(folder / "reliability.csv", index=False)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, "churn")) as run:
        mlflow.log_artifacts(str(folder), artifact_path="report")
    tags = {"run_id": run.info.run_id, "backtest_roc_auc_mean": "0.812", "backtest_id": "b1"}
    version = lifecycle.register(settings, "churn", f"runs:/{run.info.run_id}/report", tags)
    read = mlflow_reliability(settings)("churn", version.version)
    pd.testing.assert_frame_equal(read, table)
    assert mlflow_backtest(settings)("churn", version.version) == {"backtest_roc_auc_mean": 0.812}
    assert mlflow_reliability(settings)("churn", "99") is None  # no such version: page says so
