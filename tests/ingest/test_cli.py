"""`barometer ingest`: summary, exit codes (threshold, errors), the busy message."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from features.ingest.cli import register
from features.warehouse import write_lock
from tests.ingest.helpers import ACCOUNTS, ACTIVITIES, write


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
