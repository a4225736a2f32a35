"""Mapping adapter: event logs to the contract, on real data sets in ../shared/data and by hand."""

from __future__ import annotations

import re
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


DEALS = """id,client,stage,opened,closed,rep,list_price
d1,c1,Won,2024-01-05,2024-02-01,r1,100
d2,c1,Engaging,2024-01-10,,r1,200
d3,c2,Lost,2024-01-12,2024-03-01,r2,
d4,,Prospecting,,,r2,50
d5,c2,Stalled,2024-01-20,,r2,80
"""
DEALS_MAPPING = """
derive_accounts: true
sources:
  - file: deals.csv
    name: deals
    table: opportunities
    id: id
    entity: client
    timestamp: opened
    values:
      stage: {Engaging: open, Prospecting: open, Won: won, Lost: lost}
    columns: {outcome: stage, closed_at: closed, amount: list_price}
  - file: deals.csv
    name: closes
    table: activities
    entity: client
    timestamp: closed
    type: other
    where: {stage: [Won, Lost]}
    constants: {objective: close}
    columns: {opportunity_id: id}
  - file: deals.csv
    name: opens
    table: activities
    entity: client
    timestamp: opened
    type: other
    where_not: {stage: Prospecting}
    where_present: [client]
    constants: {objective: open}
    columns: {opportunity_id: id}
"""


def test_value_maps_filters_and_one_file_into_several_sources(settings, tmp_path):
    folder = write(tmp_path / "in", {"deals.csv": DEALS})
    mapping = tmp_path / "m.yaml"
    mapping.write_text(DEALS_MAPPING)
    report = run(settings, folder, "mapping", mapping)
    assert_accounting(report)
    by_name = {r.file.split("(")[-1].rstrip(")"): r for r in report.results}
    deals, closes, opens = by_name["deals"], by_name["closes"], by_name["opens"]
    assert (deals.rows_read, deals.loaded, deals.rejected) == (5, 3, 2)
    assert (closes.rows_read, closes.loaded) == (2, 2)
    assert (opens.rows_read, opens.loaded, opens.rejected) == (4, 3, 1)  # d5's deal was rejected
    assert "3 row(s) left out by the mapping's filter (stage in ['Won', 'Lost'])" in closes.notes
    assert any("1 row(s) left out" in n for n in opens.notes)
    assert rows(
        settings, "select opportunity_id, outcome, amount from opportunities order by 1"
    ) == [
        ("d1", "won", 100.0),
        ("d2", "open", 200.0),
        ("d3", "lost", None),
    ]
    # An unmapped value passes through, so validation names it; rejects keep the file's row numbers
    # and each source's rejects stay apart.
    assert rows(
        settings, "select file, row_number, field, value from rejects order by table_name, 2"
    ) == [
        (f"{folder / 'deals.csv'} (opens)", 5, "opportunity_id", "d5"),
        (f"{folder / 'deals.csv'} (deals)", 4, "account_id", None),
        (f"{folder / 'deals.csv'} (deals)", 5, "outcome", "Stalled"),
    ]
    assert rows(settings, "select objective, count(*) from activities group by 1 order by 1") == [
        ("close", 2),
        ("open", 3),
    ]
    again = run(settings, folder, "mapping", mapping)
    assert [r.unchanged for r in again.results] == [r.loaded for r in report.results]


