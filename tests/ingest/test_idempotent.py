"""Re-running the same files changes nothing; a newer export of the same ids updates them."""

from __future__ import annotations

from data.contract import TABLES
from tests.ingest.helpers import (
    ACCOUNTS,
    ACTIVITIES,
    assert_accounting,
    by_table,
    rows,
    run,
    write,
)

TABLES_SQL = ("select * from accounts order by all", "select * from activities order by all")


def snapshot(settings) -> list:
    return [rows(settings, sql) for sql in TABLES_SQL]


def test_same_files_twice_change_nothing(settings, tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    run(settings, folder)
    before = snapshot(settings)
    report = run(settings, folder)
    assert by_table(report) == {"accounts": (2, 0, 0, 2, 0), "activities": (2, 0, 0, 2, 0)}
    assert snapshot(settings) == before
    assert rows(settings, "select count(*) from ingest_log") == [(4,)]


def test_newer_export_updates_changed_rows_and_adds_new_ones(settings, tmp_path):
    run(settings, write(tmp_path / "v1", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES}))
    newer = ACCOUNTS.replace("a2,2024-01-02,mid_market,200", "a2,2024-01-02,enterprise,900")
    newer += "a3,2024-01-03,smb,50\n"
    report = run(settings, write(tmp_path / "v2", {"accounts.csv": newer}))
    assert_accounting(report)
    assert by_table(report) == {"accounts": (3, 1, 1, 1, 0)}
    assert rows(settings, "select account_id, segment, arr from accounts order by 1") == [
        ("a1", "smb", 100.0),
        ("a2", "enterprise", 900.0),
        ("a3", "smb", 50.0),
    ]
    assert rows(settings, "select count(*) from activities") == [(2,)]


def test_simulated_export_loads_clean_and_reloads_unchanged(settings, tmp_path):
    from data.simulator import simulate, write_export

    write_export(simulate(60, 5), tmp_path / "sim", "csv")
    first = run(settings, tmp_path / "sim")
    assert_accounting(first)
    assert {t: v[4] for t, v in by_table(first).items()} == dict.fromkeys(by_table(first), 0)
    assert set(by_table(first)) == set(TABLES)
    second = run(settings, tmp_path / "sim")
    assert all(r.unchanged == r.rows_read for r in second.results)
    assert all(r.rows_read > 0 for r in second.results if r.table != "churn_events")
