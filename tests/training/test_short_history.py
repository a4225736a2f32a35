"""Training sizes itself to the history it has: the simulator at 9, 12, 18 and 24 months trains
and registers both models with the shipped configs, and each run says how it split the history.

1,000 accounts (seed 7): the simulator's churn starts in month 3, so nine months hold about 30
churned accounts per thousand; at a few hundred accounts the short histories have too few
churners for any model to beat the base rate, and training honestly refuses (see the report).
"""

from __future__ import annotations

import mlflow
import pytest
from typer.testing import CliRunner

from barometer.cli import app
from barometer.settings import Settings, get_settings
from features.build import build_all
from features.ingest.run import ingest
from training.runs import resolve_config, train_target

ACCOUNTS = 1000
EXPECTED = {  # months: (cutoff frequency, the plan's words)
    9: ("W-MON", "17 labelled weekly cutoffs: 1 backtest fold"),
    12: ("SMS", "14 labelled semi-monthly cutoffs: 1 backtest fold"),
    18: ("MS", "13 labelled monthly cutoffs: 1 backtest fold"),
    24: ("MS", "19 labelled monthly cutoffs: 3 backtest folds"),
}


@pytest.fixture(scope="module")
def tracking(tmp_path_factory) -> str:
    """One MLflow store for the module (each new store first runs its schema migrations)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def workspace(root, months: int, tracking: str) -> Settings:
    from data.simulator import simulate, write_export

    settings = Settings(home=root / "workspace").model_copy(
        update={"mlflow_tracking_uri": tracking}
    )
    write_export(simulate(ACCOUNTS, seed=7, months=months), root / "export", fmt="parquet")
    ingest(root / "export", settings, "canonical", None)
    return settings


@pytest.mark.parametrize("months", [9, 18, 24])
def test_history_trains_and_registers_both_models(months, tracking, tmp_path) -> None:
    settings = workspace(tmp_path, months, tracking)
    report = build_all(settings)
    frequency, words = EXPECTED[months]
    assert report.meta["cutoff_frequency"] == frequency
    for target in ("churn", "deal_win"):
        result = train_target(settings, resolve_config(target, None))
        assert result.version is not None, f"{months} months, {target}: {result.refusals}"
        plan = result.plan
        if target == "churn":
            assert plan.words().startswith(words)
        tags = result.version.tags
        assert tags["backtest_folds"] == str(plan.folds) and plan.folds >= 1
        assert tags["model_kind"] == result.winner and tags["cutoff_frequency"] == frequency
        run = mlflow.get_run(result.run_id)
        assert run.data.params["backtest.folds"] == str(plan.folds)
        assert run.data.params["cutoff_frequency"] == frequency
        low, high = result.ci
        assert 0.5 < low < high < 1 and high - low < 0.3  # a real interval, above chance


def test_the_command_line_says_how_the_history_was_used(tracking, tmp_path, monkeypatch) -> None:
    """12 months, through `barometer features` and `barometer train` as a user runs them."""
    settings = workspace(tmp_path, 12, tracking)
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        built = runner.invoke(app, ["features"])
        trained = {t: runner.invoke(app, ["train", "--target", t]) for t in ("churn", "deal_win")}
    finally:
        get_settings.cache_clear()
    assert built.exit_code == 0, built.output
    assert "cutoffs: SMS (12 months of activity" in built.output
    assert "churn = explicit" in built.output and "auto: churn dates were ingested" in built.output
    churn = trained["churn"]
    assert churn.exit_code == 0, churn.output
    assert EXPECTED[12][1] in churn.output
    assert "estimate: " in churn.output and "95% CI ±" in churn.output
    assert (
        "won with backtest ROC AUC" in churn.output
        and "registered barometer-churn/" in churn.output
    )
    assert trained["deal_win"].exit_code == 0, trained["deal_win"].output
    assert "registered barometer-deal-win/" in trained["deal_win"].output
