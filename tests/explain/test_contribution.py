"""Service's contribution on hand-made cases with known answers: the worst-quartile reference,
counterfactual case redraws, sourced expansion, effort, KPIs and the revenue-over-effort ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explain.contribution import (
    Period,
    _case_table,
    bootstrap_sum,
    redraw_features,
    rep_case_measures,
    retention_saved,
    service_hours,
    service_kpis,
    service_reference,
    sourced_expansion,
)

T0 = pd.Timestamp("2026-03-01")
DAY = pd.Timedelta(days=1)
REPS = pd.DataFrame({"rep_id": ["s1", "s2", "s3", "s4", "k1"], "team": ["service"] * 4 + ["sales"]})


def cases_of(rep: str, n: int, fcr: float, esc: float, start: pd.Timestamp) -> pd.DataFrame:
    i = np.arange(n)
    opened = start + i * DAY
    return pd.DataFrame(
        {
            "account_id": [f"a{k % 5}" for k in i],
            "rep_id": rep,
            "opened_at": opened,
            "closed_at": opened + pd.Timedelta(hours=2),
            "first_contact_resolved": i < round(fcr * n),
            "escalated": i >= n - round(esc * n),
            "csat": np.where(i < round(fcr * n), 5.0, 2.0),
        }
    )


@pytest.fixture
def cases() -> pd.DataFrame:
    return pd.concat(
        [
            cases_of("s1", 20, 0.9, 0.0, T0),
            cases_of("s2", 20, 0.7, 0.1, T0),
            cases_of("s3", 20, 0.5, 0.2, T0),
            cases_of("s4", 20, 0.3, 0.3, T0),
            cases_of("k1", 20, 0.0, 1.0, T0),  # not a service rep: ignored
        ],
        ignore_index=True,
    )


def test_reference_is_the_service_teams_worst_quartile(cases) -> None:
    measures = rep_case_measures(cases, REPS, T0, T0 + 60 * DAY).set_index("rep_id")
    assert set(measures.index) == {"s1", "s2", "s3", "s4"}
    assert measures.loc["s3", "fcr"] == 0.5 and measures.loc["s4", "escalation"] == 0.3
    reference = service_reference(measures.reset_index())
    assert reference["fcr"] == pytest.approx(np.quantile([0.9, 0.7, 0.5, 0.3], 0.25))
    assert reference["escalation"] == pytest.approx(np.quantile([0.0, 0.1, 0.2, 0.3], 0.75))
    assert reference["csat"] < measures["csat"].median()


def test_redrawn_cases_follow_the_reference_rates(cases) -> None:
    table = _case_table(cases[cases["rep_id"] != "k1"], T0, T0 + 60 * DAY)
    perfect = redraw_features(table, {"fcr": 1.0, "escalation": 0.0}, draws=5)
    assert (perfect["first_contact_resolution_rate_180d"] == 1).all()
    assert (perfect["unresolved_cases_180d"] == 0).all() and (
        perfect["escalated_cases_180d"] == 0
    ).all()
    assert (perfect["avg_case_csat_180d"] > 4.0).all()  # CSAT moves with resolution
    poor = redraw_features(table, {"fcr": 0.2, "escalation": 0.4}, draws=200)
    assert poor["first_contact_resolution_rate_180d"].mean() == pytest.approx(0.2, abs=0.02)
    assert poor["escalation_rate_180d"].mean() == pytest.approx(0.4, abs=0.03)
    per_account = table.groupby("account_id").size()
    drawn = poor.groupby("account_id")["unresolved_cases_180d"].mean()
    assert (drawn / per_account).mean() == pytest.approx(0.8, abs=0.03)


class RiskOfUnresolved:
    """A stand-in churn model: risk grows with unresolved cases."""

    feature_names = ["unresolved_cases_180d", "first_contact_resolution_rate_180d"]

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return 0.01 + 0.05 * pd.to_numeric(rows["unresolved_cases_180d"]).fillna(0).to_numpy()


def test_retention_saved_is_arr_times_the_risk_difference(cases) -> None:
    table = _case_table(cases[cases["rep_id"] == "s1"], T0, T0 + 60 * DAY)
    accounts = pd.DataFrame(
        {
            "account_id": ["a0", "a1", "zz"],
            "arr": [1000.0, 2000.0, 5000.0],
            "unresolved_cases_180d": [0.0, 1.0, 0.0],
            "first_contact_resolution_rate_180d": [1.0, 0.75, np.nan],
        }
    )
    out = retention_saved(RiskOfUnresolved(), accounts, table, {"fcr": 0.0, "escalation": 0.0})
    out = out.set_index("account_id")
    # at the reference every one of a0's 4 cases and a1's 4 cases is unresolved
    assert out.loc["a0", "p_reference"] == pytest.approx(0.01 + 0.05 * 4)
    assert out.loc["a0", "saved"] == pytest.approx(1000 * 0.05 * 4)
    assert out.loc["a1", "saved"] == pytest.approx(2000 * 0.05 * 3)
    assert out.loc["zz", "saved"] == 0.0  # no case: no service record, nothing saved


def test_bootstrap_interval_brackets_the_sum() -> None:
    values = np.random.default_rng(1).normal(10, 5, 400)
    low, high = bootstrap_sum(values)
    assert low < values.sum() < high
    assert high - low == pytest.approx(2 * 1.645 * 5 * np.sqrt(400), rel=0.15)


def test_sourced_expansion_counts_service_sourced_and_after_case_deals_once(cases) -> None:
    period = Period(T0, T0 + 90 * DAY, 90)
    opps = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
            "account_id": ["a0", "a1", "a2", "a3", "a4", "a0"],
            "type": ["upsell", "cross_sell", "upsell", "new_business", "upsell", "upsell"],
            "amount": [100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0],
            "outcome": ["won", "won", "lost", "won", "won", "won"],
            "source_rep_id": ["s2", None, "s2", "s2", None, None],
            "created_at": [T0, T0 + 30 * DAY, T0, T0, T0 + 80 * DAY, T0 - 20 * DAY],
            "closed_at": [T0 + DAY, T0 + 40 * DAY, T0 + DAY, T0 + DAY, T0 + 85 * DAY, T0 + DAY],
        }
    )
    case = pd.DataFrame(
        {
            "account_id": ["a1", "a4"],
            "rep_id": ["s3", "s1"],
            "closed_at": [T0 + 10 * DAY, T0 + 20 * DAY],
        }
    )
    out = sourced_expansion(opps, case, REPS, period, after_case_days=30).set_index(
        "opportunity_id"
    )
    # o1 sourced by s2; o2 opened 20 days after s3's case; o3 lost; o4 not expansion;
    # o5 opened 60 days after the case; o6 opened before any case
    assert sorted(out.index) == ["o1", "o2"]
    assert out.loc["o1", "rep_id"] == "s2" and out.loc["o2", "rep_id"] == "s3"
    assert out["amount"].sum() == 300.0


def test_service_hours_count_durations_and_untimed_work() -> None:
    period = Period(T0, T0 + 10 * DAY, 90)
    acts = pd.DataFrame(
        {
            "rep_id": ["s1", "s1", "s1", "k1", "s2"],
            "occurred_at": [T0, T0 + DAY, T0 + 20 * DAY, T0, T0],
            "duration_s": [1800.0, None, 3600.0, 3600.0, 0.0],
        }
    )
    hours = service_hours(acts, REPS, period, untimed_minutes=6)
    assert hours["s1"] == pytest.approx(0.5 + 0.1) and hours["s2"] == pytest.approx(0.1)
    assert "k1" not in hours


def test_kpis_per_service_rep(cases) -> None:
    period = Period(T0, T0 + 60 * DAY, 90)
    accounts = pd.DataFrame(
        {
            "account_id": [f"a{k}" for k in range(5)],
            "churned_at": [pd.NaT, T0 + 70 * DAY, pd.NaT, T0 + 30 * DAY, pd.NaT],
        }
    )
    nps = pd.DataFrame(
        {
            "account_id": ["a0", "a1", "a2", "a2"],
            "responded_at": [T0 + DAY, T0 + DAY, T0, T0 + 5 * DAY],
            "score": [10.0, 3.0, 2.0, 9.0],
        }
    )
    kpis = service_kpis(accounts, cases, nps, REPS, period).set_index("rep_id")
    s1 = kpis.loc["s1"]
    assert s1["cases"] == 20 and s1["first_contact_resolution"] == pytest.approx(0.9)
    assert s1["accounts_served"] == 5 and s1["retention_rate"] == pytest.approx(4 / 5)
    assert s1["nps"] == pytest.approx(100 * (2 / 3 - 1 / 3))  # a0 10, a1 3, a2 latest 9
    assert s1["csat"] == pytest.approx((18 * 5 + 2 * 2) / 20)


def test_a_team_that_is_the_whole_service_has_the_total_s_interval() -> None:
    """The team row and the total resample the same accounts with the same draws: with one
    service team, accounts it never served count 0 for both, and the intervals agree."""
    from explain.contribution import _team_table, _totals

    rng = np.random.default_rng(3)
    accounts = [f"a{i}" for i in range(60)]
    saved = pd.DataFrame(
        {"account_id": accounts, "saved": np.r_[rng.gamma(2.0, 500.0, 50), np.zeros(10)]}
    )
    first = rng.uniform(0.2, 0.8, 50)  # two reps share each served account's cases
    shares = pd.DataFrame(
        {
            "account_id": accounts[:50] * 2,
            "rep_id": ["r1"] * 50 + ["r2"] * 50,
            "share": np.r_[first, 1 - first],
        }
    )
    by_rep = pd.DataFrame(
        {
            "rep_id": ["r1", "r2"],
            "team": ["service", "service"],
            "expansion": [0.0, 0.0],
            "hours": [100.0, 120.0],
            "cases": [40, 50],
            "retention_rate": [0.9, 0.8],
            "accounts_served": [50, 50],
            "nps": [8.0, 7.0],
            "first_contact_resolution": [0.7, 0.6],
            "csat": [4.2, 4.0],
        }
    )
    team = _team_table(by_rep, saved, shares, None).iloc[0]
    total = _totals(saved, pd.DataFrame({"amount": []}), pd.Series([100.0, 120.0]), None)
    assert team["retention_saved"] == pytest.approx(total["retention_saved"])
    assert (team["retention_low"], team["retention_high"]) == pytest.approx(
        (total["retention_low"], total["retention_high"])
    )
