"""`barometer monitor` on a small workspace with known answers: one row per check per day, reruns
that replace, a failed write that leaves the previous rows, the MLflow monitoring run, the
thresholds of the experiment config, realised performance from the churn definition and from
closed deals, and a signal that a new champion clears.

The workspace: 400 accounts scored on 2026-06-01 and 2026-09-01 by a registered churn champion
whose reference is the 2026-06-01 population; on 2026-09-01 `days_since_last_touch` runs longer
(the drift). Churn dates are drawn from the served probabilities themselves, so realised
calibration must come out within its noise.
"""

from __future__ import annotations

import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from barometer.model import monitoring
from barometer.scoring.history import append_scores
from barometer.scoring.scores import score_rows
from barometer.settings import Settings
from features.backends import normalise_frame
from features.build import meta_frame
from features.warehouse import connect, replace_table
from tests.serving.conftest import train
from training.config import ExperimentConfig, default_config_path, load_config

N = 400
DAYS = (pd.Timestamp("2026-06-01"), pd.Timestamp("2026-09-01"))
KINDS = {"days_since_last_touch": "numeric", "open_cases": "numeric", "segment": "categorical"}
BACKTEST = {"roc_auc_mean": 0.62, "roc_auc_std": 0.02, "brier_mean": 0.2, "brier_std": 0.01}
CHURN = {
    "definition": "explicit",
    "horizon_days": 90,
    "inactive_days": 60,
    "activity_types": ["call"],
    "chosen_because": "test",
}


def features_on(day: pd.Timestamp, silence: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(N)],
            "cutoff": day,
            "days_since_last_touch": rng.exponential(silence, N).round(1),
            "open_cases": rng.poisson(1.5, N).astype(float),
            "segment": rng.choice(["smb", "mid_market", "enterprise"], N),
        }
    )


