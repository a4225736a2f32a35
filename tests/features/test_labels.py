"""Labels on hand-made cases with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from features.labels import churn_labels, deal_win_labels

T = pd.Timestamp
FEB, MAR, APR = T("2024-02-01"), T("2024-03-01"), T("2024-04-01")


def _accounts(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "created_at", "churned_at"])


def _activities(account: str, days: pd.DatetimeIndex, kind: str = "usage") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "activity_id": [f"{account}-{i}" for i in range(len(days))],
            "account_id": account,
            "occurred_at": days,
            "type": kind,
        }
    )


@pytest.fixture
def explicit() -> pd.DataFrame:
    accounts = _accounts(
        [
            ("on_cutoff", T("2023-01-01"), T("2024-02-01")),  # churns exactly at the Feb cutoff
            ("just_before", T("2023-01-01"), T("2024-01-31 23:59")),
            ("later", T("2023-01-01"), T("2024-06-15")),
            ("new", T("2024-02-15"), pd.NaT),  # created after the Feb cutoff
            ("reactivated", T("2023-01-01"), pd.NaT),  # churned once, came back: export shows null
        ]
    )
    tables = {"accounts": accounts, "activities": _activities("later", pd.DatetimeIndex([]))}
    labels = churn_labels(tables, [FEB, MAR, APR], horizon_days=90)
    return labels.set_index(["account_id", "cutoff"])


def test_churn_on_the_cutoff_day_is_a_churn_within_the_horizon(explicit):
    assert explicit.loc[("on_cutoff", FEB), "label"] == 1
    assert ("on_cutoff", MAR) not in explicit.index  # no longer a customer


def test_churn_just_before_the_cutoff_is_not_a_customer(explicit):
    assert ("just_before", FEB) not in explicit.index


def test_horizon_and_label_time(explicit):
    assert explicit.loc[("later", FEB), "label"] == 0  # 15 June is after 1 Feb + 90 days
    assert explicit.loc[("later", APR), "label"] == 1
    assert explicit.loc[("later", APR), "label_time"] == APR + pd.Timedelta(days=90)


def test_accounts_created_after_the_cutoff_get_no_row(explicit):
    assert ("new", FEB) not in explicit.index
    assert explicit.loc[("new", MAR), "label"] == 0


def test_reactivated_account_is_a_customer_again(explicit):
    assert explicit.xs("reactivated").label.tolist() == [0, 0, 0]


def test_inactivity_churn_and_reactivation():
    """Daily usage to 20 Jan, silent until 10 May, daily again: with N = 60 it churns on 20 March
    and is reactivated on 10 May."""
    days = pd.date_range("2024-01-01", "2024-01-20").append(
        pd.date_range("2024-05-10", "2024-12-31")
    )
    tables = {
        "accounts": _accounts([("u", T("2023-12-01"), pd.NaT)]),
        "activities": _activities("u", days),
    }
    cutoffs = [FEB, APR, T("2024-06-01"), T("2024-11-01")]
    labels = churn_labels(
        tables,
        cutoffs,
        horizon_days=90,
        definition="inactivity",
        inactive_days=60,
        data_end=T("2024-12-31"),
    )
    got = dict(zip(labels.cutoff, labels.label, strict=True))
    assert got == {FEB: 1, T("2024-06-01"): 0}  # April: churned; November: label not yet known


def test_explicit_labels_drop_rows_not_yet_known():
    tables = {
        "accounts": _accounts([("a", T("2023-01-01"), pd.NaT)]),
        "activities": _activities("a", pd.DatetimeIndex([])),
    }
    labels = churn_labels(tables, [FEB, APR], horizon_days=90, data_end=T("2024-06-01"))
    assert labels.cutoff.tolist() == [FEB]


def _deals() -> dict[str, pd.DataFrame]:
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ["back", "open", "at_cutoff"],
            "account_id": "a",
            "created_at": [T("2024-01-10"), T("2024-01-10"), T("2024-01-10")],
            "closed_at": [T("2024-04-20"), pd.NaT, T("2024-03-01")],
            "outcome": ["won", "open", "lost"],
        }
    )
    stages = pd.DataFrame(
        {
            "opportunity_id": ["back", "back", "back", "back", "back"],
            "stage": ["Prospecting", "Proposal", "Closed Lost", "Qualification", "Negotiation"],
            "entered_at": [
                T("2024-01-10"),
                T("2024-02-05 10:00"),
                T("2024-02-20"),
                T("2024-03-05"),
                T("2024-04-10"),
            ],
        }
    )
    return {
        "accounts": _accounts([("a", T("2023-01-01"), pd.NaT)]),
        "activities": _activities("a", pd.DatetimeIndex([T("2024-01-11")]), "call"),
        "opportunities": opportunities,
        "opportunity_stages": stages,
    }


def test_deal_win_snapshots_reopened_and_backwards_deal():
    labels = deal_win_labels(_deals(), [FEB, MAR, APR, T("2024-05-01")])
    back = labels[labels.opportunity_id == "back"]
    # cutoffs while open, plus the day after each stage entry (2024-02-06, 02-21, 03-06, 04-11)
    expected = [
        "2024-02-01",
        "2024-02-06",
        "2024-02-21",
        "2024-03-01",
        "2024-03-06",
        "2024-04-01",
        "2024-04-11",
    ]
    assert back.cutoff.dt.strftime("%Y-%m-%d").tolist() == expected
    assert back.label.unique().tolist() == [1]  # the eventual outcome, despite "Closed Lost"
    assert (back.label_time == T("2024-04-20")).all()


def test_open_deals_never_get_labels_and_close_at_cutoff_counts_as_open():
    labels = deal_win_labels(_deals(), [FEB, MAR, APR])
    assert "open" not in set(labels.opportunity_id)
    at_cutoff = labels[labels.opportunity_id == "at_cutoff"]
    assert at_cutoff.cutoff.tolist() == [FEB, MAR] and at_cutoff.label.tolist() == [0, 0]


def test_backwards_and_reopened_stages_count_as_regressions():
    from features.engine import compute_features

    frame = compute_features(_deals(), "opportunity", [FEB, MAR, APR])
    back = frame[frame.opportunity_id == "back"].set_index("cutoff")
    assert back.loc[T("2024-02-21"), "current_stage"] == "Closed Lost"
    assert back.loc[T("2024-03-06"), "stage_regressions"] == 1  # reopened into Qualification
    assert back.loc[T("2024-02-06"), "stage_regressions"] == 0
