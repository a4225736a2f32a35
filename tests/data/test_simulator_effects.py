"""The documented behaviour effects show up in the raw simulated data (fixed seed, 1,500 accounts).

Churn: 90-day churn after quarterly cutoffs, by trailing-90-day behaviour. Deals: win rate of
closed deals by the behaviour on their activities. Margins are well inside what the seed shows.
"""

from __future__ import annotations

import pandas as pd

from data.simulator import TRUE_EFFECTS


def _rates(outcome: pd.Series, flag: pd.Series) -> tuple[float, float]:
    """Outcome rate where the flag holds, and where it does not."""
    flag = flag.astype(bool)
    assert flag.sum() >= 50 and (~flag).sum() >= 50, "groups too small to compare"
    return outcome[flag].mean(), outcome[~flag].mean()


def test_panel_has_enough_churn_to_compare(churn_panel):
    assert churn_panel.churned.sum() >= 100
    assert 0.01 < churn_panel.churned.mean() < 0.06


def test_silent_accounts_churn_more(churn_panel):
    silent, active = _rates(churn_panel.churned, churn_panel.acts_60d == 0)
    assert silent > 3 * active


def test_unresolved_cases_raise_churn(churn_panel):
    some, none = _rates(churn_panel.churned, churn_panel.unresolved >= 1)
    assert some > 1.4 * none


def test_escalations_raise_churn(churn_panel):
    some, none = _rates(churn_panel.churned, churn_panel.escalated >= 1)
    assert some > 1.8 * none


def test_reaching_the_decision_maker_lowers_churn(churn_panel):
    reached, not_reached = _rates(churn_panel.churned, churn_panel.dm_reached >= 1)
    assert not_reached > 2 * reached


def test_long_connected_calls_lower_churn(churn_panel):
    minutes = churn_panel.call_minutes
    long_calls, short_calls = _rates(churn_panel.churned, minutes > minutes.median())
    assert short_calls > 1.8 * long_calls


def test_multithreaded_accounts_churn_less(churn_panel):
    many, few = _rates(churn_panel.churned, churn_panel.contacts >= 4)
    assert few > 1.8 * many


def test_reaching_the_decision_maker_wins_deals(deal_panel):
    reached, not_reached = _rates(deal_panel.won, deal_panel.dm_reached)
    assert reached - not_reached > 0.3


def test_multithreaded_deals_win_more(deal_panel):
    many, few = _rates(deal_panel.won, deal_panel.contacts >= 3)
    assert many - few > 0.15


def test_long_calls_and_cadence_win_deals(deal_panel):
    minutes, per_week = deal_panel.call_minutes, deal_panel.per_week
    long_calls, short_calls = _rates(deal_panel.won, minutes > minutes.median())
    busy, quiet = _rates(deal_panel.won, per_week > per_week.median())
    assert long_calls - short_calls > 0.08
    assert busy - quiet > 0.2


def test_fast_follow_up_wins_deals(deal_panel):
    fast, slow = _rates(deal_panel.won, deal_panel.followup_days < 1)
    assert fast - slow > 0.08


def test_renewals_win_more_often(deal_panel):
    renewal, other = _rates(deal_panel.won, deal_panel.renewal)
    assert renewal - other > 0.05


def test_every_effect_tested_here_is_documented_with_its_direction():
    documented = {(e.outcome, e.behaviour): e.direction for e in TRUE_EFFECTS}
    assert documented[("churn", "silence_60d")] == +1
    assert documented[("churn", "unresolved_cases")] == +1
    assert documented[("churn", "escalations")] == +1
    assert documented[("churn", "decision_maker_reached")] == -1
    assert documented[("churn", "connected_call_minutes")] == -1
    assert documented[("churn", "distinct_contacts")] == -1
    for behaviour in (
        "decision_maker_reached",
        "distinct_contacts",
        "connected_call_minutes",
        "activities_per_week",
        "renewal",
    ):
        assert documented[("deal_win", behaviour)] == +1
    assert documented[("deal_win", "followup_delay_days")] == -1