def register(
    settings: Settings, model, reference_rows: pd.DataFrame, version_tags: dict, champion=True
) -> str:
    """Log a run holding the model and its monitoring reference, and register it as training
    does (as champion unless told)."""
    import mlflow

    from barometer.model.store import CHAMPION, client
    from training import lifecycle
    from training.reference import build_reference, log_reference

    lifecycle.configure(settings)
    p = model.predict_proba(reference_rows)
    reference = build_reference(reference_rows, p, model, KINDS, BACKTEST, (0.6, 0.64))
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, "churn")) as run:
        log_reference(reference)
        model_uri = lifecycle.log_scoring_model(model, reference_rows.head(5))
    tags = version_tags | {"run_id": run.info.run_id}
    info = lifecycle.register(settings, "churn", model_uri, tags)
    if champion:
        client(settings).set_registered_model_alias(info.name, CHAMPION, info.version)
    return info.version


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The workspace, built once; each test works on a copy (`workspace`)."""
    settings = Settings(home=tmp_path_factory.mktemp("monitor") / "workspace")
    settings.ensure_home()
    model = train("churn", 1)
    rng = np.random.default_rng(3)
    frames = [features_on(DAYS[0], 20, 11), features_on(DAYS[1], 45, 12)]
    churned = pd.Series(pd.NaT, index=range(N), dtype="datetime64[ns]")
    with connect(settings.warehouse_path) as con:
        for i, (day, rows) in enumerate(zip(DAYS, frames, strict=True)):
            alive = churned.isna().to_numpy()
            frames[i] = rows = rows[alive].reset_index(drop=True)
            context = pd.DataFrame({"segment": rows["segment"], "value": 1000.0})
            scored, _, _ = score_rows(model, "1", rows, context, as_of=day, scored_at=day)
            append_scores(con, scored)
            # Churn within the horizon, drawn from the probability served (known answer).
            hit = rng.random(len(rows)) < scored["probability"].to_numpy()
            when = day + pd.to_timedelta(rng.uniform(0, 89, len(rows)), unit="D")
            churned[np.flatnonzero(alive)[hit]] = when[hit].round("s")
        replace_table(con, "features_account", pd.concat(frames, ignore_index=True))
        accounts = pd.DataFrame(
            {
                "account_id": [f"A{i:04d}" for i in range(N)],
                "created_at": pd.Timestamp("2025-01-01"),
                "churned_at": churned,
            }
        )
        activities = pd.DataFrame(
            {
                "activity_id": [f"X{i}" for i in range(N)],
                "account_id": accounts["account_id"],
                "occurred_at": pd.Timestamp("2027-01-15"),
                "type": "call",
            }
        )
        replace_table(con, "accounts", normalise_frame("accounts", accounts))
        replace_table(con, "activities", normalise_frame("activities", activities))
        replace_table(con, "build_meta", meta_frame({"churn": CHURN}))
    tags = {f"backtest_{k}": str(v) for k, v in BACKTEST.items()}
    tags |= {"backtest_roc_auc_ci_low": "0.6", "backtest_roc_auc_ci_high": "0.64"}
    tags |= {"backtest_id": "bt1", "beats_baselines": "true"}
    version = register(settings, model, frames[0], tags)
    return settings, model, frames, version


@pytest.fixture
def workspace(built, tmp_path):
    """A copy of the built workspace (its warehouse and MLflow store) for one test."""
    settings, model, frames, version = built
    home = tmp_path / "workspace"
    shutil.copytree(settings.home, home)
    return Settings(home=home, mlflow_tracking_uri=None), model, frames, version


def shipped() -> ExperimentConfig:
    return load_config(default_config_path("churn"))


def rows(settings: Settings) -> pd.DataFrame:
    with connect(settings.warehouse_path, read_only=True) as con:
        return monitoring.read_rows(con, "churn")


def test_one_row_per_check_per_day_and_a_rerun_replaces_them(workspace) -> None:
    from training.monitor import run_monitor

    settings = workspace[0]
    first = run_monitor(settings, "churn", shipped(), DAYS[0], log_mlflow=False)
    run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False)
    table = rows(settings)
    with connect(settings.warehouse_path, read_only=True) as con:
        bands = con.execute("select as_of, list(distinct band) from scores group by 1").fetchall()
    for day in DAYS:
        found = table[table["as_of"] == day].groupby("kind")["subject"].agg(list)
        assert sorted(found["feature"]) == sorted(KINDS)
        assert found["score"] == ["probability"] and found["signal"] == ["retrain"]
        assert sorted(found["realised"]) == ["brier", "ece", "rate", "roc_auc"]
        served = next(set(b) for d, b in bands if pd.Timestamp(d) == day)
        assert set(found["band"]) == served and len(found["band"]) == len(served)
    # Realised rows were written by the first run (both days had matured) and are final.
    assert {d for d, *_ in first.day.realised} == set(DAYS)
    again = run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False)
    assert again.day.realised == []  # nothing left to recompute
    assert len(rows(settings)) == len(table)
    assert not rows(settings).duplicated(["target", "as_of", "kind", "subject"]).any()


def test_drift_is_flagged_on_the_day_it_happened_only(workspace) -> None:
    from training.monitor import run_monitor

    settings = workspace[0]
    quiet = run_monitor(settings, "churn", shipped(), DAYS[0], log_mlflow=False).day
    moved = run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False).day
    assert (quiet.features["status"] == "ok").all(), quiet.features
    assert quiet.score["status"] == "ok"
    flagged = moved.features.set_index("feature")
    assert flagged.loc["days_since_last_touch", "status"] == "alert"
    assert flagged.loc[["open_cases", "segment"], "status"].eq("ok").all()
    assert moved.signal.needs_retraining
    assert "days_since_last_touch" in moved.signal.reasons[0]


def test_served_scores_whose_outcomes_follow_them_are_calibrated_within_the_noise(workspace):
    from training.monitor import run_monitor

    settings, _, frames, _ = workspace
    result = run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False)
    assert len(result.day.realised) == 2
    for as_of, version, realised, info in result.day.realised:
        assert version == "1" and info["judged"] and info["final"]
        assert realised.n == len(frames[DAYS.index(as_of)])  # everyone scored, still a customer
        assert abs(realised.z) < 3 and realised.ece <= realised.ece_floor, realised
        assert "rate" not in realised.flags and "ece" not in realised.flags
    table = rows(settings)
    rate = table[(table["kind"] == "realised") & (table["subject"] == "rate")]
    assert (rate["low"] < rate["value"]).all() and (rate["value"] < rate["high"]).all()
    assert rate["status"].eq("ok").all()


def test_thresholds_come_from_the_experiment_config(workspace) -> None:
    from training.monitor import run_monitor

    lenient = shipped().model_copy(
        update={
            "monitoring": shipped().monitoring.model_copy(
                update={"psi_alert": 50.0, "score_psi_alert": 50.0}
            )
        }
    )
    day = run_monitor(workspace[0], "churn", lenient, DAYS[1], log_mlflow=False).day
    row = day.features.set_index("feature").loc["days_since_last_touch"]
    assert row["status"] == "warn"  # above psi_warn, below the config's psi_alert
    assert not day.signal.needs_retraining
    assert (
        rows(workspace[0]).query("kind == 'signal'")["detail"].str.contains('"psi_alert": 50').all()
    )


def test_the_day_is_logged_on_a_monitoring_run_under_the_champions_run(workspace) -> None:
    from barometer.model.store import champion_version, client
    from training.monitor import run_monitor

    settings = workspace[0]
    run_monitor(settings, "churn", shipped(), DAYS[0])
    result = run_monitor(settings, "churn", shipped(), DAYS[1])
    info = champion_version(settings, "churn")
    mc = client(settings)
    run = mc.get_run(result.mlflow_run_id)
    assert run.data.tags["mlflow.parentRunId"] == info.run_id
    assert run.data.tags["barometer.monitors_version"] == info.version
    history = mc.get_metric_history(result.mlflow_run_id, "drift.psi.days_since_last_touch")
    by_step = {m.step: m.value for m in history}
    assert len(by_step) == 2 and by_step[max(by_step)] > 0.25 > by_step[min(by_step)]
    assert len(mc.get_metric_history(result.mlflow_run_id, "realised.roc_auc")) == 2
    assert mc.get_metric_history(result.mlflow_run_id, "signal.needs_retraining")[-1].value == 1


def test_a_promoted_champion_has_no_signal_until_it_is_monitored(workspace) -> None:
    """`make retrain` ends with `barometer promote`: the new champion starts without a signal,
    while a candidate that is refused promotion leaves the champion's signal standing."""
    from training.lifecycle import promote
    from training.monitor import run_monitor

    settings, model, frames, _ = workspace
    run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False)
    assert monitoring.signal_for(rows(settings), "1")["needs_retraining"]
    same = {"backtest_id": "bt1", "beats_baselines": "true"}
    worse = register(
        settings, model, frames[1], same | {"backtest_roc_auc_mean": "0.61"}, champion=False
    )
    refused = promote(settings, "churn", metric="roc_auc", margin=0.0)
    assert not refused.promoted and refused.candidate == worse
    assert champion_signal(settings)["needs_retraining"]  # still v1's
    better = register(
        settings, model, frames[1], same | {"backtest_roc_auc_mean": "0.65"}, champion=False
    )
    assert promote(settings, "churn", metric="roc_auc", margin=0.0).promoted
    assert better == "3" and champion_signal(settings) is None  # cleared
    day = run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False).day
    # The 2026-09-01 run was scored by v1: the new champion's score drift waits for its own.
    assert day.score is None and any("scored by v1" in n for n in day.notes)
    assert day.features is not None and not day.signal.needs_retraining  # its reference is today
    assert champion_signal(settings)["status"] in ("ok", "watch")


