"""`barometer ingest`: summary, exit codes (threshold, errors), the busy message."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from features.ingest.cli import register
from features.warehouse import write_lock
from tests.ingest.helpers import ACCOUNTS, ACTIVITIES, rows, write


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    return app


def invoke(settings, monkeypatch, *args: str):
    monkeypatch.setenv("BAROMETER_HOME", str(settings.home))
    return CliRunner().invoke(cli(), ["ingest", *args])


def test_clean_ingest_prints_summary_and_exits_zero(settings, tmp_path, monkeypatch):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    result = invoke(settings, monkeypatch, str(folder))
    assert result.exit_code == 0, result.output
    assert "Ingest summary" in result.output and "activities.csv" in result.output
    assert "Skipped optional table(s)" in result.output and "nps" in result.output


def test_rejected_share_above_threshold_exits_one(settings, tmp_path, monkeypatch):
    bad = ACTIVITIES + "x3,a1,never,call\n"  # 1 of 3 rows rejected
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": bad})
    monkeypatch.setenv("BAROMETER_REJECT_THRESHOLD", "0.5")
    assert invoke(settings, monkeypatch, str(folder)).exit_code == 0
    monkeypatch.setenv("BAROMETER_REJECT_THRESHOLD", "0.2")
    result = invoke(settings, monkeypatch, str(folder))
    assert result.exit_code == 1
    assert "33.33% of rows rejected" in result.output


def test_missing_mandatory_table_exits_two_with_reason(settings, tmp_path, monkeypatch):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS})
    result = invoke(settings, monkeypatch, str(folder))
    assert result.exit_code == 2
    assert "activities" in result.output


def test_busy_workspace_exits_two_with_busy_message(settings, tmp_path, monkeypatch):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    with write_lock(settings.home):
        result = invoke(settings, monkeypatch, str(folder))
    assert result.exit_code == 2
    assert "busy" in result.output


def test_encoding_and_export_date_options(settings, tmp_path, monkeypatch):
    acts = ACTIVITIES + "x3,a1,2024-03-01T10:00:00Z,call\n"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "accounts.csv").write_bytes(
        "account_id,created_at,segment\na1,2024-01-01,Caf\u00e9\na2,2024-01-02,x\n".encode("cp1252")
    )
    (folder / "activities.csv").write_text(acts)
    monkeypatch.setenv("COLUMNS", "200")
    result = invoke(
        settings, monkeypatch, str(folder), "--encoding", "cp1252", "--export-date", "2024-02-10"
    )
    assert result.exit_code == 1, result.output  # 1 of 3 activities after the export date
    assert "1 × occurred_at: implausible date (after the export date 2024-02-10" in result.output
    assert "read as Windows-1252 text" in result.output
    assert rows(settings, "select segment from accounts where account_id = 'a1'") == [
        ("Caf\u00e9",)
    ]
    bad = invoke(settings, monkeypatch, str(folder), "--export-date", "10/02/2024")
    assert bad.exit_code == 2 and "Invalid value" in bad.output
