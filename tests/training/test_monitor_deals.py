"""The deal-win champion, monitored on the day after the data ends with nothing changed, raises no
retrain signal (over several seeds): the open deals a scoring sees then are compared with the
deals open at the test cutoffs, as a scoring on those days would have seen them.

Right after training no outcome newer than the champion's is known, so the monitor would hold any
retrain back anyway (`training.drift.retrain_signal`'s `labels`); the drift is therefore also
weighed as if newer labels existed, which is what this test is about: no false alarm.

Each seed's company is simulated (1,200 accounts, 30 months), its features built at the default
cutoffs, and its deal-win model trained with the shipped recipe lightened (one backtest fold, a
smaller bootstrap), promoted, scored on the default day and monitored with the shipped thresholds.
"""

from __future__ import annotations

import pytest

from barometer.settings import Settings

ACCOUNTS = 1200
# Seeds 1 and 3 still raise a false alarm: the simulator acquires few accounts in its last
# quarter (13 against ~45 a quarter before), so new-business deals nearly vanish from the
# export-day mix (7% of open deals against 32% three months earlier; deal_type PSI 0.3-0.4),
# and the reps' cumulative records (rep_closed_deals, rep_win_rate) move with them.
ALARM = "simulator end effect: few accounts acquired in the export's last quarter"
SEEDS = (
    pytest.param(1, marks=pytest.mark.xfail(strict=True, reason=ALARM)),
    2,
    pytest.param(3, marks=pytest.mark.xfail(strict=True, reason=ALARM)),
)


def light_config():
    from training.config import ExperimentConfig, default_config_path, load_config

    base = load_config(default_config_path("deal_win")).model_dump()
    base["split"] |= {"folds": 1}
    base["report"] |= {"bootstrap": 50, "learning_curve_fractions": [1.0]}
    return ExperimentConfig.model_validate(base)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_unchanged_company_s_deals_raise_no_retrain_signal(tmp_path, seed, record_property):
    from barometer.model.store import ChampionProvider
    from barometer.scoring import job
    from barometer.scoring.day_features import data_through, default_as_of
    from barometer.scoring.reasons import load_registry
    from data.simulator import simulate, write_export
    from features.build import build_all
    from features.ingest.run import ingest
    from features.warehouse import connect
    from training.config import resolve_config
    from training.drift import retrain_signal
    from training.lifecycle import promote
    from training.monitor import run_monitor
    from training.runs import train_target

    settings = Settings(home=tmp_path / "workspace")
    settings.ensure_home()
    write_export(simulate(ACCOUNTS, seed=seed), tmp_path / "export", fmt="parquet")
    ingest(tmp_path / "export", settings, "canonical", None)
    build_all(settings)
    trained = train_target(settings, light_config())
    assert trained.version is not None, trained.refusals
    assert promote(settings, "deal_win", metric="roc_auc", margin=0.0).promoted
    with connect(settings.warehouse_path, read_only=True) as con:
        day = default_as_of(data_through(con))
    loaded = ChampionProvider(settings).load("deal_win")
    job.run(settings, loaded, day.to_pydatetime(), None, load_registry())
    config = resolve_config("deal_win", None)
    result = run_monitor(settings, "deal_win", config, day)
    signal = result.day.signal
    unheld = retrain_signal(result.day.features, result.day.score, None, config.monitoring)
    record_property("summary", f"deal_win monitor, seed {seed}: {unheld.status}, {unheld}")
    assert not signal.needs_retraining, signal
    assert not unheld.needs_retraining, unheld
    assert not signal.pipeline_broken, signal
    assert result.day.score["status"] == "ok", result.day.score
