"""The rep-attrition target: departures are counted per rep, and too few get an honest answer
(the training verdict the service shows) instead of a model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from barometer.model.status import TrainingStatus, read_status, status_path, write_status
from barometer.settings import Settings
from training.config import GuardConfig
from training.guards import TooFewPositives, check_positive_entities
from training.runs import resolve_config


def rep_months(leavers: int, stayers: int, months: int = 12) -> pd.DataFrame:
    """Rep-month rows; each leaver is positive in the three months before leaving."""
    rows = []
    for r in range(leavers + stayers):
        for m in range(months):
            label = int(r < leavers and m >= months - 3)
            rows.append({"rep_id": f"r{r}", "cutoff": pd.Timestamp(2024, m + 1, 1), "label": label})
    return pd.DataFrame(rows)


def test_departures_are_counted_per_rep_not_per_row() -> None:
    guards = resolve_config("rep_attrition", None).guards
    assert guards.min_positive_entities == 20
    frame = rep_months(leavers=19, stayers=40)
    assert int(frame["label"].sum()) == 57 >= guards.min_positives  # rows alone would pass
    with pytest.raises(TooFewPositives) as caught:
        check_positive_entities(frame, guards, "rep_attrition", "rep_id")
    assert str(caught.value) == (  # shown as is to managers: plain words, no identifiers
        "Not enough departures to learn from (19; need 20). "
        "No rep attrition model is trained until the history holds more."
    )
    assert (caught.value.count, caught.value.need) == (19, 20)
    assert check_positive_entities(rep_months(20, 40), guards, "rep_attrition", "rep_id") == 20


def test_churn_counts_churned_accounts_not_the_cutoffs_before_each_churn() -> None:
    """Eight churned accounts, each positive at seven cutoffs, pass the row minimum but are too
    few accounts to test a model on (a 9-month simulation registered a model on one of them)."""
    guards = resolve_config("churn", None).guards
    frame = pd.DataFrame(
        {
            "account_id": f"a{a}",
            "cutoff": pd.Timestamp(2024, m + 1, 1),
            "label": int(a < 8 and m >= 5),
        }
        for a in range(308)
        for m in range(12)
    )
    assert int(frame["label"].sum()) >= guards.min_positives
    with pytest.raises(TooFewPositives, match=r"churned accounts to learn from \(8; need 20\)"):
        check_positive_entities(frame, guards, "churn", "account_id")


def test_the_guard_is_off_for_a_config_that_does_not_ask_for_it() -> None:
    guards = GuardConfig()
    assert guards.min_positive_entities == 0
    assert check_positive_entities(rep_months(1, 5), guards, "churn", "rep_id") == 0


def test_training_verdict_round_trip(tmp_path) -> None:
    settings = Settings(home=tmp_path / "workspace")
    status = TrainingStatus("rep_attrition", False, "Not enough departures (1; need 20).", 1, 20)
    assert read_status(settings, "rep_attrition") is None
    write_status(settings, status)
    got = read_status(settings, "rep_attrition")
    assert got is not None and got.at
    assert (got.reason, got.count, got.need) == (status.reason, 1, 20)
    status_path(settings, "rep_attrition").write_text("{not json")
    assert read_status(settings, "rep_attrition") is None  # unreadable: nothing is claimed


# ------------------------------------------------------------------ planted truth


@pytest.fixture(scope="module")
def simulated_reps(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulated company (6,000 accounts, 4 years, seed 11: about 80 departures that follow
    activity slumps and short tenure) as rep-trend features joined to rep-attrition labels."""
    from data.simulator import simulate
    from features.engine import compute_features
    from features.labels import rep_attrition_labels
    from features.timeline import monthly_cutoffs

    tables = simulate(6000, seed=11, months=48)
    cutoffs = monthly_cutoffs(pd.Timestamp("2023-03-31"), pd.Timestamp("2026-12-01"))
    features = compute_features(tables, "rep", cutoffs, stage_entry_snapshots=False)
    labels = rep_attrition_labels(tables, cutoffs, 90, data_end=pd.Timestamp("2027-01-01"))
    frame = features.merge(labels, on=["rep_id", "cutoff"]).sort_values(["cutoff", "rep_id"])
    return frame.reset_index(drop=True), tables["reps"]


