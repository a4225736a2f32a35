"""Values that parse but cannot be true, or whose reading is a guess: rejected, or loaded and
counted as warnings (README "Plausibility"). Every rule with a row that trips it and one that
does not."""

from __future__ import annotations

import os
from datetime import date, datetime

from tests.ingest.helpers import ACCOUNTS, ACTIVITIES, assert_accounting, by_table, rows, run, write


def rejects(settings, table: str) -> list[tuple]:
    return rows(
        settings,
        f"select row_number, field, value, reason from rejects where table_name = '{table}' "
        "order by row_number",
    )


def loaded(report, table: str):
    (result,) = [r for r in report.results if r.table == table]
    return result


def test_dates_after_the_export_or_before_1990_are_rejected(settings, tmp_path):
    acts = (
        "activity_id,account_id,occurred_at,type\n"
        "x1,a1,2024-02-01,call\n"
        "x2,a1,2099-01-01,call\n"
        "x3,a1,1989-12-31,call\n"
        "x4,a1,epoch,call\n"
        "x5,a1,2025-03-31T23:00:00Z,call\n"
    )
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": acts})
    stamp = datetime(2025, 3, 31, 12).timestamp()
    os.utime(folder / "activities.csv", (stamp, stamp))  # exported on 31 March 2025
    report = run(settings, folder)
    assert_accounting(report)
    assert by_table(report)["activities"] == (5, 2, 0, 0, 3)
    got = [(n, v, r.split(" (")[0]) for n, _, v, r in rejects(settings, "activities")]
    assert got == [
        (2, "2099-01-01", "implausible date"),
        (3, "1989-12-31", "implausible date"),
        (4, "epoch", "bad date"),
    ]
    assert "after the export date 2025-03-31" in rejects(settings, "activities")[0][3]
    assert "before 1990-01-01" in rejects(settings, "activities")[1][3]
    # --export-date replaces the file's date (a day of slack for time zones): x5 becomes too late.
    report = run(settings, folder, export_date=date(2025, 3, 29))
    assert [v for _, _, v, _ in rejects(settings, "activities")] == [
        "2099-01-01",
        "1989-12-31",
        "epoch",
        "2025-03-31T23:00:00Z",
    ]
    assert "2025-03-29" in rejects(settings, "activities")[-1][3]


def test_effects_before_their_causes_are_rejected(settings, tmp_path):
    accounts = (
        "account_id,created_at,churned_at\n"
        "a1,2024-01-01,\n"
        "a2,2024-03-01,2024-02-01\n"  # churned before it was created
        "a3,2024-03-01T15:00:00,2024-03-01\n"  # same day: fine
    )
    opps = (
        "opportunity_id,account_id,created_at,closed_at,outcome\n"
        "o1,a1,2024-05-01T10:00:00,2024-05-01,won\n"  # closed the day it was entered: fine
        "o2,a1,2024-05-01,2024-04-01,lost\n"
    )
    cases = (
        "case_id,account_id,opened_at,closed_at\n"
        "c1,a1,2024-06-02,2024-06-01\n"
        "c2,a1,2024-06-02,2024-06-03\n"
    )
    reps = "rep_id,team,hired_at,left_at\nr1,sales,2022-01-01,2021-01-01\nr2,sales,2022-01-01,\n"
    files = {
        "accounts.csv": accounts,
        "activities.csv": ACTIVITIES.replace("a2", "a3"),
        "opportunities.csv": opps,
        "cases.csv": cases,
        "reps.csv": reps,
    }
    report = run(settings, write(tmp_path / "in", files))
    assert_accounting(report)
    got = rows(settings, "select table_name, row_number, field, reason from rejects order by 1, 2")
    assert got == [
        ("accounts", 2, "churned_at", "churned_at before created_at"),
        ("cases", 1, "closed_at", "closed_at before opened_at"),
        ("opportunities", 2, "closed_at", "closed_at before created_at"),
        ("reps", 1, "left_at", "left_at before hired_at"),
    ]


def test_logged_before_it_happened_loads_with_a_counted_warning(settings, tmp_path):
    acts = (
        "activity_id,account_id,occurred_at,type,logged_at\n"
        "x1,a1,2024-02-10T10:00:00,meeting,2024-02-01T09:00:00\n"  # scheduled ahead
        "x2,a1,2024-02-10T10:00:00,call,2024-02-10T11:00:00\n"
        "x3,a2,2024-02-12T10:00:00,meeting,2024-02-05\n"
    )
    report = run(
        settings, write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": acts})
    )
    result = loaded(report, "activities")
    assert (result.loaded, result.rejected) == (3, 0)
    assert [(w.field, w.rows, w.first_row) for w in result.warnings] == [("logged_at", 2, 1)]
    assert rows(settings, "select field, rows, first_row from ingest_warnings") == [
        ("logged_at", 2, 1)
    ]


