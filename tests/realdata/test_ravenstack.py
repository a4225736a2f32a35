"""RavenStack (synthetic SaaS: accounts, feature usage, support tickets, churn events), end to end
with data/mappings/ravenstack_saas.yaml and the shipped churn config, as `barometer ingest`,
`features`, `train`, `promote`, `score` and `explain` run it. Churn is explicit (the churn log);
the events were drawn without regard to usage, so the skill is small and its interval says so."""

from __future__ import annotations

import pytest

from tests.ingest.helpers import assert_accounting
from tests.realdata.conftest import (
    BASELINES,
    assert_reasons_add_up,
    assert_report_names_the_drivers,
    day_population_of,
    run_pipeline,
    summary_line,
)
from training.evaluate import MODEL


@pytest.fixture(scope="module")
def raven(tmp_path_factory, shared_data):
    return run_pipeline(tmp_path_factory.mktemp("raven"), shared_data, "ravenstack_saas", "churn")


def test_raven_rows_and_the_explicit_churn_definition(raven) -> None:
    assert_accounting(raven.ingest)
    read = sum(r.rows_read for r in raven.ingest.results)
    rejected = sum(r.rejected for r in raven.ingest.results)
    assert (read, rejected) == (28_100, 21)  # 21 duplicated feature-usage ids, each reported
    churn = raven.build.meta["churn"]
    assert churn["definition"] == "explicit"
    assert "churn events" in churn["chosen_because"]
    assert raven.build.meta["cutoff_frequency"] == "MS"


def test_raven_trains_three_folds_and_registers_what_beats_the_base_rate(raven, request) -> None:
    summary_line("ravenstack_saas", raven, request)
    train = raven.train
    assert train.plan.folds == 3
    assert set(train.summary.index) == {MODEL, "bgnbd", *BASELINES}  # a usage log: BG/NBD runs
    assert train.version is not None and train.refusals == []
    auc = train.summary["roc_auc_mean"]
    assert auc[train.winner] == auc.drop("base_rate").max() or train.choice.margin < 0.01
    assert auc[train.winner] > auc["base_rate"] and train.ci[0] > 0.5
    # Small skill on data whose churn was drawn without regard to usage: the interval shows it.
    assert train.ci[1] < 0.65


def test_raven_scores_every_account_of_the_population_and_reasons_add_up(raven) -> None:
    scored = raven.scored
    as_of = scored["as_of"].iloc[0]
    population = day_population_of(raven.settings, as_of)  # the definition's, on the day scored
    assert sorted(scored["account_id"]) == sorted(population["account_id"])
    assert len(scored) > 400 and scored["probability"].between(0, 1).all()
    assert_reasons_add_up(raven, "churn")
    assert_report_names_the_drivers(raven, "churn")


def test_raven_monitor_flags_the_aged_population_without_asking_for_a_pointless_retrain(
    raven,
) -> None:
    """Scored on the data's last day, 90 days past the last labelled cutoff, every account is
    older than any the model learned from: the tenure-like features drift, and the monitor says
    so. But no newer outcome is known, so a retrain would fit the same history: watch, not
    retrain, with the reason given."""
    from training.monitor import run_monitor
    from training.runs import resolve_config

    config = resolve_config("churn", None)
    result = run_monitor(raven.settings, "churn", config, log_mlflow=False)
    drifted = result.day.features.set_index("feature")
    assert drifted.loc["days_since_first_usage", "status"] == "alert"
    signal = result.day.signal
    assert signal.status == "watch" and not signal.needs_retraining
    assert any("days_since_first_usage" in n for n in signal.notes)
    assert any("same labelled history" in n and "2024-10-01" in n for n in signal.notes)
