"""Salesforce adapter on a hand-written Data Loader export (BOM, 15/18-char Ids, custom fields)."""

from __future__ import annotations

from datetime import datetime

import pytest

from features.ingest.sources import IngestError
from tests.ingest.helpers import FIXTURES, MAPPINGS, assert_accounting, by_table, rows, run, write

EXPORT = FIXTURES / "salesforce"
CUSTOM = MAPPINGS / "salesforce_custom_fields.yaml"


@pytest.fixture
def loaded(settings):
    report = run(settings, EXPORT, "salesforce", CUSTOM)
    return settings, report


def test_every_object_loads_without_rejects(loaded):
    _, report = loaded
    assert_accounting(report)
    assert by_table(report) == {
        "reps": (3, 3, 0, 0, 0),
        "accounts": (3, 3, 0, 0, 0),
        "opportunities": (3, 3, 0, 0, 0),
        "opportunity_stages": (7, 7, 0, 0, 0),
        "activities": (6, 6, 0, 0, 0),
        "cases": (2, 2, 0, 0, 0),
    }


def test_15_and_18_character_ids_are_the_same_record(loaded):
    settings, _ = loaded
    assert rows(settings, "select account_id from accounts order by 1") == [
        ("001Dn00000AbCdE",),
        ("001Dn00000MnOpR",),
        ("001Dn00000XyZwQ",),
    ]
    # Tasks and events reference accounts in both forms; all join (no orphans).
    assert rows(settings, "select account_id, count(*) from activities group by 1 order by 1") == [
        ("001Dn00000AbCdE", 3),
        ("001Dn00000MnOpR", 2),
        ("001Dn00000XyZwQ", 1),
    ]
    assert rows(
        settings, "select opportunity_id, count(*) from opportunity_stages group by 1 order by 1"
    ) == [("006Dn00000Op001", 3), ("006Dn00000Op002", 2), ("006Dn00000Op003", 2)]


def test_accounts_bom_timestamps_and_custom_fields(loaded):
    settings, _ = loaded
    assert rows(settings, "select * from accounts order by account_id") == [
        (
            "001Dn00000AbCdE",
            datetime(2023, 1, 10, 8, 30),
            "Enterprise",
            "Technology",
            "US",
            "005Dn00000Rep01",
            120000.0,
            None,
        ),
        ("001Dn00000MnOpR", datetime(2023, 3, 1), "Mid-Market", "Finance", "GB", None, None, None),
        (
            "001Dn00000XyZwQ",
            datetime(2023, 2, 14, 11),
            "SMB",
            "Retail",
            "DE",
            "005Dn00000Rep01",
            15000.0,
            datetime(2024, 6, 30),
        ),
    ]


def test_users_become_reps_with_teams(loaded):
    settings, _ = loaded
    assert rows(settings, "select rep_id, team, manager_id from reps order by 1") == [
        ("005Dn00000Mgr01", "sales", None),
        ("005Dn00000Rep01", "sales", "005Dn00000Mgr01"),
        ("005Dn00000Rep02", "service", "005Dn00000Mgr01"),
    ]


def test_opportunity_outcomes_types_and_close_dates(loaded):
    settings, _ = loaded
    got = rows(
        settings,
        "select opportunity_id, type, outcome, closed_at, amount, source_rep_id "
        "from opportunities order by 1",
    )
    assert got == [
        ("006Dn00000Op001", "upsell", "won", datetime(2024, 3, 31), 50000.0, "005Dn00000Rep02"),
        ("006Dn00000Op002", "new_business", "lost", datetime(2024, 2, 15), 20000.0, None),
        ("006Dn00000Op003", "new_business", "open", None, 8000.0, None),
    ]


