"""Canonical adapter: types, timestamps, unknown columns, skipped and mandatory tables, Parquet."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from features.ingest.sources import IngestError
from tests.ingest.helpers import ACCOUNTS, ACTIVITIES, assert_accounting, by_table, rows, run, write


def test_loads_contract_types_and_reports_counts(settings, tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    report = run(settings, folder)
    assert by_table(report) == {"accounts": (2, 2, 0, 0, 0), "activities": (2, 2, 0, 0, 0)}
    assert_accounting(report)
    types = dict(
        rows(
            settings,
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'accounts'",
        )
    )
    assert types == {
        "account_id": "VARCHAR",
        "created_at": "TIMESTAMP",
        "segment": "VARCHAR",
        "industry": "VARCHAR",
        "region": "VARCHAR",
        "owner_rep_id": "VARCHAR",
        "arr": "DOUBLE",
        "churned_at": "TIMESTAMP",
    }
    assert rows(settings, "select account_id, arr, industry from accounts order by 1") == [
        ("a1", 100.0, None),
        ("a2", 200.0, None),
    ]
    assert set(report.skipped) == {
        "reps",
        "opportunities",
        "opportunity_stages",
        "cases",
        "nps",
        "churn_events",
    }


def test_timestamps_with_offsets_become_naive_utc(settings, tmp_path):
    acts = (
        "activity_id,account_id,occurred_at,type\n"
        + "\n".join(
            [
                "t1,a1,2024-03-04T10:00:00Z,call",
                "t2,a1,2024-03-04T10:00:00+02:00,call",
                "t3,a1,2024-03-04T10:00:00.000+0000,call",
                "t4,a1,2024-03-04T10:00:00-0530,call",
                "t5,a1,2024-03-04 10:00:00,call",
                "t6,a1,2024-03-04,call",
            ]
        )
        + "\n"
    )
    run(settings, write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": acts}))
    got = dict(rows(settings, "select activity_id, occurred_at from activities"))
    assert got == {
        "t1": datetime(2024, 3, 4, 10),
        "t2": datetime(2024, 3, 4, 8),
        "t3": datetime(2024, 3, 4, 10),
        "t4": datetime(2024, 3, 4, 15, 30),
        "t5": datetime(2024, 3, 4, 10),
        "t6": datetime(2024, 3, 4),
    }


def test_unknown_columns_are_reported_and_ignored(settings, tmp_path):
    accounts = "account_id,created_at,favourite_colour\na1,2024-01-01,blue\n"
    report = run(
        settings,
        write(
            tmp_path / "in",
            {
                "accounts.csv": accounts,
                "activities.csv": ACTIVITIES.replace("a2", "a1"),
                "notes.csv": "x\n1\n",
            },
        ),
    )
    assert report.results[0].ignored == ("favourite_colour",)
    assert any("notes.csv" in n for n in report.notes)
    assert "favourite_colour" not in {
        r[0]
        for r in rows(
            settings,
            "select column_name from information_schema.columns where table_name='accounts'",
        )
    }


def test_mandatory_tables_must_come_from_input_or_warehouse(settings, tmp_path):
    with pytest.raises(IngestError, match="activities"):
        run(settings, write(tmp_path / "a", {"accounts.csv": ACCOUNTS}))
    run(settings, write(tmp_path / "b", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES}))
    report = run(settings, write(tmp_path / "c", {"accounts.csv": ACCOUNTS}))
    assert by_table(report) == {"accounts": (2, 0, 0, 2, 0)}


def test_missing_required_column_names_file_and_column(settings, tmp_path):
    folder = write(
        tmp_path / "in", {"accounts.csv": "account_id\na1\n", "activities.csv": ACTIVITIES}
    )
    with pytest.raises(IngestError, match=r"accounts\.csv.*created_at"):
        run(settings, folder)


def test_reference_to_a_table_never_loaded_is_not_an_orphan(settings, tmp_path):
    acts = "activity_id,account_id,occurred_at,type,rep_id\nx1,a1,2024-02-01,call,r9\n"
    report = run(
        settings, write(tmp_path / "a", {"accounts.csv": ACCOUNTS, "activities.csv": acts})
    )
    assert by_table(report)["activities"] == (1, 1, 0, 0, 0)
    reps = "rep_id,team\nr1,sales\n"
    acts2 = "activity_id,account_id,occurred_at,type,rep_id\nx2,a1,2024-02-01,call,r9\n"
    report = run(settings, write(tmp_path / "b", {"reps.csv": reps, "activities.csv": acts2}))
    assert by_table(report)["activities"] == (1, 0, 0, 0, 1)
    assert rows(settings, "select row_number, field, value from rejects") == [(1, "rep_id", "r9")]


def test_parquet_files_load_with_row_numbers(settings, tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    con = duckdb.connect()
    con.execute(
        f"copy (select * from (values ('a1', timestamp '2024-01-01 00:00:00', 5.0), "
        f"('a2', timestamp '2024-01-02 00:00:00', -1.0)) t(account_id, created_at, arr)) "
        f"to '{folder / 'accounts.parquet'}' (format parquet)"
    )
    con.execute(
        f"copy (select 'x1' as activity_id, 'a1' as account_id, "
        f"timestamp '2024-02-01 10:00:00' as occurred_at, 'call' as type) "
        f"to '{folder / 'activities.parquet'}' (format parquet)"
    )
    con.close()
    report = run(settings, folder)
    assert by_table(report) == {"accounts": (2, 1, 0, 0, 1), "activities": (1, 1, 0, 0, 0)}
    assert rows(settings, "select row_number, field, value from rejects") == [(2, "arr", "-1.0")]
    assert rows(settings, "select created_at from accounts") == [(datetime(2024, 1, 1),)]


def test_malformed_csv_row_is_rejected_with_its_row_number_and_the_rest_loads(settings, tmp_path):
    accounts = "account_id,created_at\na1,2024-01-01\na2,2024-01-01,extra\na3,2024-01-03\n"
    folder = write(tmp_path / "in", {"accounts.csv": accounts, "activities.csv": ACTIVITIES})
    report = run(settings, folder)
    assert by_table(report)["accounts"] == (3, 2, 0, 0, 1)
    got = rows(
        settings,
        "select row_number, field, value, reason from rejects where table_name = 'accounts'",
    )
    assert got == [
        (
            2,
            "(row)",
            "3 fields where the header has 2 (line 3)",
            "malformed row: its fields do not line up with the header",
        )
    ]
    assert rows(settings, "select account_id from accounts order by 1") == [("a1",), ("a3",)]


def test_header_only_files_load_zero_rows(settings, tmp_path):
    folder = write(
        tmp_path / "in",
        {
            "accounts.csv": "account_id,created_at\n",
            "activities.csv": "activity_id,account_id,occurred_at,type\n",
        },
    )
    assert by_table(run(settings, folder)) == {
        "accounts": (0, 0, 0, 0, 0),
        "activities": (0, 0, 0, 0, 0),
    }
