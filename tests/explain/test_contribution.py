"""Service vs sales contribution in revenue, influence windows and the classic KPIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explain.contribution import (
    influenced_opportunities,
    rep_kpis,
    revenue_attribution,
    service_contribution,
)

T0 = pd.Timestamp("2026-03-01")


def small_world(accounts_frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ids = [f"a{i}" for i in range(6)]
    return {
        "reps": pd.DataFrame(
            {"rep_id": ["s1", "s2", "k1", "k2"], "team": ["service", "service", "sales", "sales"]}
        ),
        "accounts": pd.DataFrame(
            {
                "account_id": ids,
                "owner_rep_id": ["k1", "k1", "k1", "k2", "k2", "k2"],
                "churned_at": [None, T0, None, None, None, T0],
            }
        ),
        "cases": pd.DataFrame(
            {
                "account_id": ["a0", "a1", "a1", "a3"],
                "rep_id": ["s1", "s1", "s1", "s2"],
                "first_contact_resolved": [True, False, True, True],
            }
        ),
        "nps": pd.DataFrame(
            {
                "account_id": ["a0", "a0", "a1", "a3"],
                "responded_at": [T0 - pd.Timedelta(days=90), T0, T0, T0],
                "score": [3.0, 10.0, 5.0, 9.0],
            }
        ),
        "opportunities": pd.DataFrame(
            {
                "opportunity_id": ["o1", "o2", "o3", "o4"],
                "account_id": ["a0", "a3", "a3", "a4"],
                "owner_rep_id": ["k1", "k2", "k2", "k2"],
                "type": ["upsell", "cross_sell", "upsell", "new_business"],
                "amount": [1000.0, 2000.0, 4000.0, 8000.0],
                "outcome": ["won", "won", "lost", "won"],
                "created_at": [T0, T0, T0 + pd.Timedelta(days=60), T0],
                "source_rep_id": ["s1", None, None, None],
            }
        ),
        "activities": pd.DataFrame(
            {
                "account_id": ["a3", "a3", "a4"],
                "rep_id": ["s2", "s2", "k2"],
                # 10 days before o2 (influences it); 70 days before o3 (too early)
                "occurred_at": [T0 - pd.Timedelta(days=10), T0 - pd.Timedelta(days=10), T0],
            }
        ),
    }


def test_influence_is_sourcing_or_service_activity_in_the_30_days_before() -> None:
    world = small_world(pd.DataFrame())
    pairs = influenced_opportunities(world["opportunities"], world["activities"], world["reps"])
    assert sorted(map(tuple, pairs.to_numpy())) == [("o1", "s1"), ("o2", "s2")]


def test_kpis_have_known_values() -> None:
    world = small_world(pd.DataFrame())
    influence = influenced_opportunities(world["opportunities"], world["activities"], world["reps"])
    book = pd.DataFrame(
        {
            "rep_id": ["s1", "s1", "s2", "k1", "k1", "k1"],
            "account_id": ["a0", "a1", "a3", "a0", "a1", "a2"],
        }
    )
    kpis = rep_kpis(
        world["accounts"], world["cases"], world["nps"], world["opportunities"], book, influence
    ).set_index("rep_id")
    assert kpis.loc["s1", "retention_rate"] == 0.5  # a1 churned
    assert kpis.loc["s1", "nps"] == 0.0  # latest scores 10 (promoter) and 5 (detractor)
    assert kpis.loc["s1", "first_contact_resolution"] == pytest.approx(2 / 3)
    assert kpis.loc["s1", "service_sourced_expansion"] == 1000.0  # sourced o1
    assert kpis.loc["s2", "service_sourced_expansion"] == 2000.0  # influenced o2; o3 lost
    assert kpis.loc["k1", "retention_rate"] == pytest.approx(2 / 3)


def test_revenue_attribution_is_family_points_times_value(churn_model, accounts, registry) -> None:
    frame = accounts.head(20).assign(account_id=[f"a{i}" for i in range(20)])
    credit = revenue_attribution(churn_model, frame, registry, key="account_id", value="arr")
    points = churn_model.explain(frame).points
    service = points[["escalated_cases_90d", "first_contact_resolution"]].sum(axis=1)
    sales = points[["days_since_connected_call", "emails_sent_30d", "contacts_reached_90d"]].sum(
        axis=1
    )
    np.testing.assert_allclose(credit["service_value"], -service * frame["arr"], rtol=1e-12)
    np.testing.assert_allclose(credit["sales_value"], -sales * frame["arr"], rtol=1e-12)
    escalated = frame.assign(escalated_cases_90d=4.0, first_contact_resolution=0.0)
    worse = revenue_attribution(churn_model, escalated, registry, key="account_id", value="arr")
    assert (worse["service_value"] < 0).all()  # bad service behaviours cost retained ARR


def test_service_contribution_report_adds_up(churn_model, win_model, accounts, registry) -> None:
    world = small_world(pd.DataFrame())
    account_features = accounts.head(6).assign(account_id=[f"a{i}" for i in range(6)])
    deal_features = accounts.iloc[10:14].assign(
        opportunity_id=["o1", "o2", "o3", "o4"], amount=world["opportunities"]["amount"].to_numpy()
    )
    report = service_contribution(
        churn_model, win_model, account_features, deal_features, world, registry
    )
    acc = report.accounts.set_index("account_id")
    deal = report.deals.set_index("opportunity_id")
    s1 = report.by_rep.set_index("rep_id").loc["s1"]
    # s1's book: accounts a0, a1 (cases) and deal o1 (sourced).
    expected = acc.loc[["a0", "a1"], "service_value"].sum() + deal.loc["o1", "service_value"]
    assert s1["service_value"] == pytest.approx(expected)
    assert s1["ratio"] == pytest.approx(s1["service_value"] / s1["sales_value"])
    assert s1["team"] == "service" and s1["first_contact_resolution"] == pytest.approx(2 / 3)
    team = report.by_team.set_index("team").loc["sales"]
    # Sales team's book: all six accounts (owners) and all four deals (owners).
    total = acc["service_value"].sum() + deal["service_value"].sum()
    assert team["service_value"] == pytest.approx(total)
    assert "not causal" in report.caveat
