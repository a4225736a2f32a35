"""Bad rows go to `rejects` with file, 1-based data row number, field, value and reason."""

from __future__ import annotations

from tests.ingest.helpers import assert_accounting, by_table, rows, run, write

ACCOUNTS = """account_id,created_at,arr
a1,2024-01-01,100
a2,2024-13-45,100
a3,2024-01-03,lots
,2024-01-04,1
a1,2024-01-05,1
a6,2024-01-06,-3
a7,,5
a8,2024-01-08,
"""
# Row 3 carries a quoted value spanning two lines: it is still data row 3.
ACTIVITIES = """activity_id,account_id,occurred_at,type,rating,reached_decision_maker,objective
x1,a1,2024-02-01T10:00:00Z,call,5,true,discovery
x2,a1,yesterday,call,,,
x3,a1,2024-02-01,fax,,,"multi
line"
x4,a404,2024-02-01,call,,,
x5,a1,2024-02-01,call,7,,
x6,a1,2024-02-01,call,,maybe,
x1,a1,2024-02-02,email,,,
x8,a1,2024-02-01,Email,1,0,
x9,a8,2024-02-01,call,nan,,
"""


def test_every_reject_kind_with_its_row_number(settings, tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    report = run(settings, folder)
    assert_accounting(report)
    assert by_table(report) == {"accounts": (8, 2, 0, 0, 6), "activities": (9, 2, 0, 0, 7)}
    got = rows(
        settings,
        "select table_name, row_number, field, value, reason from rejects "
        "order by table_name, row_number",
    )
    reasons = [(t, n, f, v, r.split(" (")[0]) for t, n, f, v, r in got]
    assert reasons == [
        ("accounts", 2, "created_at", "2024-13-45", "bad date"),
        ("accounts", 3, "arr", "lots", "wrong type"),
        ("accounts", 4, "account_id", None, "missing required field"),
        ("accounts", 5, "account_id", "a1", "duplicated id in file"),
        ("accounts", 6, "arr", "-3", "out of range [0..]"),
        ("accounts", 7, "created_at", None, "missing required field"),
        ("activities", 2, "occurred_at", "yesterday", "bad date"),
        ("activities", 3, "type", "fax", "unknown enum value"),
        ("activities", 4, "account_id", "a404", "orphan: no accounts.account_id with this value"),
        ("activities", 5, "rating", "7", "out of range [1..5]"),
        ("activities", 6, "reached_decision_maker", "maybe", "wrong type"),
        ("activities", 7, "activity_id", "x1", "duplicated id in file"),
        ("activities", 9, "rating", "nan", "wrong type"),
    ]
    assert "first at row 1" in got[3][4]
    assert all(
        f.endswith("accounts.csv")
        for (f,) in rows(settings, "select file from rejects where table_name = 'accounts'")
    )
    assert rows(
        settings, "select activity_id, type, reached_decision_maker from activities order by 1"
    ) == [("x1", "call", True), ("x8", "email", False)]


def test_first_failing_field_in_contract_order(settings, tmp_path):
    accounts = "account_id,created_at\na1,2024-01-01\n"
    acts = "activity_id,account_id,occurred_at,type,duration_s\nx1,a9,not-a-date,fax,-1\n"
    run(settings, write(tmp_path / "in", {"accounts.csv": accounts, "activities.csv": acts}))
    assert rows(settings, "select field from rejects") == [("occurred_at",)]


def test_orphan_against_accounts_in_the_same_ingest_and_warehouse(settings, tmp_path):
    run(
        settings,
        write(
            tmp_path / "a",
            {
                "accounts.csv": "account_id,created_at\nold,2024-01-01\n",
                "activities.csv": "activity_id,account_id,occurred_at,type\n"
                "x0,old,2024-02-01,call\n",
            },
        ),
    )
    report = run(
        settings,
        write(
            tmp_path / "b",
            {
                "accounts.csv": "account_id,created_at\nnew,2024-01-01\n",
                "activities.csv": "activity_id,account_id,occurred_at,type\n"
                "x1,old,2024-02-01,call\nx2,new,2024-02-01,call\nx3,gone,2024-02-01,call\n",
            },
        ),
    )
    assert by_table(report)["activities"] == (3, 2, 0, 0, 1)
    assert rows(settings, "select row_number, value from rejects") == [(3, "gone")]


def test_rejects_of_a_file_are_replaced_not_duplicated_on_rerun(settings, tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    run(settings, folder)
    first = rows(settings, "select * exclude (ingested_at) from rejects order by all")
    run(settings, folder)
    assert rows(settings, "select * exclude (ingested_at) from rejects order by all") == first
    assert len(first) == 13


def test_a_duration_over_a_month_is_refused_as_out_of_range(settings, tmp_path):
    accounts = "account_id,created_at\na1,2024-01-01\n"
    acts = (
        "activity_id,account_id,occurred_at,type,duration_s\n"
        "x1,a1,2024-02-01,call,2592000\n"  # exactly 30 days: kept
        "x2,a1,2024-02-01,call,1e300\n"
        "x3,a1,2024-02-01,call,600\n"
    )
    run(settings, write(tmp_path / "in", {"accounts.csv": accounts, "activities.csv": acts}))
    assert rows(settings, "select row_number, field, reason from rejects") == [
        (2, "duration_s", "out of range [0..2,592,000]")
    ]
    assert rows(settings, "select activity_id from activities order by 1") == [("x1",), ("x3",)]
