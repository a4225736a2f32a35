"""MLflow lifecycle: train → register → promote → load by alias → same predictions; refusals."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from barometer.model.store import champion_version, client, load_champion
from barometer.settings import Settings
from training import lifecycle
from training.lifecycle import promote
from training.pipeline import run_training

from .conftest import KINDS, make_panel, small_config


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, panel: pd.DataFrame):
    settings = Settings(home=tmp_path_factory.mktemp("lifecycle") / "workspace")
    first = run_training(panel, KINDS, small_config(), settings)
    return settings, first


def test_round_trip_by_alias_gives_the_same_predictions(workspace, panel) -> None:
    settings, first = workspace
    assert first.version is not None and first.version.version == "1"
    assert champion_version(settings, "churn") is None
    outcome = promote(settings, "churn", metric="roc_auc", margin=0.0)
    assert outcome.promoted and outcome.champion_before is None
    model, info = load_champion(settings, "churn")
    assert info.version == "1" and info.tags["beats_baselines"] == "true"
    rows = panel.tail(300)
    np.testing.assert_array_equal(model.predict_proba(rows), first.final.model.predict_proba(rows))
    pyfunc = mlflow.pyfunc.load_model("models:/barometer-churn@champion")
    out = pyfunc.predict(rows)
    np.testing.assert_allclose(out["probability"], model.predict_proba(rows), atol=1e-12)
    contrib = out.filter(like="contrib__").sum(axis=1) + out["base_probability"]
    np.testing.assert_allclose(contrib, out["probability"], atol=1e-9)
    assert (out["model_run_id"] == info.run_id).all()  # every score names its model


def test_run_logs_metrics_plots_and_provenance(workspace) -> None:
    settings, first = workspace
    run = client(settings).get_run(first.run_id)
    assert (
        run.data.metrics["backtest.roc_auc_mean"]
        > run.data.metrics["candidate.logistic.roc_auc_mean"]
    )
    assert {"test.ece", "test.value_capture_top10", "backtest.roc_auc_std"} <= set(run.data.metrics)
    assert len(run.data.tags["data_snapshot"]) == 16
    names = {a.path for a in client(settings).list_artifacts(first.run_id, "report")}
    for plot in ("roc", "pr", "reliability", "lift", "learning_curve", "shap_summary"):
        assert f"report/{plot}.png" in names
    assert "report/features.json" in names and "report/config.json" in names


def test_promotion_refuses_a_candidate_that_does_not_win_and_force_is_recorded(
    workspace, panel
) -> None:
    settings, _ = workspace
    if champion_version(settings, "churn") is None:
        promote(settings, "churn", metric="roc_auc", margin=0.0)
    second = run_training(panel, KINDS, small_config(), settings)  # same data, same backtest
    assert second.version.version == "2"
    refused = promote(settings, "churn", metric="roc_auc", margin=0.01)
    assert not refused.promoted and "does not exceed the margin 0.0100" in refused.reasons[0]
    assert champion_version(settings, "churn").version == "1"
    forced = promote(settings, "churn", metric="roc_auc", margin=0.01, force=True)
    assert forced.promoted and forced.forced
    champion = champion_version(settings, "churn")
    assert champion.version == "2" and champion.tags["promotion_forced"] == "true"
    assert "does not exceed the margin" in champion.tags["forced_over"]


def test_a_model_that_does_not_beat_the_baselines_is_logged_not_registered(workspace) -> None:
    settings, _ = workspace
    # Pure noise clears a 95% guard by chance about once in 40 panels per candidate (seed 9's
    # LightGBM does, at 0.503); this panel is one of the many that do not.
    noise = make_panel(n_entities=300, seed=1, signal=0.0)
    before = len(client(settings).search_model_versions("name = 'barometer-churn'"))
    result = run_training(noise, KINDS, small_config(), settings)
    assert result.version is None and result.refusals
    after = len(client(settings).search_model_versions("name = 'barometer-churn'"))
    assert after == before
    assert "logistic" in client(settings).get_run(result.run_id).data.tags["refused"]


def test_promote_command_prints_why_it_refuses(workspace, monkeypatch) -> None:
    from typer.testing import CliRunner

    from barometer.cli import app
    from barometer.settings import get_settings

    settings, _ = workspace
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["promote", "--target", "churn", "--version", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "refused to promote v1" in result.output and "margin" in result.output


def test_promotion_puts_the_champion_on_disk_and_refuses_a_version_nothing_could_serve(
    workspace,
) -> None:
    """Last in the module: it registers a version the other tests do not expect."""
    settings, first = workspace
    if champion_version(settings, "churn") is None:
        promote(settings, "churn", metric="roc_auc", margin=0.0)
    champion = champion_version(settings, "churn")
    # Downloaded at promotion: readers load it from the workspace without importing MLflow.
    assert (settings.home / "models" / champion.name / champion.version / "model.json").is_file()
    mc = client(settings)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, "churn")) as run:
        mlflow.log_dict({"note": "no model here"}, "empty/note.json")
    tags = champion.tags | {"backtest_roc_auc_mean": "0.99"}  # would win on its metrics
    empty = mc.create_model_version(
        champion.name, f"runs:/{run.info.run_id}/empty", run_id=run.info.run_id, tags=tags
    ).version
    refused = promote(settings, "churn", metric="roc_auc", margin=0.0, version=str(empty))
    assert not refused.promoted and "has no artifacts/scoring_model artefact" in refused.reasons[0]
    assert champion_version(settings, "churn").version == champion.version  # unmoved


def test_promote_with_no_version_says_train_registers_only_a_model_that_beats_the_base_rate(
    tmp_path,
) -> None:
    """On data with no signal (Maven's deals) `train` refuses and registers nothing; `promote`
    then must not tell a user who just ran `train` to run it, as if it had not been run."""
    settings = Settings(home=tmp_path)
    settings.ensure_home()
    with pytest.raises(LookupError) as refused:
        promote(settings, "deal_win", metric="roc_auc", margin=0.0)
    words = str(refused.value)
    assert words.startswith("No registered versions of barometer-deal-win: ")
    assert "`barometer train --target deal_win`" in words
    assert "only when a model beats the base rate" in words