def test_a_churn_event_derived_from_a_flag_and_a_date(settings, tmp_path):
    folder = write(
        tmp_path / "in",
        {
            "subscriptions.csv": "sub,customer,start,end,churned\n"
            "s1,c1,2023-01-01,2024-03-31,TRUE\ns2,c2,2023-02-01,,FALSE\n"
            "s3,c1,2024-06-01,2024-09-30,True\n",
        },
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "derive_accounts: true\nsources:\n"
        "  - file: subscriptions.csv\n    name: starts\n    entity: customer\n"
        "    timestamp: start\n    type: other\n    constants: {objective: subscribe}\n"
        "  - file: subscriptions.csv\n    name: churns\n    table: churn_events\n"
        "    id: sub\n    entity: customer\n    timestamp: end\n"
        "    where: {churned: [TRUE, True]}\n"  # YAML keeps TRUE and True as written
        "    constants: {is_reactivation: false, reason: subscription ended}\n"
    )
    report = run(settings, folder, "mapping", mapping)
    assert_accounting(report)
    assert rows(settings, "select * from churn_events order by 1") == [
        ("s1", "c1", datetime(2024, 3, 31), "subscription ended", False),
        ("s3", "c1", datetime(2024, 9, 30), "subscription ended", False),
    ]


def test_an_accounts_file_without_dates_takes_each_accounts_first_event(settings, tmp_path):
    folder = write(
        tmp_path / "in",
        {
            "clients.csv": "name,sector\nc1,retail\nc2,finance\nc3,energy\n",
            "orders.csv": "client,day\n"
            "c1,2024-03-01\nc1,2024-01-15\nc2,2024-02-01\nc9,2024-05-01\n",
        },
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "derive_accounts: true\nsources:\n"
        "  - file: clients.csv\n    table: accounts\n    entity: name\n"
        "    columns: {industry: sector}\n"
        "  - file: orders.csv\n    entity: client\n    timestamp: day\n    type: purchase\n"
    )
    report = run(settings, folder, "mapping", mapping)
    assert_accounting(report)
    assert rows(settings, "select account_id, created_at, industry from accounts order by 1") == [
        ("c1", datetime(2024, 1, 15), "retail"),
        ("c2", datetime(2024, 2, 1), "finance"),
        ("c9", datetime(2024, 5, 1), None),  # in the orders only: derived
    ]
    # c3 has no event, so no date: rejected, and said why.
    assert rows(settings, "select row_number, field, reason from rejects") == [
        (3, "created_at", "missing required field")
    ]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            "  - file: log.csv\n    entity: who\n    timestamp: day\n    type: usage\n"
            "  - file: log.csv\n    entity: who\n    timestamp: day\n    type: note\n",
            "give each a distinct `name`",
        ),
        (
            "  - file: log.csv\n    entity: who\n    type: usage\n"
            "    constants: {occurred_at: 2024-01-01}\n",
            "a constant time gives every row the same moment",
        ),
        (
            "  - file: log.csv\n    entity: who\n    type: usage\n",
            "the mapping gives no time for occurred_at, its columns that hold dates are day",
        ),
        (
            "  - file: log.csv\n    table: reps\n    id: who\n",
            "no value for required reps column(s) team",
        ),
    ],
    ids=["same-source-twice", "constant-time", "no-time", "required-column"],
)
def test_mapping_mistakes_are_refused_in_words(settings, tmp_path, spec, words):
    folder = write(tmp_path / "in", {"log.csv": "who,day,n\nc1,2024-01-02,3\nc2,03/01/2024,1\n"})
    mapping = tmp_path / "m.yaml"
    mapping.write_text("derive_accounts: true\nsources:\n" + spec)
    with pytest.raises(IngestError, match=re.escape(words)):
        run(settings, folder, "mapping", mapping)


def test_a_placeholder_date_does_not_become_a_derived_accounts_start(settings, tmp_path):
    folder = write(
        tmp_path / "in",
        {"log.csv": "who,day\nc1,epoch\nc1,2024-02-01\nc1,1900-01-01\nc1,2024-03-01\n"},
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "derive_accounts: true\nsources:\n"
        "  - file: log.csv\n    entity: who\n    timestamp: day\n    type: purchase\n"
    )
    report = run(settings, folder, "mapping", mapping)
    assert_accounting(report)
    assert rows(settings, "select account_id, created_at from accounts") == [
        ("c1", datetime(2024, 2, 1))
    ]
    assert by_table(report)["activities"] == (4, 2, 0, 0, 2)  # the two placeholders only
