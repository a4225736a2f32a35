"""What `/v1/models` reports for a champion read from the MLflow registry."""

from __future__ import annotations

from barometer.model.store import VersionInfo, _metrics_of, backtest_metrics


def registered(tags: dict[str, str]) -> VersionInfo:
    """What `model_store.load_champion` returns beside the model."""
    return VersionInfo("barometer-churn", "3", "run-1", tags)


def test_a_registered_version_reports_its_numeric_backtest_tags() -> None:
    version = registered(
        {"backtest_roc_auc_mean": "0.81", "backtest_id": "abc", "backtest_note": "n/a", "x": "1"}
    )
    assert _metrics_of(version) == {"backtest_roc_auc_mean": 0.81}


def test_explicit_metrics_win_over_tags() -> None:
    info = {"version": "2", "metrics": {"roc_auc": 0.7}, "tags": {"backtest_roc_auc_mean": "0.9"}}
    assert _metrics_of(info) == {"roc_auc": 0.7}


def test_backtest_metrics_skip_ids_and_text() -> None:
    tags = {"backtest_roc_auc_mean": "0.81", "backtest_id": "7", "backtest_folds": "three"}
    assert backtest_metrics(tags) == {"backtest_roc_auc_mean": 0.81}
