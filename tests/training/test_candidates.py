"""A user always gets the best honest model: when a baseline that is a real model wins the
backtest, it is registered and lives the same life as LightGBM (pyfunc, registry, promotion,
champion loading, batch scoring, additive reasons)."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from barometer.model.store import ChampionProvider
from barometer.scoring import job
from barometer.scoring.reasons import load_registry
from tests.training.conftest import simulated_workspace
from training.lifecycle import promote
from training.runs import resolve_config, train_target


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """The issue's example: a 600-account company (simulated, seed 7, 30 months)."""
    settings = simulated_workspace(tmp_path_factory.mktemp("company"), 600)
    return settings, train_target(settings, resolve_config("deal_win", None))


def test_a_600_account_company_gets_the_logistic_deal_model_registered(company) -> None:
    """Measured (seed 7): logistic 0.813 against LightGBM 0.786 backtest ROC AUC over 3 folds;
    before, the LightGBM-only guard refused and the company had no deal scores."""
    _, result = company
    summary = result.summary
    assert result.winner == "logistic" and result.version is not None
    assert summary.loc["logistic", "roc_auc_mean"] > summary.loc["lightgbm", "roc_auc_mean"]
    assert result.choice.runner_up == "lightgbm" and result.choice.margin > 0
    assert result.version.tags["model_kind"] == "logistic"
    assert float(result.version.tags["backtest_roc_auc_mean"]) == pytest.approx(
        summary.loc["logistic", "roc_auc_mean"], abs=1e-6
    )
    run = mlflow.get_run(result.run_id)
    assert run.data.params["model_kind"] == "logistic"
    assert run.data.tags["choice"].startswith("logistic won with backtest ROC AUC")
    assert run.data.metrics["backtest.winner_auc_margin"] == pytest.approx(result.choice.margin)


def test_the_registered_logistic_model_is_promoted_loaded_scored_and_explained(company) -> None:
    settings, result = company
    assert promote(settings, "deal_win", metric="roc_auc", margin=0.0).promoted
    loaded = ChampionProvider(settings).load("deal_win")
    assert loaded.model.kind == "logistic" and loaded.model.booster is None
    assert loaded.metrics["backtest_roc_auc_mean"] > 0.7
    scored = job.run(settings, loaded, registry=load_registry())
    assert scored.rows > 0
    # The champion is exactly the model the backtest measured, and its reasons add up.
    frame = result.final.predictions.index
    test_rows = _frame(settings).loc[frame].head(200)
    explanation = loaded.model.explain(test_rows)
    np.testing.assert_allclose(
        explanation.probability, result.model.predict_proba(test_rows), atol=1e-12
    )
    total = explanation.base_probability + explanation.points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, explanation.probability, atol=1e-12)
    # The MLflow pyfunc serves the same kind with the same contract.
    pyfunc = mlflow.pyfunc.load_model("models:/barometer-deal-win@champion")
    out = pyfunc.predict(test_rows)
    np.testing.assert_allclose(out["probability"], explanation.probability, atol=1e-12)
    contrib = out.filter(like="contrib__").sum(axis=1) + out["base_probability"]
    np.testing.assert_allclose(contrib, out["probability"], atol=1e-9)


def _frame(settings) -> pd.DataFrame:
    from training.data import load_frame

    return load_frame(settings, resolve_config("deal_win", None))


def test_evaluate_rebacktests_the_registered_kind_on_the_same_folds(company) -> None:
    """`barometer evaluate` re-runs the version's own kind, so promotion compares like with like."""
    from barometer.model.store import client
    from training.runs import evaluate_version

    settings, result = company
    version, summary = evaluate_version(settings, "deal_win", result.version.version)
    assert list(summary.index) == ["logistic", "base_rate", "recency_frequency"]
    assert summary.loc["logistic", "roc_auc_mean"] == pytest.approx(
        result.summary.loc["logistic", "roc_auc_mean"], abs=1e-9
    )
    tags = client(settings).get_model_version("barometer-deal-win", version).tags
    assert tags["backtest_id"] == result.version.tags["backtest_id"]
    assert tags["beats_baselines"] == "true"