def test_tasks_and_events_map_to_activities(loaded):
    settings, _ = loaded
    got = {
        r[0]: r[1:]
        for r in rows(
            settings,
            "select activity_id, type, occurred_at, opportunity_id, rep_id, direction, "
            "duration_s, outcome, reached_decision_maker, objective, logged_at from activities",
        )
    }
    assert got["00TDn00000Tk001"] == (
        "call",
        datetime(2024, 1, 15),
        "006Dn00000Op001",
        "005Dn00000Rep01",
        "outbound",
        1260.0,
        "connected",
        True,
        "negotiation",
        datetime(2024, 1, 15, 14, 5),
    )
    assert got["00TDn00000Tk002"][7] is False  # "0" is false
    assert got["00TDn00000Tk003"][:2] == ("email", datetime(2024, 1, 17, 16))  # -0500 -> UTC
    assert got["00TDn00000Tk004"][0] == "task" and got["00TDn00000Tk004"][3] is None  # queue owner
    assert got["00UDn00000Ev001"][:6] == (
        "demo",
        datetime(2024, 1, 22, 15),
        "006Dn00000Op001",
        "005Dn00000Rep01",
        None,
        3600.0,
    )
    assert got["00UDn00000Ev002"][:2] == ("meeting", datetime(2024, 5, 3, 7, 30))


def test_cases_with_custom_csat_and_first_contact_resolution(loaded):
    settings, _ = loaded
    assert rows(settings, "select * from cases order by 1") == [
        (
            "500Dn00000Cs001",
            "001Dn00000AbCdE",
            datetime(2024, 2, 1, 9),
            datetime(2024, 2, 1, 11, 30),
            "005Dn00000Rep02",
            "phone",
            "high",
            True,
            5.0,
            False,
        ),
        (
            "500Dn00000Cs002",
            "001Dn00000XyZwQ",
            datetime(2024, 3, 5, 10),
            None,
            None,
            "email",
            "medium",
            None,
            None,
            True,
        ),
    ]


def test_reingest_is_idempotent(loaded):
    settings, _ = loaded
    again = run(settings, EXPORT, "salesforce", CUSTOM)
    assert all(r.unchanged == r.rows_read for r in again.results)


def test_field_history_stage_rows_and_bad_values(settings, tmp_path):
    folder = write(
        tmp_path / "sf",
        {
            "Account.csv": "Id,CreatedDate\n001Dn00000AbCdEIAV,2023-01-10T08:30:00.000+0000\n",
            "Opportunity.csv": "Id,AccountId,CreatedDate,StageName,IsClosed,IsWon\n"
            "006Dn00000Op001,001Dn00000AbCdE,2024-01-05T10:00:00.000+0000,"
            "Prospecting,false,false\n"
            "006Dn00000Op002,001Dn00000AbCdE,2024-01-05T10:00:00.000+0000,"
            "Prospecting,perhaps,false\n",
            "OpportunityFieldHistory.csv": "OpportunityId,Field,OldValue,NewValue,CreatedDate\n"
            "006Dn00000Op001IAB,Amount,1,2,2024-01-06T10:00:00.000+0000\n"
            "006Dn00000Op001IAB,StageName,Prospecting,Proposal,"
            "2024-01-07T10:00:00.000+0000\n"
            "006Dn00000Op009IAB,StageName,Prospecting,Proposal,"
            "2024-01-08T10:00:00.000+0000\n",
            "Task.csv": "Id,AccountId,TaskSubtype,ActivityDate,CreatedDate\n"
            "00TDn00000Tk001,001Dn00000AbCdE,Call,2024-01-15,2024-01-15T14:05:00.000+0000\n",
        },
    )
    report = run(settings, folder, "salesforce")
    assert by_table(report)["opportunity_stages"] == (2, 1, 0, 0, 1)
    assert by_table(report)["opportunities"] == (2, 1, 0, 0, 1)
    got = rows(settings, "select table_name, row_number, field, value from rejects order by 1")
    assert got == [
        ("opportunities", 2, "outcome", "perhaps"),
        ("opportunity_stages", 3, "opportunity_id", "006Dn00000Op009"),
    ]
    assert rows(settings, "select stage, entered_at from opportunity_stages") == [
        ("Proposal", datetime(2024, 1, 7, 10))
    ]


def test_custom_field_for_an_unknown_column_is_an_error(settings, tmp_path):
    bad = tmp_path / "custom.yaml"
    bad.write_text("Account:\n  not_a_column: Foo__c\n")
    with pytest.raises(IngestError, match="not_a_column"):
        run(settings, EXPORT, "salesforce", bad)