def test_the_model_ranks_leavers_first_for_the_planted_reasons(simulated_reps, tmp_path) -> None:
    from training.data import feature_kinds
    from training.pipeline import run_training

    frame, reps = simulated_reps
    config = resolve_config("rep_attrition", None)
    assert frame.loc[frame["label"] == 1, "rep_id"].nunique() >= 60
    kinds = feature_kinds(config, list(frame.columns))
    settings = Settings(home=tmp_path / "workspace")
    result = run_training(frame, kinds, config, settings, entity="rep_id", register=False)
    low, high = result.ci
    assert result.winner is not None and low > 0.6, (result.winner, result.ci)
    test = frame.loc[result.final.split.test]
    explanation = result.model.explain(test)
    points = pd.DataFrame(explanation.point_values, columns=explanation.feature_names)
    # The planted slump: a trend below 0.9 raises the risk, a steady one does not.
    trend = test["rep_activity_trend"].to_numpy()
    slump = points.loc[trend < 0.9, "rep_activity_trend"].mean()
    steady = points.loc[trend >= 0.9, "rep_activity_trend"].mean()
    assert slump > 0.005 > steady, (slump, steady)
    # The leavers' reasons: the slump is among the two largest average pushes towards leaving
    # (the other separates reps who close deals, the only ones the simulator lets leave, from
    # service reps and managers), and pushes more than any win-rate or lost-account feature.
    leavers = points[test["label"].to_numpy() == 1].mean().sort_values(ascending=False)
    assert "rep_activity_trend" in leavers.index[:2] and leavers["rep_activity_trend"] > 0.01
    others = ["rep_win_rate_180d", "rep_win_rate_change", "rep_accounts_lost_180d"]
    assert (leavers[others] < leavers["rep_activity_trend"]).all(), leavers.to_dict()
    assert explanation.base_probability + points.sum(axis=1).to_numpy() == pytest.approx(
        explanation.probability
    )


def test_the_shipped_sample_gets_a_reason_not_a_model(tmp_path) -> None:
    """The shipped sample has nine reps and one departure: training refuses, and managers are
    told why through the API; retention keys are refused the question."""
    from fastapi.testclient import TestClient

    from features.build import build_all
    from features.ingest.run import ingest
    from serving.app import ServeOptions, create_app
    from training.runs import train_target

    keys = {"retention": "retention-key-0123456789", "manager": "manager-key-0123456789ab"}
    api_keys = ",".join(f"{role}:{key}" for role, key in keys.items())
    settings = Settings(home=tmp_path / "workspace", api_keys=api_keys)
    settings.ensure_home()
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    ingest(sample, settings, "canonical", None)
    build_all(settings)
    with pytest.raises(TooFewPositives) as caught:
        train_target(settings, resolve_config("rep_attrition", None))
    assert caught.value.count <= 1 and caught.value.need == 20
    expected = f"Not enough departures to learn from ({caught.value.count}; need 20)"
    assert str(caught.value).startswith(expected)
    verdict = read_status(settings, "rep_attrition")
    assert verdict is not None and not verdict.trained and verdict.reason == str(caught.value)
    app = create_app(settings, options=ServeOptions(poll_seconds=3600, dashboard=False))
    with TestClient(app) as client:
        manager = {"X-API-Key": keys["manager"]}
        body = client.get("/v1/teams/sales/attrition", headers=manager).json()
        assert body["available"] is False and body["reason"] == verdict.reason
        assert body["reps"] == []
        retention = {"X-API-Key": keys["retention"]}
        assert client.get("/v1/teams/sales/attrition", headers=retention).status_code == 403


def test_deal_win_counts_lost_deals_too_not_their_snapshots() -> None:
    """Thirty won deals and five lost ones, each seen at eight snapshots: 40 negative rows pass
    the row minimum, but five lost deals are too few to tell a loss from a win."""
    guards = resolve_config("deal_win", None).guards
    frame = pd.DataFrame(
        {"opportunity_id": f"o{d}", "cutoff": pd.Timestamp(2024, 1, s + 1), "label": int(d >= 5)}
        for d in range(35)
        for s in range(8)
    )
    assert int((frame["label"] == 0).sum()) >= guards.min_negatives
    with pytest.raises(
        TooFewPositives, match=r"Not enough lost deals to learn from \(5; need 20\)"
    ):
        check_positive_entities(frame, guards, "deal_win", "opportunity_id")
