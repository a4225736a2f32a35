"""Fixtures every tier shares: an isolated workspace and the path to the third-party data sets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from barometer.settings import Settings

REPO = Path(__file__).resolve().parents[1]
# Spark's Python workers must run this interpreter (the venv's), not whatever `python3` is on PATH.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def no_leaked_mlflow_uri():
    """`mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI, which `Settings` reads: clear it
    around every test so one test's workspace never becomes another's tracking store."""
    for name in MLFLOW_URI_VARIABLES:
        os.environ.pop(name, None)
    yield
    for name in MLFLOW_URI_VARIABLES:
        os.environ.pop(name, None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh workspace under the test's tmp dir."""
    return Settings(home=tmp_path / "workspace")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`, the read-only third-party data sets (see each SOURCE.md)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"Third-party data sets not found at {SHARED_DATA}; CI clones shared/ beside the repo."
        )
    return SHARED_DATA


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the counts tests record as a `summary` property (e.g. schemathesis's requests), also
    from xdist workers, so every `make test` shows them."""
    reports = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    lines = [
        value
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == "summary"
    ]
    if lines:
        terminalreporter.write_sep("-", "counts")
        for line in sorted(lines):
            terminalreporter.write_line(line)