def champion_signal(settings: Settings) -> dict | None:
    from barometer.model.store import champion_version

    return monitoring.signal_for(rows(settings), champion_version(settings, "churn").version)


def test_a_failed_write_leaves_the_previous_rows(workspace, monkeypatch) -> None:
    from training import monitor

    settings = workspace[0]
    monitor.run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False)
    before = rows(settings)
    real = monitor.rows_of

    def broken(day, at):
        frame, replace = real(day, at)
        frame.loc[frame.index[-1], "status"] = None  # violates `status not null` at the insert
        return frame, replace

    monkeypatch.setattr(monitor, "rows_of", broken)
    with pytest.raises(Exception, match="(?i)not.null|constraint"):
        monitor.run_monitor(settings, "churn", shipped(), DAYS[1], log_mlflow=False)
    pd.testing.assert_frame_equal(rows(settings), before)


def test_no_champion_and_no_scores_say_what_to_run(tmp_path, workspace) -> None:
    from barometer.model.store import NoChampionError
    from training.monitor import run_monitor

    with pytest.raises(NoChampionError, match="barometer promote --target churn"):
        empty = Settings(home=tmp_path / "empty", mlflow_tracking_uri=None)
        run_monitor(empty, "churn", shipped(), log_mlflow=False)
    with pytest.raises(LookupError, match="No churn scores as of 2026-07-01"):
        run_monitor(workspace[0], "churn", shipped(), pd.Timestamp("2026-07-01"), log_mlflow=False)


