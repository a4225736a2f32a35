"""Every shared data set through its mapping in data/mappings: rows accounted for, rejects
explained, key figures from its SOURCE.md. (Retail and RavenStack usage: test_mapping.py.)"""

from __future__ import annotations

from datetime import datetime

import pytest
from typer.testing import CliRunner

from features.ingest.report import reasons_lines
from features.ingest.sources import IngestError
from tests.ingest.helpers import MAPPINGS, assert_accounting, rows, run
from tests.ingest.test_cli import cli


def results(report) -> dict[str, tuple[int, int, int]]:
    """`{source name: (read, loaded, rejected)}`, the name being the file (and the source's)."""
    return {
        r.file.split("/")[-1]: (r.rows_read, r.loaded + r.updated + r.unchanged, r.rejected)
        for r in report.results
    }


@pytest.fixture
def maven(settings, shared_data):
    report = run(
        settings, shared_data / "maven_crm_sales", "mapping", MAPPINGS / "maven_crm_sales.yaml"
    )
    return settings, report


def test_maven_rows_are_all_accounted_for(maven):
    settings, report = maven
    assert_accounting(report)
    assert results(report) == {
        "sales_teams.csv": (35, 35, 0),
        "accounts.csv": (85, 85, 0),
        "sales_pipeline.csv (deals)": (8800, 7212, 1588),
        "sales_pipeline.csv (engaged)": (7212, 7212, 0),
        "sales_pipeline.csv (closed)": (6711, 6711, 0),
    }
    (deals,) = [r for r in report.results if r.table == "opportunities"]
    # Open deals with no account (1,088 Engaging + 337 Prospecting) and Prospecting deals
    # without an engage date (the other 163) are rejected, each for its first missing field.
    assert [(t.field, t.reason, t.rows) for t in deals.top_rejects] == [
        ("account_id", "missing required field", 1425),
        ("created_at", "missing required field", 163),
    ]
    # The summary names the file's own column beside the contract's, where the user can look.
    assert [line.split(": ")[0].strip() for line in reasons_lines(report)[1:3]] == [
        "1,425 × account_id (account)",
        "163 × created_at (engage_date)",
    ]


def test_maven_key_figures_match_source_md(maven):
    settings, _ = maven
    # SOURCE.md: Won 4,238; Lost 2,473; Engaging 1,589 and Prospecting 500 open, of which the
    # 501 Engaging deals with an account load.
    assert rows(settings, "select outcome, count(*) from opportunities group by 1 order by 1") == [
        ("lost", 2473),
        ("open", 501),
        ("won", 4238),
    ]
    assert rows(
        settings,
        "select min(created_at), max(created_at), min(closed_at), max(closed_at) "
        "from opportunities",
    ) == [
        (
            datetime(2016, 10, 20),
            datetime(2017, 12, 27),
            datetime(2017, 3, 1),
            datetime(2017, 12, 31),
        )
    ]
    assert rows(settings, "select count(*), count(distinct industry) from accounts") == [(85, 10)]
    assert rows(settings, "select count(*) from accounts where industry = 'technolgy'") == [(0,)]
    # The product's list price (GTXPro spelt GTX Pro in products.csv) is the deal amount; the
    # outcome-leaking close_value is read by no source.
    assert rows(settings, "select count(*) from opportunities where amount is null") == [(0,)]
    assert rows(settings, "select amount from opportunities where opportunity_id = '1C1I7A6R'") == [
        (1096.0,)
    ]  # GTX Plus Basic's list price; its close_value was 1054
    assert rows(
        settings,
        "select count(*) from opportunities where outcome = 'lost' and amount = 0 "
        "union all select count(*) from activities where amount is not null",
    ) == [(0,), (0,)]
    assert rows(
        settings,
        "select count(*) from activities a join opportunities o using (opportunity_id) "
        "where a.objective = 'close' and a.occurred_at <> o.closed_at",
    ) == [(0,)]


def test_maven_cli_exits_one_and_says_why_rows_were_rejected(settings, shared_data, monkeypatch):
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(
        cli(),
        [
            "ingest",
            str(shared_data / "maven_crm_sales"),
            "--format",
            "mapping",
            "--mapping",
            str(MAPPINGS / "maven_crm_sales.yaml"),
        ],
    )
    assert result.exit_code == 1, result.output  # 18% rejected, above the 5% threshold
    assert "sales_pipeline.csv (deals) -> opportunities: 1,588 rejected" in result.output
    assert "1,425 × account_id (account): missing required field (first at row 10)" in result.output
    assert (
        "163 × created_at (engage_date): missing required field (first at row 8301)"
        in result.output
    )


def test_ravenstack_churn_events_are_mapped(settings, shared_data):
    report = run(
        settings, shared_data / "ravenstack_saas", "mapping", MAPPINGS / "ravenstack_saas.yaml"
    )
    assert_accounting(report)
    (events,) = [r for r in report.results if r.table == "churn_events"]
    assert (events.rows_read, events.loaded, events.rejected) == (600, 600, 0)
    # SOURCE.md: 600 events on 352 accounts, 61 of them reactivations, 2023-01-25..2024-12-31.
    assert rows(
        settings,
        "select count(*), count(distinct account_id), count(*) filter (where is_reactivation), "
        "min(churned_at), max(churned_at) from churn_events",
    ) == [(600, 352, 61, datetime(2023, 1, 25), datetime(2024, 12, 31))]
    assert rows(settings, "select * from churn_events where churn_event_id = 'C-816288'") == [
        ("C-816288", "A-c37cab", datetime(2024, 10, 27), "pricing", False)
    ]


def test_leads_without_timestamps_are_refused_in_words(settings, shared_data):
    with pytest.raises(IngestError) as caught:
        run(
            settings,
            shared_data / "leads_x_education",
            "mapping",
            MAPPINGS / "leads_x_education.yaml",
        )
    message = str(caught.value)
    assert "Leads.csv" in message
    assert "has no column holding dates or times" in message
    assert "nothing to learn" in message
    assert not settings.warehouse_path.exists() or rows(
        settings, "select count(*) from information_schema.tables where table_name = 'accounts'"
    ) == [(0,)]
