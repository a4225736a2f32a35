"""Features on hand-made data whose answers are worked out by hand (see conftest.toy_tables)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.engine import compute_features
from features.registry import feature_names

FEB, MAR = pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")


@pytest.fixture(scope="module")
def accounts(toy_shared) -> pd.DataFrame:
    frame = compute_features(toy_shared, "account", [FEB, MAR])
    return frame.set_index(["account_id", "cutoff"])


@pytest.fixture(scope="module")
def deals(toy_shared) -> pd.DataFrame:
    frame = compute_features(toy_shared, "opportunity", ["2024-01-01", FEB, MAR])
    return frame.set_index(["opportunity_id", "cutoff"])


def test_rows_only_for_customers_at_the_cutoff(accounts):
    # a3 is created on 10 March, after both cutoffs; a2 churned on 20 February.
    assert set(accounts.index) == {("a1", FEB), ("a1", MAR), ("a2", FEB)}
    assert list(accounts.columns) == feature_names("account")


def test_late_logged_call_is_invisible_until_logged(accounts):
    a1 = accounts.loc[("a1", FEB)]
    # x1, x2, x3, x5, x6 are touches in January; x4 (20 Jan) was logged on 10 Feb.
    assert a1.touches_per_week_30d == pytest.approx(5 * 7 / 30)
    assert a1.days_since_last_touch == 6  # x6 on 26 Jan
    assert a1.days_since_last_connected_call == 30  # x1 on 2 Jan; x4 unseen
    assert accounts.loc[("a1", MAR)].days_since_last_connected_call == 27  # x10 on 3 Feb
    assert a1.connect_rate_90d == 0.5  # x1 connected, x6 voicemail


def test_history_before_the_windows_and_logging_after_the_last_cutoff(toy):
    """Days outside the cutoffs' reach: a1's touches all precede the 90-day window of a
    1 June cutoff, and a call logged after that cutoff is never seen."""
    late = (
        toy["activities"]
        .iloc[[-1]]
        .assign(
            activity_id="x11",
            occurred_at=pd.Timestamp("2024-05-20 10:00"),
            logged_at=pd.Timestamp("2024-07-10"),
        )
    )
    toy["activities"] = pd.concat([toy["activities"], late], ignore_index=True)
    a1 = compute_features(toy, "account", ["2024-06-01"]).set_index("account_id").loc["a1"]
    assert a1.touches_per_week_90d == 0
    assert a1.days_since_last_touch == 119  # x10 on 3 Feb; x11 not yet logged
    assert a1.days_since_last_connected_call == 119


def test_gaps_and_follow_ups(accounts):
    a1 = accounts.loc[("a1", FEB)]
    # touch days 2, 5, 6, 25, 26 Jan: gaps 3, 1, 19, 1
    assert a1.mean_days_between_touches_90d == 6
    assert a1.touch_gap_variability_90d == pytest.approx(math.sqrt(57))
    assert a1.longest_silence_90d == 19
    assert a1.days_to_follow_up_after_meeting_90d == 1  # meeting 5 Jan, email 6 Jan
    assert a1.meetings_followed_up_within_2_days_share_90d == 1
    assert a1.days_to_answer_inbound_90d == 1  # inbound 25 Jan, call 26 Jan


def test_reach_timing_and_intent(accounts):
    a1 = accounts.loc[("a1", FEB)]
    assert a1.distinct_contacts_90d == 3
    assert bool(a1.reached_decision_maker_90d)
    assert a1.discovery_call_share_90d == 0.5  # x1 discovery, x6 support
    assert a1.business_hours_call_share_90d == 1.0  # emea: 10:30 and 09:00 local, weekdays
    assert pd.isna(accounts.loc[("a2", FEB)].business_hours_call_share_90d)  # unknown region


def test_case_outcomes_count_only_from_close(accounts):
    feb, mar = accounts.loc[("a1", FEB)], accounts.loc[("a1", MAR)]
    assert feb.open_cases == 1  # k2 opened 30 Jan, closed 5 Feb
    assert feb.first_contact_resolution_rate_180d == 1.0  # only k1 closed by then
    assert feb.avg_case_csat_180d == 5.0
    assert mar.first_contact_resolution_rate_180d == 0.5
    assert mar.escalation_rate_180d == 0.5
    assert mar.avg_hours_to_resolve_180d == pytest.approx((24 + 144) / 2)


def test_latest_nps_of_the_day_and_change(accounts):
    a1 = accounts.loc[("a1", FEB)]
    assert a1.latest_nps == 4  # 18:00 beats 09:00 on 15 Jan
    assert a1.nps_change_since_previous == -5  # against 9 on 1 Dec
    assert bool(a1.is_nps_detractor) and not bool(a1.is_nps_promoter)


def test_deal_stage_features(deals):
    jan1 = deals.loc[("o1", pd.Timestamp("2024-01-01"))]
    assert jan1.current_stage == "Prospecting"
    assert jan1.days_in_current_stage == 12
    assert jan1.days_in_stage_vs_norm == pytest.approx(12 / 31)  # o2 stayed 31 days
    assert jan1.rep_win_rate == 0.0 and jan1.rep_closed_deals == 1  # o2 lost in Nov
    entry = deals.loc[("o1", pd.Timestamp("2024-01-16"))]  # snapshot after entering Qualification
    assert entry.snapshot == "stage_entry"
    assert entry.current_stage == "Qualification"
    assert entry.stage_regressions == 1  # Discovery -> Qualification moves back
    assert deals.loc[("o1", MAR)].current_stage == "Proposal"
    assert ("o3", MAR) not in deals.index  # closed on 20 Jan


def test_midnight_cutoffs_only(toy):
    with pytest.raises(ValueError, match="not midnight"):
        compute_features(toy, "account", ["2024-02-01 12:00"])


def test_missing_optional_tables_switch_families_off(toy, caplog):
    tables = {k: v for k, v in toy.items() if k not in ("cases", "nps")}
    with caplog.at_level("INFO", logger="features.engine"):
        frame = compute_features(tables, "account", [FEB])
    assert "open_cases" not in frame and "latest_nps" not in frame
    assert "touches_per_week_30d" in frame
    assert "open_cases (service_quality) switched off: no cases table" in caplog.text


def test_resolution_hours_do_not_depend_on_the_order_rows_arrive_in(toy):
    """The warehouse build and the scoring job read the same cases in different orders; the
    average must come out bit for bit the same. Resolution times are summed in whole
    microseconds, so the answer is the exact mean of those, in hours."""
    rng = np.random.default_rng(7)
    n = 200
    opened = pd.Timestamp("2024-01-02") + pd.to_timedelta(rng.integers(0, 10**12, n), unit="us")
    took_us = rng.integers(1, 10 * 86_400 * 10**6, n)
    extra = pd.DataFrame(
        {
            "case_id": [f"m{i}" for i in range(n)],
            "account_id": "a1",
            "opened_at": opened,
            "closed_at": opened + pd.to_timedelta(took_us, unit="us"),
            "priority": "low",
            "first_contact_resolved": pd.array([True] * n, dtype="boolean"),
            "csat": 4.0,
            "escalated": pd.array([False] * n, dtype="boolean"),
        }
    )
    toy["cases"] = extra  # only these, all closed in January or February
    forward = compute_features(toy, "account", [MAR]).set_index("account_id")
    toy["cases"] = extra.iloc[::-1].reset_index(drop=True)
    backward = compute_features(toy, "account", [MAR]).set_index("account_id")
    hours = forward.loc["a1", "avg_hours_to_resolve_180d"]
    assert hours == backward.loc["a1", "avg_hours_to_resolve_180d"]
    assert hours == float(took_us.sum()) / n / 3_600_000_000


def test_call_minutes_and_ratings_do_not_depend_on_the_order_rows_arrive_in(toy):
    """Fractional call durations and ratings are summed as whole milliseconds and thousandths,
    so their averages are exact and the same in any row order."""
    rng = np.random.default_rng(11)
    n = 300
    seconds = rng.uniform(1, 3600, n)
    ratings = rng.uniform(1, 5, n)
    calls = pd.DataFrame(
        {
            "activity_id": [f"y{i}" for i in range(n)],
            "account_id": "a1",
            "occurred_at": pd.Timestamp("2024-02-01")
            + pd.to_timedelta(rng.integers(0, 27 * 86_400, n), unit="s"),
            "type": "call",
            "opportunity_id": None,
            "contact_id": "c1",
            "contact_role": "champion",
            "direction": "outbound",
            "duration_s": seconds,
            "outcome": "connected",
            "reached_decision_maker": pd.array([False] * n, dtype="boolean"),
            "objective": "check_in",
            "rating": ratings,
            "logged_at": pd.NaT,
        }
    )
    toy["activities"] = calls
    forward = compute_features(toy, "account", [MAR]).set_index("account_id").loc["a1"]
    toy["activities"] = calls.iloc[::-1].reset_index(drop=True)
    backward = compute_features(toy, "account", [MAR]).set_index("account_id").loc["a1"]
    for name in ("avg_connected_call_minutes_90d", "avg_interaction_rating_90d"):
        assert forward[name] == backward[name], name
    assert forward.avg_connected_call_minutes_90d == np.round(seconds * 1000).sum() / n / 60_000
    assert forward.avg_interaction_rating_90d == np.round(ratings * 1000).sum() / n / 1000


def test_switched_off_notes_and_churn_words_read_as_sentences():
    from features.engine import active_features
    from features.label_config import ResolvedChurn

    _, notes = active_features("opportunity", {"accounts", "activities"})
    assert (
        "current_stage (pipeline) switched off: no opportunities, opportunity_stages tables"
        in notes
    )
    _, notes = active_features("opportunity", {"opportunities", "accounts", "activities"})
    assert "current_stage (pipeline) switched off: no opportunity_stages table" in notes
    churn = ResolvedChurn("inactivity", 90, 60, ("other",), "given")
    assert churn.describe().startswith(
        "churn = inactivity: 60 days without activity (other) within"
    )
    purchases = ResolvedChurn("no_activity", 90, 60, ("purchase",), "given")
    assert "no activity (purchase) in the horizon" in purchases.describe()
