"""Small hand-made contract tables with known answers, shared by the features tests."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

T = pd.Timestamp
# x4 happened on 20 Jan but was logged on 10 Feb: invisible at the 1 Feb cutoff.
ACTIVITY_COLUMNS = [
    "activity_id", "account_id", "occurred_at", "type", "opportunity_id", "contact_id",
    "contact_role", "direction", "duration_s", "outcome", "reached_decision_maker", "objective",
    "rating", "logged_at",
]  # fmt: skip
ACTIVITIES_CSV = """\
x1,a1,2024-01-02 09:30,call,o1,c1,champion,outbound,700,connected,False,discovery,4,
x2,a1,2024-01-05 14:00,meeting,o1,c2,dm,outbound,1800,held,True,demo,5,
x3,a1,2024-01-06 10:00,email,o1,c1,champion,outbound,,replied,False,follow_up,,
x4,a1,2024-01-20 16:00,call,o1,c1,champion,outbound,120,connected,False,negotiation,,2024-02-10
x5,a1,2024-01-25 11:00,email,,c3,user,inbound,,,False,,,
x6,a1,2024-01-26 08:00,call,,c3,user,outbound,30,voicemail,False,support,,
x7,a1,2024-01-28 12:00,usage,,,,,,,,,,
x8,a2,2024-01-10 10:00,call,,c9,champion,outbound,900,connected,True,check_in,3,
x9,a2,2024-02-15 10:00,call,,c9,champion,outbound,60,no_answer,False,check_in,,
x10,a1,2024-02-03 09:00,call,o1,c2,dm,outbound,1200,connected,True,negotiation,,
"""


def toy_tables() -> dict[str, pd.DataFrame]:
    """Three accounts, two deals, a handful of touches (one logged late), cases and NPS."""
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3"],
            "created_at": [T("2023-06-01"), T("2023-09-15 10:00"), T("2024-03-10")],
            "segment": ["smb", "enterprise", "smb"],
            "industry": ["retail", "tech", "retail"],
            "region": ["emea", "unknown", "na"],
            "owner_rep_id": ["r1", "r2", "r1"],
            "arr": [1000.0, 50000.0, 200.0],
            "churned_at": [pd.NaT, T("2024-02-20 12:00"), pd.NaT],
        }
    )
    reps = pd.DataFrame({"rep_id": ["r1", "r2"], "team": ["sales", "sales"]})
    activities = pd.read_csv(
        io.StringIO(ACTIVITIES_CSV),
        names=ACTIVITY_COLUMNS,
        parse_dates=["occurred_at", "logged_at"],
    )
    activities["reached_decision_maker"] = activities["reached_decision_maker"].astype("boolean")
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3"],
            "account_id": ["a1", "a1", "a2"],
            "created_at": [T("2023-12-20"), T("2023-07-01"), T("2023-10-01")],
            "owner_rep_id": ["r1", "r1", "r2"],
            "type": ["new_business", "upsell", "renewal"],
            "amount": [10000.0, 2000.0, 5000.0],
            "closed_at": [T("2024-03-15"), T("2023-11-10"), T("2024-01-20")],
            "outcome": ["won", "lost", "lost"],
        }
    )
    stages = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o1", "o1", "o1", "o2", "o2", "o3"],
            "stage": [
                "Prospecting",
                "Discovery",
                "Qualification",
                "Proposal",
                "Prospecting",
                "Qualification",
                "Prospecting",
            ],
            "entered_at": [
                T("2023-12-20"),
                T("2024-01-03 10:00"),
                T("2024-01-15 09:00"),
                T("2024-02-10 15:00"),
                T("2023-07-01"),
                T("2023-08-01"),
                T("2023-10-01"),
            ],
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["k1", "k2", "k3"],
            "account_id": ["a1", "a1", "a2"],
            "opened_at": [T("2024-01-10 08:00"), T("2024-01-30 08:00"), T("2024-01-05")],
            "closed_at": [T("2024-01-11 08:00"), T("2024-02-05 08:00"), pd.NaT],
            "priority": ["low", "urgent", "high"],
            "first_contact_resolved": pd.array([True, False, pd.NA], dtype="boolean"),
            "csat": [5.0, 2.0, None],
            "escalated": pd.array([False, True, pd.NA], dtype="boolean"),
        }
    )
    nps = pd.DataFrame(
        {
            "account_id": ["a1", "a1", "a1"],
            "responded_at": [T("2023-12-01"), T("2024-01-15 09:00"), T("2024-01-15 18:00")],
            "score": [9.0, 6.0, 4.0],
        }
    )
    return {
        "accounts": accounts,
        "reps": reps,
        "activities": activities,
        "opportunities": opportunities,
        "opportunity_stages": stages,
        "cases": cases,
        "nps": nps,
    }


@pytest.fixture
def toy() -> dict[str, pd.DataFrame]:
    """A fresh copy of the hand-made tables (tests may change it)."""
    return toy_tables()


@pytest.fixture(scope="session")
def toy_shared() -> dict[str, pd.DataFrame]:
    """The hand-made tables, shared read-only across a session."""
    return toy_tables()


@pytest.fixture(scope="session")
def sim() -> dict[str, pd.DataFrame]:
    """A small seeded simulation (80 accounts, about 17k activities), built once per session."""
    from data.simulator import simulate

    return simulate(80, 11)


SIM_CUTOFFS = ["2024-03-01", "2024-06-01", "2024-09-01"]


def assert_same_frames(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same columns, rows and values; floats equal up to summation order (1e-12 relative)."""
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark) > 0
    for column in duck:
        a, b = duck[column], spark[column]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, err_msg=column)
        else:
            pd.testing.assert_series_equal(a, b, check_dtype=False, obj=column)