def test_deal_runs_are_judged_once_most_deals_have_closed(tmp_path) -> None:
    """A deal's outcome is known when it closes; a run is judged once 90% of its deals have."""
    from training import drift, monitor

    rng = np.random.default_rng(0)
    days = [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-05-01")]
    ids = [f"O{i:03d}" for i in range(200)]
    p = rng.uniform(0.1, 0.9, 200)
    won = rng.random(200) < p
    closed = np.where(np.arange(200) < 190, 1, 0).astype(bool)  # 190 of 200 closed
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ids,
            "account_id": "A1",
            "created_at": pd.Timestamp("2026-01-01"),
            "outcome": np.where(closed, np.where(won, "won", "lost"), "open"),
            # Deals closed before the later run are not in it (they were no longer open).
            "closed_at": np.where(
                closed, pd.Timestamp("2026-04-15") + pd.to_timedelta(np.arange(200), "D"), None
            ),
        }
    )
    scores = pd.concat(
        [
            pd.DataFrame({"target": "deal_win", "entity_id": ids, "as_of": day, "probability": p})
            for day in days
        ]
    )
    with connect(tmp_path / "w.duckdb") as con:
        replace_table(con, "opportunities", normalise_frame("opportunities", opportunities))
        replace_table(con, "scores", scores)
        outcomes = monitor.deal_outcomes(con, "deal_win", days)
        served = monitor.served_predictions(con, "deal_win", days)
    due = pd.DataFrame({"as_of": days, "model_version": "4", "scored": [200, 200]})
    limits = {"4": {"roc_auc_ci_low": 0.6}}
    runs = monitor.realised_runs(due, served, outcomes, limits, "deal_win", drift.Thresholds())
    (first, _, early, info1), (second, _, late, info2) = runs
    assert early.n == 190 and info1["judged"] and not info1["final"]
    assert "rate" not in early.flags and "roc_auc" not in early.flags
    # By 2026-05-01 only the 174 deals closing from then on count, and 16 were closed already.
    assert late.n == 190 - 16 and info2["matured_share"] == pytest.approx(174 / 200)
    assert not info2["judged"]
    checks = monitor.realised_checks(late, info2)
    assert {status for _, status, _, _ in checks} == {"pending"}
    assert "87% of the deals scored have closed so far" in checks[0][2]


def test_the_cli_prints_the_verdict(workspace, monkeypatch) -> None:
    from typer.testing import CliRunner

    from barometer.cli import app
    from barometer.settings import get_settings

    settings = workspace[0]
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["monitor", "--target", "churn", "--as-of", "2026-09-01"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "churn: needs retraining" in result.output
    assert "days_since_last_touch" in result.output and "realised 2026-06-01" in result.output
    assert datetime(2026, 9, 1).strftime("%Y-%m-%d") in result.output
