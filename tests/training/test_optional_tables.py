"""Every optional table really is optional: each subset builds features, trains what its labels
allow, scores and explains.

The optional tables are `reps`, `opportunities` (with or without `opportunity_stages`), `cases`,
`nps` and `churn_events`. Their 48 combinations are covered pairwise: every two tables appear in
every combination of present and absent in at least one of the six exports below (no feature or
label reads more than two optional tables, and the rooms only ever ask "is this table here?").
Each export is a small simulated company (300 accounts, 18 months) with the tables removed.
"""

from __future__ import annotations

import pandas as pd
import pytest

from barometer.model.status import read_status
from barometer.model.store import LoadedModel
from barometer.scoring import job
from barometer.scoring.reasons import load_registry
from barometer.settings import Settings
from explain.build_reports import explain_target
from features.build import build_all
from features.ingest.run import ingest
from features.registry import REGISTRY
from training.data import NoDataForTarget
from training.runs import resolve_config, train_target

# (reps, opportunities: none | bare | staged, cases, nps, churn_events)
SUBSETS = [
    (True, "none", True, True, True),
    (False, "none", False, False, False),
    (True, "bare", False, True, False),
    (False, "bare", True, False, True),
    (True, "staged", True, False, False),
    (False, "staged", False, True, True),
]


def _id(subset) -> str:
    reps, opps, cases, nps, events = subset
    flags = {"reps": reps, "cases": cases, "nps": nps, "events": events}
    return "-".join([f"opps_{opps}", *(k for k, v in flags.items() if v)])


@pytest.fixture(scope="module")
def company() -> dict[str, pd.DataFrame]:
    from data.simulator import simulate

    return simulate(300, seed=7, months=18)


@pytest.fixture(scope="module")
def tracking(tmp_path_factory) -> str:
    """One MLflow store for the module (each new store first runs its schema migrations)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def as_churn_events(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Churn recorded as a churn/return log instead of `accounts.churned_at`."""
    accounts = tables["accounts"]
    churned = accounts[accounts["churned_at"].notna()]
    events = pd.DataFrame(
        {
            "churn_event_id": [f"CE-{i}" for i in range(len(churned))],
            "account_id": churned["account_id"].to_numpy(),
            "churned_at": churned["churned_at"].to_numpy(),
            "reason": "price",
            "is_reactivation": False,
        }
    )
    return {**tables, "accounts": accounts.assign(churned_at=pd.NaT), "churn_events": events}


def fast(target: str):
    """The shipped config with fewer boosting rounds and bootstraps (this test is plumbing)."""
    config = resolve_config(target, None)
    return config.model_copy(
        update={
            "lightgbm": config.lightgbm.model_copy(
                update={"learning_rate": 0.15, "max_rounds": 120, "early_stopping_rounds": 20}
            ),
            "report": config.report.model_copy(
                update={"bootstrap": 30, "learning_curve_fractions": (1.0,)}
            ),
        }
    )


@pytest.mark.parametrize("subset", SUBSETS, ids=_id)
def test_subset_builds_trains_scores_and_explains(subset, company, tracking, tmp_path) -> None:
    from data.simulator import write_export

    reps, opps, cases, nps, events = subset
    tables = as_churn_events(company) if events else dict(company)
    missing = {
        "reps": not reps,
        "opportunities": opps == "none",
        "opportunity_stages": opps != "staged",
        "cases": not cases,
        "nps": not nps,
        "churn_events": not events,
    }
    write_export(tables, tmp_path / "export", fmt="parquet")
    for name, gone in missing.items():
        if gone:
            (tmp_path / "export" / f"{name}.parquet").unlink()
    settings = Settings(home=tmp_path / "workspace").model_copy(
        update={"mlflow_tracking_uri": tracking}
    )
    ingest(tmp_path / "export", settings, "canonical", None)

    report = build_all(settings)
    absent = {name for name, gone in missing.items() if gone}
    switched_off = [
        f
        for f in REGISTRY
        if set(f.tables) & absent and not (f.entity == "opportunity" and opps == "none")
    ]
    for feature in switched_off:  # one line each, naming the table
        lines = [n for n in report.notes if n.startswith(f"{feature.name} (")]
        assert len(lines) == 1 and "switched off: no" in lines[0], feature.name
    assert report.meta["churn"]["definition"] == "explicit"  # churned_at or the churn log
    assert ("features_opportunity" in report.rows) == (opps != "none")

    targets = ["churn"] + (["deal_win"] if opps != "none" else [])
    for target in targets:
        result = train_target(settings, fast(target))
        assert result.winner is not None, f"{target}: {result.refusals}"
        folder = result.model.save(tmp_path / f"model_{target}")
        loaded = LoadedModel(target, result.model, "1")
        scored = job.run(settings, loaded, registry=load_registry())
        assert scored.rows > 0
        page = explain_target(settings, target, model_folder=folder, rows=300, log=False)
        assert page.stat().st_size > 10_000
    if opps == "none":  # the verdict the service shows instead of "not loaded"
        with pytest.raises(NoDataForTarget, match="The data has no opportunities table") as why:
            train_target(settings, fast("deal_win"))
        verdict = read_status(settings, "deal_win")
        assert verdict is not None and not verdict.trained and verdict.reason == str(why.value)
        assert str(settings.warehouse_path) not in verdict.reason
