"""Rep-trend features and rep-attrition labels: known answers and point in time.

A small company where every figure can be counted by hand: rep r1 slumps (24 touches in the six
months before the last 90 days, 3 in them), r2 is steady and was hired recently, r3 left before
the cutoff, r4 is hired after it, and r5 leaves 40 days after it.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from features.engine import compute_features
from features.labels import rep_attrition_labels

T = pd.Timestamp
CUTOFF = T("2024-07-01")


def _touches(rep: str, account: str, days: list[str], logged: dict | None = None) -> list[dict]:
    logged = logged or {}
    return [
        {
            "activity_id": f"{rep}-{account}-{i}",
            "account_id": account,
            "rep_id": rep,
            "occurred_at": T(day),
            "logged_at": logged.get(day, pd.NaT),
            "type": "call",
            "outcome": "connected",
            "direction": "outbound",
            "duration_s": 300.0,
        }
        for i, day in enumerate(days)
    ]


def company() -> dict[str, pd.DataFrame]:
    """Five reps and what they did; every window boundary of the 1 July 2024 cutoff is crossed."""
    reps = pd.DataFrame(
        {
            "rep_id": ["r1", "r2", "r3", "r4", "r5"],
            "team": ["sales", "sales", "sales", "sales", "account_management"],
            "hired_at": [
                T("2020-01-01"),
                T("2024-01-01"),
                T("2019-01-01"),
                T("2024-08-01"),
                pd.NaT,
            ],
            "left_at": [pd.NaT, pd.NaT, T("2024-05-01"), pd.NaT, T("2024-08-10")],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3"],
            "created_at": [T("2022-01-01")] * 3,
            "owner_rep_id": ["r1", "r2", "r5"],
            "churned_at": [T("2024-05-15"), pd.NaT, T("2024-07-05")],
        }
    )
    # Recent window: 2024-04-02 .. 2024-06-30 (90 days); prior: 2023-10-05 .. 2024-04-01.
    prior = [f"2023-{m:02d}-{d:02d}" for m in (11, 12) for d in (1, 5, 9, 13, 17, 21)]
    prior += [f"2024-{m:02d}-{d:02d}" for m in (1, 2) for d in (1, 5, 9, 13, 17, 21)]
    rows = _touches("r1", "a1", prior)  # 24 in the prior window
    rows += _touches("r1", "a1", ["2024-04-10", "2024-05-01", "2024-05-10"])  # 3 recent
    rows += _touches("r1", "a1", ["2024-06-20"], logged={"2024-06-20": "2024-07-02"})  # late
    rows += _touches("r1", "a1", ["2024-07-01", "2024-07-15"])  # at and after the cutoff
    rows += _touches("r1", "a1", ["2023-09-01"])  # older than both windows
    rows += _touches("r2", "a2", [f"2024-{m:02d}-10" for m in range(1, 7)])  # 3 prior, 3 recent
    rows += _touches("r5", "a3", ["2024-06-01", "2024-06-02"])
    activities = pd.DataFrame(rows)
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3", "o4", "o5"],
            "account_id": ["a1", "a1", "a1", "a2", "a2"],
            "owner_rep_id": ["r1", "r1", "r1", "r2", "r2"],
            "created_at": [T("2023-01-01")] * 5,
            "closed_at": [
                T("2024-03-01"),
                T("2024-06-01"),
                T("2023-08-01"),
                T("2024-07-01"),
                pd.NaT,
            ],
            "outcome": ["won", "lost", "won", "won", "open"],
            "amount": [1000.0] * 5,
            "type": ["new_business"] * 5,
        }
    )
    return {
        "reps": reps,
        "accounts": accounts,
        "activities": activities,
        "opportunities": opportunities,
    }


def features(tables: dict[str, pd.DataFrame], cutoffs=(CUTOFF,)) -> pd.DataFrame:
    frame = compute_features(tables, "rep", list(cutoffs), stage_entry_snapshots=False)
    return frame.set_index(["rep_id", "cutoff"])


def test_rep_trend_known_answers() -> None:
    frame = features(company())
    # r3 left before the cutoff and r4 is hired after it: neither is a rep at the cutoff.
    assert set(frame.index.get_level_values("rep_id")) == {"r1", "r2", "r5"}
    r1, r2, r5 = (frame.loc[(rep, CUTOFF)] for rep in ("r1", "r2", "r5"))
    # r1: 3 touches in the last 90 days (the one logged after the cutoff is not known yet)
    assert r1["rep_touches_per_week_90d"] == pytest.approx(3 / (90 / 7))
    assert r1["rep_activity_trend"] == pytest.approx((3 / 90) / (24 / 180))
    assert r2["rep_activity_trend"] == pytest.approx((3 / 90) / (3 / 180))
    assert r5["rep_activity_trend"] is pd.NA or pd.isna(r5["rep_activity_trend"])  # no baseline
    # r1 closed o2 (lost, 1 June) in the last 180 days; o1 (won, 1 March) too; o3 (Aug 2023) in
    # the 360 days before. o4 closes on the cutoff day: not yet.
    assert r1["rep_deals_closed_180d"] == 2
    assert r1["rep_win_rate_180d"] == pytest.approx(0.5)
    assert r1["rep_win_rate_change"] == pytest.approx(0.5 - 1.0)
    assert r2["rep_deals_closed_180d"] == 0 and pd.isna(r2["rep_win_rate_180d"])
    # a1 churned on 15 May after r1's touches; a3 churns after the cutoff.
    assert r1["rep_accounts_lost_180d"] == 1
    assert r5["rep_accounts_lost_180d"] == 0
    assert r2["rep_tenure_months"] == pytest.approx((CUTOFF - T("2024-01-01")).days / 30.44)
    assert pd.isna(r5["rep_tenure_months"])  # no hire date


def the_future_rewritten(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Everything that happens at or after the cutoff changed: more touches, other deal outcomes,
    departures, churn, and the owners a departure hands accounts and open deals to."""
    out = {name: frame.copy() for name, frame in tables.items()}
    a = out["activities"]
    late = a["occurred_at"] >= CUTOFF
    a.loc[late, "rep_id"] = "r2"
    extra = pd.DataFrame(_touches("r1", "a1", ["2024-07-02", "2024-08-01", "2024-09-01"] * 5))
    extra["activity_id"] += "-future"
    out["activities"] = pd.concat([a, extra], ignore_index=True)
    o = out["opportunities"]
    o.loc[o["closed_at"] >= CUTOFF, "outcome"] = "lost"
    o.loc[o["opportunity_id"] == "o5", ["closed_at", "outcome"]] = [T("2024-07-20"), "won"]
    o["owner_rep_id"] = o["owner_rep_id"].where(o["closed_at"] < CUTOFF, "r5")
    r = out["reps"]
    r.loc[r["rep_id"].isin(["r1", "r2"]), "left_at"] = T("2024-07-01")
    r.loc[r["rep_id"] == "r5", "left_at"] = pd.NaT
    acc = out["accounts"]
    acc["owner_rep_id"] = "r5"
    acc.loc[acc["account_id"] == "a2", "churned_at"] = T("2024-07-01")
    return out


