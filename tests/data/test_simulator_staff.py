"""The simulator's planted reps and rep attrition show in the exported data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data.simulator import PLANTED_FILE, planted_reps, simulate, simulate_chunks, write_export
from tests.data.conftest import N_ACCOUNTS, SEED


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return planted_reps(N_ACCOUNTS, seed=SEED).set_index("flaw", drop=False)


def _deal_touches(sim: dict, rep: str) -> pd.DataFrame:
    opp = sim["opportunities"]
    mine = opp.loc[opp.owner_rep_id == rep, "opportunity_id"]
    act = sim["activities"]
    return act[act.opportunity_id.isin(mine) & act.type.isin(["call", "email", "meeting", "demo"])]


def test_planted_reps_are_sales_reps_with_big_books_who_stay(sim, planted):
    assert list(planted.flaw) == [
        "single_threaded",
        "slow_follow_up",
        "no_decision_maker",
        "clean",
        "clean",
        "clean",
    ]
    reps = sim["reps"].set_index("rep_id").loc[planted.rep_id]
    assert (reps.team == "sales").all() and reps.left_at.isna().all()
    closed = sim["opportunities"].query("outcome != 'open'")
    per_rep = closed.groupby("owner_rep_id").size()
    others = per_rep.drop(planted.rep_id, errors="ignore")
    sales = set(sim["reps"].query("team == 'sales'").rep_id)
    assert per_rep.loc[planted.rep_id].min() > 2 * others[others.index.isin(sales)].median()


def test_planted_flaws_show_in_the_activities(sim, planted):
    never = _deal_touches(sim, planted.loc["no_decision_maker", "rep_id"])
    assert len(never) > 500 and not never.reached_decision_maker.fillna(False).any()
    single = _deal_touches(sim, planted.loc["single_threaded", "rep_id"])
    contacts = single.groupby("opportunity_id").contact_id.nunique()
    assert (contacts <= 2).mean() > 0.8  # one contact besides the decision maker
    clean = _deal_touches(sim, planted.rep_id.iloc[3])
    assert clean.groupby("opportunity_id").contact_id.nunique().median() >= 3


def test_planted_reps_file_is_written_and_empty_for_a_small_company(tmp_path):
    write_export(simulate_chunks(25, seed=7), tmp_path)
    assert json.loads((tmp_path / PLANTED_FILE).read_text()) == []
    assert planted_reps(25, seed=7).empty


def test_leavers_do_no_work_after_leaving_and_hand_over_their_book(sim):
    reps = sim["reps"].set_index("rep_id")
    left = reps.left_at.dropna()
    assert len(left) >= 5 and set(reps.loc[left.index, "team"]) <= {"sales", "account_management"}
    assert reps.loc[reps.manager_id.isna(), "left_at"].isna().all()  # managers stay
    act = sim["activities"].join(reps.left_at, on="rep_id")
    assert not (act.occurred_at >= act.left_at).any()
    cases = sim["cases"].join(reps.left_at, on="rep_id")
    assert not (cases.opened_at >= cases.left_at).any()
    assert not sim["accounts"].owner_rep_id.isin(left.index).any()  # owned by who is in post
    opp = sim["opportunities"].join(reps.left_at, on="owner_rep_id")
    assert not (opp.outcome.eq("open") & opp.left_at.notna()).any()


def _activity_ratio(activities: pd.DataFrame, rep: str, at: pd.Timestamp) -> float:
    """The rep's activities per day in the 90 days before `at` over the 180 days before those."""
    when = activities.loc[activities.rep_id == rep, "occurred_at"]
    recent = when.between(at - pd.Timedelta(days=90), at, inclusive="left").sum() / 90
    before = when.between(
        at - pd.Timedelta(days=270), at - pd.Timedelta(days=90), inclusive="left"
    ).sum()
    return recent / (before / 180) if before else np.nan


def test_reps_leave_after_their_activity_slumps():
    """Leavers' activity in the 3 months before they leave, against their 6 months before that,
    is well below what staying reps show over the same kind of window."""
    sim = simulate(3000, seed=SEED)
    reps = sim["reps"]
    act = sim["activities"]
    start = pd.Timestamp("2023-10-01")  # 9 months of history
    leavers = reps[reps.left_at >= start]
    stayers = reps[reps.left_at.isna() & reps.manager_id.notna() & (reps.team != "service")]
    rng = np.random.default_rng(0)
    at = start + pd.to_timedelta(rng.integers(0, 600, len(stayers)), unit="D")
    left_ratio = [_activity_ratio(act, r.rep_id, r.left_at) for r in leavers.itertuples()]
    stay_ratio = [_activity_ratio(act, r, t) for r, t in zip(stayers.rep_id, at, strict=True)]
    assert len(leavers) >= 15
    assert np.nanmedian(left_ratio) < 0.85 * np.nanmedian(stay_ratio)
