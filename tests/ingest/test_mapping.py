"""Mapping adapter: event logs to the contract, on real data sets in ../shared/data and by hand."""

from __future__ import annotations

from datetime import datetime

import pytest

from features.ingest.sources import IngestError
from tests.ingest.helpers import MAPPINGS, assert_accounting, by_table, rows, run, write


def test_retail_purchase_log_alone_gives_accounts_and_activities(settings, shared_data):
    folder = shared_data / "retail_txn_response"
    report = run(settings, folder, "mapping", MAPPINGS / "retail_txn_response.yaml")
    assert_accounting(report)
    # 124,969 purchases by 6,884 customers (SOURCE.md); MM-DD-YYYY dates all parse.
    assert by_table(report) == {
        "accounts": (6884, 6884, 0, 0, 0),
        "activities": (124969, 124969, 0, 0, 0),
    }
    assert rows(
        settings, "select min(occurred_at), max(occurred_at), count(distinct type) from activities"
    ) == [(datetime(2011, 5, 16), datetime(2015, 3, 16), 1)]
    # First data row: CS5295,02-11-2013,35 -> 11 Feb 2013.
    assert rows(
        settings,
        "select count(*) from activities where account_id = 'CS5295' and "
        "occurred_at = '2013-02-11' and amount = 35",
    ) >= [(1,)]
    first = rows(
        settings,
        "select a.created_at = min(v.occurred_at) from accounts a join "
        "activities v using (account_id) group by a.account_id, a.created_at",
    )
    assert all(ok for (ok,) in first)
    again = run(settings, folder, "mapping", MAPPINGS / "retail_txn_response.yaml")
    assert all(r.unchanged == r.rows_read for r in again.results)  # derived ids are stable


def test_ravenstack_usage_joins_accounts_through_subscriptions(settings, shared_data):
    folder = shared_data / "ravenstack_saas"
    report = run(settings, folder, "mapping", MAPPINGS / "ravenstack_saas.yaml")
    assert_accounting(report)
    counts = by_table(report)
    assert counts["accounts"] == (500, 500, 0, 0, 0)
    assert counts["cases"] == (2000, 2000, 0, 0, 0)
    # 25,000 usage rows; 21 repeat an earlier usage_id in the file and are quarantined.
    assert counts["activities"] == (25000, 24979, 0, 0, 21)
    dup = rows(settings, "select row_number, value, reason from rejects where value = 'U-8128da'")
    assert dup == [(4168, "U-8128da", "duplicated id in file (first at row 769)")]
    # Row 1: U-1c6c24 on subscription S-0fcf7d, which belongs to account A-e08cd3.
    assert rows(
        settings,
        "select account_id, type, objective, amount, duration_s from activities "
        "where activity_id = 'U-1c6c24'",
    ) == [("A-e08cd3", "usage", "feature_20", 9.0, 5004.0)]


def test_hand_made_usage_log_with_type_column_and_missing_lookup(settings, tmp_path):
    folder = write(
        tmp_path / "log",
        {
            "usage.csv": "sub,day,feature,n\ns1,2024/01/02,export,3\ns2,2024/01/03,login,1\n"
            "s1,2024/01/02,export,3\ns9,2024/01/04,login,1\ns1,02.01.2024,login,1\n",
            "subs.csv": "sub,customer\ns1,c1\ns2,c2\n",
        },
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "derive_accounts: true\nsources:\n  - file: usage.csv\n    entity: customer\n"
        "    timestamp: day\n    timestamp_format: '%Y/%m/%d'\n    type_column: kind\n"
        "    constants: {type: usage}\n    columns: {objective: feature, amount: n}\n"
        "    lookup: {file: subs.csv, key: sub, columns: [customer]}\n"
    )
    with pytest.raises(IngestError, match="kind"):
        run(settings, folder, "mapping", mapping)
    mapping.write_text(mapping.read_text().replace("    type_column: kind\n", ""))
    report = run(settings, folder, "mapping", mapping)
    assert_accounting(report)
    assert by_table(report) == {"accounts": (2, 2, 0, 0, 0), "activities": (5, 3, 0, 0, 2)}
    assert rows(settings, "select row_number, field, value from rejects order by 1") == [
        (4, "account_id", None),
        (5, "occurred_at", "02.01.2024"),
    ]
    ids = rows(settings, "select activity_id from activities where account_id = 'c1' order by 1")
    assert len({i for (i,) in ids}) == 2 and all(i.endswith(("-1", "-2")) for (i,) in ids)
    assert rows(settings, "select account_id, created_at from accounts order by 1") == [
        ("c1", datetime(2024, 1, 2)),
        ("c2", datetime(2024, 1, 3)),
    ]


def test_invalid_mapping_names_the_file(settings, tmp_path):
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("sources:\n  - file: x.csv\n    table: invoices\n")
    with pytest.raises(IngestError, match=r"(?s)bad\.yaml.*invoices"):
        run(settings, tmp_path, "mapping", mapping)