def test_rep_trend_never_reads_at_or_after_the_cutoff() -> None:
    before = features(company())
    after = features(the_future_rewritten(company()))
    assert_frame_equal(before, after)
    earlier = [T("2024-03-01"), CUTOFF]
    assert_frame_equal(
        features(company(), earlier).loc[(slice(None), T("2024-03-01")), :],
        features(the_future_rewritten(company()), earlier).loc[(slice(None), T("2024-03-01")), :],
    )


def test_rep_attrition_labels_come_from_after_the_cutoff() -> None:
    cutoffs = [T("2024-03-01"), CUTOFF, T("2024-10-01")]
    labels = rep_attrition_labels(company(), cutoffs, horizon_days=90, data_end=T("2024-12-15"))
    got = {(r.rep_id, r.cutoff): r.label for r in labels.itertuples()}
    # r5 leaves on 10 Aug: within 90 days of 1 July, not of 1 March; r3 left on 1 May: a
    # departure within 90 days of 1 March and no rep after it; r4 joins in August.
    assert got == {
        ("r1", T("2024-03-01")): 0,
        ("r1", CUTOFF): 0,
        ("r2", T("2024-03-01")): 0,
        ("r2", CUTOFF): 0,
        ("r3", T("2024-03-01")): 1,
        ("r5", T("2024-03-01")): 0,
        ("r5", CUTOFF): 1,
    }  # 1 October's labels are not known by 15 December
    assert (labels["label_time"] == labels["cutoff"] + pd.Timedelta(days=90)).all()
    # The population is the features' population: the same reps at the same cutoffs.
    frame = features(company(), cutoffs[:2]).reset_index()
    assert set(zip(frame.rep_id, frame.cutoff, strict=True)) == set(got)


def test_rep_features_need_a_reps_table() -> None:
    tables = company()
    del tables["reps"]
    with pytest.raises(ValueError, match="rep features need the reps table"):
        compute_features(tables, "rep", [CUTOFF])
