"""Fixtures every tier shares: an isolated workspace and the path to the third-party data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from barometer.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
