"""Data-contract tests on the simulator's output: schema, nulls, keys, references, enums, ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer.settings import DEFAULT_STAGE_ORDER
from data.contract import TABLES
from data.simulator import STAGE_ORDER, simulate

START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-07-01")


def test_every_table_has_exactly_the_contract_columns(sim):
    assert set(sim) == set(TABLES)
    for name, table in TABLES.items():
        assert tuple(sim[name].columns) == table.names, name
        # the simulator records churn on accounts.churned_at, so it writes no churn events
        assert (len(sim[name]) > 0) == (name != "churn_events"), name


def test_timestamps_are_naive(sim):
    for name, table in TABLES.items():
        for col in table.columns:
            if col.kind == "timestamp":
                dtype = sim[name][col.name].dtype
                assert pd.api.types.is_datetime64_dtype(dtype), (name, col.name, dtype)
                assert getattr(dtype, "tz", None) is None


@pytest.mark.parametrize("name", list(TABLES))
def test_required_columns_are_never_null(sim, name):
    for col in TABLES[name].required:
        assert sim[name][col].notna().all(), (name, col)


@pytest.mark.parametrize("name", list(TABLES))
def test_keys_are_unique(sim, name):
    assert not sim[name].duplicated(list(TABLES[name].key)).any()


@pytest.mark.parametrize("name", list(TABLES))
def test_references_resolve(sim, name):
    for col in TABLES[name].columns:
        if col.references:
            target, key = col.references.split(".")
            values = sim[name][col.name].dropna()
            assert values.isin(sim[target][key]).all(), (name, col.name)


@pytest.mark.parametrize("name", list(TABLES))
def test_enums_and_ranges(sim, name):
    for col in TABLES[name].columns:
        values = sim[name][col.name].dropna()
        if col.kind == "enum":
            unknown = set(values.unique()) - set(col.values)
            assert not unknown, (name, col.name, unknown)
        if col.min is not None:
            assert (values >= col.min).all(), (name, col.name)
        if col.max is not None:
            assert (values <= col.max).all(), (name, col.name)


def test_activities_happen_while_the_account_is_a_customer(sim):
    act = sim["activities"].merge(sim["accounts"], on="account_id", suffixes=("", "_acc"))
    assert (act.occurred_at >= act.created_at).all()
    assert not (act.occurred_at >= act.churned_at).any()
    assert (act.occurred_at >= START).all() and (act.logged_at < END).all()
    assert (act.logged_at >= act.occurred_at).all()


def test_some_activities_are_logged_days_late(sim):
    act = sim["activities"]
    late = (act.logged_at - act.occurred_at) > pd.Timedelta(days=1)
    assert 0.05 < late.mean() < 0.4


def test_calls_carry_the_call_fields(sim):
    act = sim["activities"]
    calls = act[(act.type == "call") & act.rep_id.notna()]
    assert set(calls.outcome.unique()) <= {"connected", "voicemail", "no_answer", "sent"}
    connected = calls[calls.outcome == "connected"]
    assert connected.duration_s.gt(0).all() and connected.contact_id.notna().all()
    dm = act[act.reached_decision_maker.to_numpy(bool, na_value=False)]
    assert len(dm) > 0 and (dm.contact_role == "decision_maker").all()
    assert {"discovery", "follow_up", "support", "check_in"} <= set(act.objective.dropna().unique())
    assert {"call", "email", "meeting", "demo", "note", "task"} <= set(act.type.unique())
    assert act.rating.notna().any()


def test_accounts_cover_segments_growth_and_churn(sim):
    acc = sim["accounts"]
    assert set(acc.segment) == {"smb", "mid_market", "enterprise"}
    joined = acc.created_at >= START
    assert 0.2 < joined.mean() < 0.5
    churned = acc.churned_at.notna()
    assert 0.08 < churned.mean() < 0.25
    assert (acc.churned_at[churned] > acc.created_at[churned]).all()
    assert (acc.churned_at[churned] < END).all()


def test_reps_have_teams_and_managers_in_the_same_team(sim):
    reps = sim["reps"].set_index("rep_id")
    assert set(reps.team) == {"sales", "service", "account_management"}
    managed = reps[reps.manager_id.notna()]
    assert managed.manager_id.isin(reps.index).all()
    assert (reps.loc[managed.manager_id, "team"].to_numpy() == managed.team.to_numpy()).all()
    assert reps.loc[managed.manager_id].manager_id.isna().all()


def test_cases_close_after_opening_and_some_are_still_open(sim):
    cases = sim["cases"]
    closed = cases.closed_at.notna()
    assert (cases.closed_at[closed] >= cases.opened_at[closed]).all()
    assert 0 < (~closed).sum() < 0.05 * len(cases)
    # outcome fields are known at close only
    assert cases.loc[~closed, ["first_contact_resolved", "csat", "escalated"]].isna().all().all()
    assert cases.first_contact_resolved.notna().sum() > 0 and cases.escalated.sum() > 0


def test_opportunities_outcomes_and_close_dates_agree(sim):
    opp = sim["opportunities"]
    is_open = opp.outcome == "open"
    assert opp.closed_at[is_open].isna().all() and opp.closed_at[~is_open].notna().all()
    assert (opp.closed_at[~is_open] >= opp.created_at[~is_open]).all()
    assert set(opp.outcome) == {"won", "lost", "open"}
    assert {"new_business", "upsell", "cross_sell", "renewal"} <= set(opp.type)
    assert (opp.source_rep_id != opp.owner_rep_id).any()  # some deals sourced by service reps


def test_stage_history_walks_the_configured_order(sim):
    # The default order knows the simulator's stages (and Salesforce's), in the simulator's order.
    positions = [DEFAULT_STAGE_ORDER.index(stage) for stage in STAGE_ORDER]
    assert positions == sorted(positions)
    stages = sim["opportunity_stages"].sort_values(["opportunity_id", "entered_at"])
    assert set(stages.stage) <= set(STAGE_ORDER)
    opp = sim["opportunities"].set_index("opportunity_id")
    first = stages.groupby("opportunity_id").first()
    assert (first.stage == STAGE_ORDER[0]).all()
    assert (first.entered_at == opp.loc[first.index, "created_at"]).all()
    rank = stages.stage.map({s: i for i, s in enumerate(STAGE_ORDER)})
    step = rank.groupby(stages.opportunity_id).diff().dropna()
    assert set(step) <= {1.0, -1.0} and (step == -1).any()  # one stage at a time, some regress
    won = opp.index[opp.outcome == "won"]
    reached = stages.groupby("opportunity_id").stage.nunique()
    assert (reached.loc[won] == len(STAGE_ORDER)).all()
    closed = stages.merge(opp.reset_index(), on="opportunity_id")
    assert not (closed.entered_at > closed.closed_at).any()


def test_activities_link_to_their_deals(sim):
    act = sim["activities"].dropna(subset=["opportunity_id"])
    opp = sim["opportunities"].set_index("opportunity_id").loc[act.opportunity_id]
    assert (act.account_id.to_numpy() == opp.account_id.to_numpy()).all()
    assert (act.occurred_at.to_numpy() >= opp.created_at.to_numpy()).all()


def test_nps_is_quarterly_for_some_accounts(sim):
    nps = sim["nps"]
    assert set(nps.responded_at.dt.month) == {2, 5, 8, 11}
    assert 0.2 < nps.account_id.nunique() / len(sim["accounts"]) < 0.6
    assert np.isin(nps.score, np.arange(11)).all()


def test_small_and_odd_sizes_work():
    one = simulate(1, seed=3, months=12)
    assert len(one["accounts"]) == 1 and len(one["reps"]) > 0
    chunked = simulate(7, seed=3, chunk_accounts=3)
    assert chunked["accounts"].account_id.is_unique and len(chunked["accounts"]) == 7
    assert chunked["activities"].activity_id.is_unique


def test_rejects_no_accounts():
    with pytest.raises(ValueError, match="n_accounts"):
        simulate(0, seed=1)
