"""Shared pieces for the reliability tests: a seeded workspace, budgets, warehouse queries."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from barometer.settings import Settings
from features.ingest.run import IngestReport, ingest
from tests.ingest.helpers import rows as query  # noqa: F401 - the reliability tests' name for it

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "fuzz_corpus"
PYTHON = REPO / ".venv" / "bin" / "python"
ACCOUNTS = (
    "account_id,created_at,segment,arr\n"
    "a1,2024-01-01T00:00:00Z,smb,100\n"
    "a2,2024-01-02,mid_market,200\n"
)
ACTIVITIES = "activity_id,account_id,occurred_at,type\nx0,a1,2024-02-01T10:00:00Z,call\n"
BUDGET_ENV = "BAROMETER_FUZZ_EXAMPLES"


def tally_printer(describe: Callable[[], str]):
    """A module-scoped autouse fixture that prints `describe()` after the module's last test.

    The tallies (fuzz cases tried, API requests sent, faults injected) show under `-s`, as
    `make fuzz` and `make faults` run them; each test asserts its own cases, the tally only counts.
    """

    @pytest.fixture(scope="module", autouse=True)
    def print_tally():
        yield
        print(f"\n{describe()}")

    return print_tally


def budget(default: int) -> int:
    """Hypothesis examples per property: `default` in CI, more under `make fuzz`."""
    return int(os.environ.get(BUDGET_ENV, default))


def seeded_home(root: Path) -> Settings:
    """A workspace holding accounts a1, a2 and one activity, for later ingests to build on."""
    folder = root / "seed"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounts.csv").write_text(ACCOUNTS)
    (folder / "activities.csv").write_text(ACTIVITIES)
    settings = Settings(home=root / "seeded")
    ingest(folder, settings)
    return settings


def copy_home(seeded: Settings, dest: Path) -> Settings:
    """A fresh copy of a seeded workspace (cheaper than ingesting again)."""
    shutil.copytree(seeded.home, dest)
    (dest / "warehouse.lock").unlink(missing_ok=True)
    return Settings(home=dest)


def assert_accounting(report: IngestReport) -> None:
    """Rows read = loaded + updated + unchanged + rejected, for every file."""
    for r in report.results:
        assert r.loaded + r.updated + r.unchanged + r.rejected == r.rows_read, r