def test_numbers_in_forms_that_are_not_plain_numbers_are_rejected(settings, tmp_path):
    accounts = (
        "account_id,created_at,arr\n"
        "a1,2024-01-01,1000\n"
        "a2,2024-01-01,1_000\n"
        "a3,2024-01-01,0x10\n"
        "a4,2024-01-01,1.5e3\n"
        "a5,2024-01-01,-0.5\n"
    )
    run(settings, write(tmp_path / "in", {"accounts.csv": accounts, "activities.csv": ACTIVITIES}))
    assert [(n, v, r) for n, _, v, r in rejects(settings, "accounts")] == [
        (2, "1_000", "wrong type (expected a number)"),
        (3, "0x10", "wrong type (expected a number)"),
        (5, "-0.5", "out of range [0..]"),
    ]
    assert rows(settings, "select account_id, arr from accounts order by 1") == [
        ("a1", 1000.0),
        ("a4", 1500.0),
    ]


def test_y_and_n_load_as_booleans_with_a_counted_warning(settings, tmp_path):
    acts = (
        "activity_id,account_id,occurred_at,type,reached_decision_maker\n"
        "x1,a1,2024-02-01,call,Y\n"
        "x2,a1,2024-02-01,call,true\n"
        "x3,a1,2024-02-01,call,n\n"
        "x4,a1,2024-02-01,call,si\n"
    )
    report = run(
        settings, write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": acts})
    )
    result = loaded(report, "activities")
    assert rows(
        settings, "select activity_id, reached_decision_maker from activities order by 1"
    ) == [
        ("x1", True),
        ("x2", True),
        ("x3", False),
    ]
    assert [(w.field, w.reason, w.rows, w.first_row) for w in result.warnings] == [
        ("reached_decision_maker", "Y/N read as true/false", 2, 1)
    ]
    assert [n for n, *_ in rejects(settings, "activities")] == [4]


def test_zone_abbreviations_are_rejected_and_zone_names_converted_with_a_warning(
    settings, tmp_path
):
    acts = (
        "activity_id,account_id,occurred_at,type\n"
        "x1,a1,2024-02-01 10:00:00 PST,call\n"
        "x2,a1,2024-02-01 10:00:00 Europe/Paris,call\n"
        "x3,a1,2024-07-01 10:00:00 Europe/Paris,call\n"
        "x4,a1,2024-02-01 10:00:00 UTC,call\n"
        "x5,a1,2024-02-01 10:00:00-08:00,call\n"
    )
    report = run(
        settings, write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": acts})
    )
    result = loaded(report, "activities")
    assert [(n, r.split(" (")[0]) for n, _, _, r in rejects(settings, "activities")] == [
        (1, "bad date")
    ]
    assert "abbreviation" in rejects(settings, "activities")[0][3]
    assert rows(settings, "select activity_id, occurred_at from activities order by 1") == [
        ("x2", datetime(2024, 2, 1, 9)),  # Paris is UTC+1 in winter
        ("x3", datetime(2024, 7, 1, 8)),  # and UTC+2 in summer
        ("x4", datetime(2024, 2, 1, 10)),
        ("x5", datetime(2024, 2, 1, 18)),
    ]
    assert [(w.reason, w.rows, w.first_row) for w in result.warnings] == [
        ("time-zone name converted to UTC", 2, 2)
    ]


def test_warnings_and_reasons_reach_the_cli_summary(settings, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tests.ingest.test_cli import cli

    acts = (
        "activity_id,account_id,occurred_at,type,reached_decision_maker\n"
        "x1,a1,2024-02-01,call,Y\nx2,a1,2099-02-01,call,\nx3,a1,nope,call,\nx4,a1,never,call,\n"
    )
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": acts})
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    monkeypatch.setenv("COLUMNS", "200")
    output = CliRunner().invoke(cli(), ["ingest", str(folder)]).output
    assert "activities.csv -> activities: 3 rejected" in output
    assert "2 × occurred_at: bad date (expected ISO 8601" in output
    assert "1 × occurred_at: implausible date (after the export date" in output
    assert "1 × reached_decision_maker: Y/N read as true/false (first at row 1)" in output
