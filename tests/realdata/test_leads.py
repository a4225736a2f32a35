"""X Education leads: no column holds a date or a time, so there is no before and after to learn
from, and ingest refuses in words (data/mappings/leads_x_education.yaml says why)."""

from __future__ import annotations

from tests.ingest.helpers import MAPPINGS


def test_leads_are_refused_through_the_command_line(shared_data, tmp_path, monkeypatch) -> None:
    """No timestamps: the refusal a user sees, and nothing written (tests/ingest covers the
    function's message)."""
    from typer.testing import CliRunner

    from barometer.cli import app
    from barometer.settings import get_settings

    monkeypatch.setenv("BAROMETER_HOME", str(tmp_path / "workspace"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            [
                "ingest",
                str(shared_data / "leads_x_education"),
                "--format",
                "mapping",
                "--mapping",
                str(MAPPINGS / "leads_x_education.yaml"),
            ],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "has no column holding dates or times" in result.output
    assert "Traceback" not in result.output
    warehouse = tmp_path / "workspace" / "warehouse.duckdb"
    assert not warehouse.exists() or not query_tables(warehouse)


def query_tables(warehouse) -> list:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select table_name from information_schema.tables where table_name = 'opportunities'"
        ).fetchall()
    finally:
        con.close()
