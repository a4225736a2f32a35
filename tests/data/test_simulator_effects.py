"""The documented behaviour effects show up in the raw simulated data (fixed seed, 1,500 accounts).

Churn: 90-day churn after quarterly cutoffs, by trailing-90-day behaviour. Deals: win rate of
closed deals by the behaviour on their activities. Besides directions, the tests check the
documented shapes (steps, saturation, interactions). Margins are well inside what the seed shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.simulator import TRUE_EFFECTS
from data.simulator.effects import logit


def _rates(outcome: pd.Series, flag: pd.Series, smallest: int = 50) -> tuple[float, float]:
    """Outcome rate where the flag holds, and where it does not."""
    flag = flag.astype(bool)
    assert flag.sum() >= smallest and (~flag).sum() >= smallest, "groups too small to compare"
    return outcome[flag].mean(), outcome[~flag].mean()


def _rate(outcome: pd.Series, rows: pd.Series, smallest: int = 50) -> float:
    assert rows.sum() >= smallest, "group too small"
    return outcome[rows].mean()


def test_panel_has_enough_churn_to_compare(churn_panel):
    assert churn_panel.churned.sum() >= 100
    assert 0.01 < churn_panel.churned.mean() < 0.06


def test_silent_accounts_churn_more(churn_panel):
    silent, active = _rates(churn_panel.churned, churn_panel.acts_60d == 0)
    assert silent > 3 * active


def test_a_second_unresolved_case_raises_churn(churn_panel):
    """Step: one unresolved case is tolerated, the second one hurts."""
    c, unresolved = churn_panel.churned, churn_panel.unresolved
    none, two = _rate(c, unresolved == 0), _rate(c, unresolved >= 2)
    assert two > 1.4 * none


def test_escalations_raise_churn(churn_panel):
    some, none = _rates(churn_panel.churned, churn_panel.escalated >= 1)
    assert some > 1.8 * none


def test_reaching_the_decision_maker_lowers_churn(churn_panel):
    reached, not_reached = _rates(churn_panel.churned, churn_panel.dm_reached >= 1)
    assert not_reached > 2 * reached


def test_longer_calls_lower_churn_up_to_ten_minutes_then_stop_helping(churn_panel):
    c, minutes = churn_panel.churned, churn_panel.call_minutes
    short = _rate(c, minutes < 4)
    ten_to_14, over_14 = _rate(c, minutes.between(10, 14)), _rate(c, minutes > 14)
    assert short > 1.5 * ten_to_14
    assert over_14 > 0.6 * ten_to_14  # saturated: much longer calls are not much better


def test_multithreaded_accounts_churn_less(churn_panel):
    c, contacts = churn_panel.churned, churn_panel.contacts
    assert _rate(c, contacts == 1) > 2 * _rate(c, contacts >= 3)


def test_reaching_the_decision_maker_wins_large_deals(deal_panel):
    """Interaction: not reaching the decision maker costs large deals far more than small ones."""
    big, small = deal_panel[deal_panel.amount >= 100_000], deal_panel[deal_panel.amount < 20_000]
    big_reached, big_not = _rates(big.won, big.dm_reached, smallest=30)
    small_reached, small_not = _rates(small.won, small.dm_reached)
    assert big_reached - big_not > 0.2
    assert small_reached - small_not > 0.08
    # relative terms: large deals keep a far smaller share of their win rate without the DM
    assert big_not / big_reached < 0.5 * small_not / small_reached


def test_multithreading_matters_mainly_for_large_deals(deal_panel):
    big, small = deal_panel[deal_panel.amount >= 100_000], deal_panel[deal_panel.amount < 20_000]
    big_many, big_few = _rates(big.won, big.contacts >= 3, smallest=30)
    small_many, small_few = _rates(small.won, small.contacts >= 3)
    assert big_many - big_few > 0.25
    assert small_many - small_few > 0.03
    assert big_many - big_few > small_many - small_few + 0.1


def test_long_calls_win_deals(deal_panel):
    minutes = deal_panel.call_minutes
    long_calls, short_calls = _rates(deal_panel.won, minutes > minutes.median())
    assert long_calls - short_calls > 0.05


def test_deal_cadence_helps_then_saturates(deal_panel):
    won, per_week = deal_panel.won, deal_panel.per_week
    quiet, steady = _rate(won, per_week < 1), _rate(won, per_week.between(2.5, 4))
    busy = _rate(won, per_week > 4)
    assert steady - quiet > 0.25
    assert abs(busy - steady) < 0.1  # beyond 2.5 a week more activity adds little


def test_follow_up_slower_than_two_days_loses_deals_faster_does_not_help(deal_panel):
    won, days = deal_panel.won, deal_panel.followup_days
    same_day, next_day = _rate(won, days < 1), _rate(won, days.between(1, 2))
    slow = _rate(won, days > 4)
    assert min(same_day, next_day) - slow > 0.1
    assert same_day - next_day < 0.08


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
    assert documented[("deal_win", "deal_amount")] == -1


def _grid(effects, rng: np.random.Generator, n: int = 4000) -> dict[str, np.ndarray]:
    """Random behaviour rows covering every effect's ramp (and the interactions' modifiers)."""
    names = {e.behaviour: e.ramp for e in effects}
    names |= {e.interaction.with_: e.interaction.ramp for e in effects if e.interaction}
    out = {}
    for name, (a, b) in names.items():
        low, high = min(a, b), max(a, b)
        span = high - low
        out[name] = rng.uniform(low - span, high + span, n)
    return out


@pytest.mark.parametrize("outcome", ["churn", "deal_win", "rep_attrition"])
def test_every_effect_is_monotone_in_its_documented_direction(outcome):
    """All else equal, more of a behaviour moves the logit only in its documented direction,
    interactions included; and each effect really turns (it is not flat)."""
    effects = tuple(e for e in TRUE_EFFECTS if e.outcome == outcome)
    x = _grid(effects, np.random.default_rng(0))
    for e in effects:
        a, b = e.ramp
        for step in (0.05 * (b - a), b - a):
            moved = dict(x) | {e.behaviour: x[e.behaviour] + step}
            change = logit(0.0, effects, moved) - logit(0.0, effects, x)
            assert np.all(e.direction * change >= -1e-12), e.behaviour
        inside = dict(x) | {e.behaviour: np.full(len(x[e.behaviour]), a)}
        full = dict(x) | {e.behaviour: np.full(len(x[e.behaviour]), b)}
        turned = logit(0.0, effects, full) - logit(0.0, effects, inside)
        assert np.all(e.direction * turned > 0), e.behaviour
