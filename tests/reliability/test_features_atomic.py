"""`barometer features` commits its outputs as one set, and every warehouse writer holds the lock.

A `features` process killed between its table writes leaves the previous complete set, in the
warehouse and in the Parquet copies; the next run removes what the killed one left (staging and
`spark-*` work folders) and finishes a set the warehouse had already committed. The workspace is
tests/features's hand-made tables; each run uses other cutoffs, so the sets differ.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.settings import Settings, get_settings
from features import build
from features.backends import normalise_tables
from features.warehouse import WarehouseBusyError, connect, replace_table, write_lock
from tests.features.conftest import toy_tables
from tests.reliability.helpers import REPO

OUTPUTS = ("features_account", "features_opportunity", "labels_churn", "labels_deal_win")
PREVIOUS, NEXT = "2024-02-01", "2024-03-01"
# Runs `build_all` in a child process whose warehouse connection stops for good just before its
# second `create or replace table`: the moment between two table writes.
PAUSE_AT_SECOND_WRITE = """
import contextlib, sys, time
from pathlib import Path

from barometer.settings import Settings
from features import build

opened, writes = build.connect, []


class Pausing:
    def __init__(self, con):
        self.con = con

    def execute(self, sql, *args):
        if sql.lstrip().lower().startswith("create or replace table"):
            writes.append(sql)
            if len(writes) == 2:
                print("between writes", flush=True)
                time.sleep(600)
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


@contextlib.contextmanager
def pausing(path, **kwargs):
    with opened(path, **kwargs) as con:
        yield con if kwargs.get("read_only") else Pausing(con)


build.connect = pausing
build.build_all(Settings(home=Path(sys.argv[1])), as_of=[sys.argv[2]])
"""


@pytest.fixture
def workspace(tmp_path) -> Settings:
    settings = Settings(home=tmp_path / "workspace")
    settings.ensure_home()
    with connect(settings.warehouse_path) as con:
        for name, frame in normalise_tables(toy_tables()).items():
            replace_table(con, name, frame)
    return settings


def output_set(settings: Settings) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each output as (warehouse table, Parquet copy), rows in a fixed order."""

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)

    found = {}
    with connect(settings.warehouse_path, read_only=True) as con:
        for name in OUTPUTS:
            table = con.execute(f"select * from {name}").df()
            copy = pd.read_parquet(settings.features_dir / f"{name}.parquet")
            found[name] = (ordered(table), ordered(copy))
    return found


def cutoffs(frame: pd.DataFrame) -> set[str]:
    return {f"{c:%Y-%m-%d}" for c in pd.to_datetime(frame["cutoff"]).unique()}


def leftovers(settings: Settings) -> list[str]:
    staged = list(settings.features_dir.glob(f"{build.STAGING_PREFIX}*"))
    return sorted(p.name for p in [*settings.home.glob("spark-*"), *staged])


def reference(workspace: Settings, folder, as_of: str) -> dict:
    """The output set a clean run at `as_of` writes, built in a copy of the workspace."""
    shutil.copytree(workspace.home, folder)
    copy = Settings(home=folder)
    build.build_all(copy, as_of=[as_of])
    return output_set(copy)


def assert_same_set(found: dict, expected: dict) -> None:
    for name in OUTPUTS:
        for was, now, where in zip(expected[name], found[name], ("table", "Parquet"), strict=True):
            pd.testing.assert_frame_equal(now, was, obj=f"{name} ({where})")


def test_a_kill_between_the_table_writes_leaves_the_previous_set(workspace, tmp_path):
    expected_next = reference(workspace, tmp_path / "reference", NEXT)
    build.build_all(workspace, as_of=[PREVIOUS])
    before = output_set(workspace)
    assert cutoffs(before["features_account"][0]) == {PREVIOUS}
    assert cutoffs(expected_next["features_account"][0]) == {NEXT}
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSE_AT_SECOND_WRITE, str(workspace.home), NEXT],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "between writes", line + child.stdout.read()
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert_same_set(output_set(workspace), before)
    build.build_all(workspace, as_of=[NEXT])  # the lock died with the process
    assert_same_set(output_set(workspace), expected_next)
    assert leftovers(workspace) == []


def test_a_set_committed_before_a_kill_is_moved_into_place_by_the_next_run(
    workspace, tmp_path, monkeypatch
):
    expected_next = reference(workspace, tmp_path / "reference", NEXT)
    build.build_all(workspace, as_of=[PREVIOUS])
    monkeypatch.setattr(build, "publish", lambda *args: None)  # killed right after the commit
    build.build_all(workspace, as_of=[NEXT])
    monkeypatch.undo()
    copy = pd.read_parquet(workspace.features_dir / "features_account.parquet")
    assert cutoffs(copy) == {PREVIOUS} and len(leftovers(workspace)) == 1
    build.recover_outputs(workspace)  # what the next run does first, under the lock
    assert_same_set(output_set(workspace), expected_next)
    assert leftovers(workspace) == []


def test_stale_work_and_staging_folders_are_removed_by_the_next_run(workspace):
    stale = [workspace.home / "spark-x1y2z3", workspace.features_dir / ".staging-abc123"]
    for folder in stale:
        folder.mkdir(parents=True)
        (folder / "accounts.parquet").write_bytes(b"half a file")
    build.build_all(workspace, as_of=[PREVIOUS])
    assert leftovers(workspace) == []


def test_features_and_score_refuse_a_busy_workspace(workspace, monkeypatch):
    from barometer.cli import app
    from barometer.model.artefact import ScoringModel
    from barometer.model.encoder import FeatureEncoder
    from barometer.model.store import LoadedModel
    from barometer.scoring import job

    monkeypatch.setenv("BAROMETER_HOME", str(workspace.home))
    get_settings.cache_clear()
    loaded = LoadedModel(
        "churn", ScoringModel("churn", FeatureEncoder({}).fit(pd.DataFrame())), "1", {}
    )
    try:
        with write_lock(workspace.home):  # e.g. an ingest in progress
            with pytest.raises(WarehouseBusyError, match="busy"):
                build.build_all(workspace, as_of=[PREVIOUS])
            result = CliRunner().invoke(app, ["features", "--as-of", PREVIOUS])
            with pytest.raises(WarehouseBusyError, match="busy"):
                job.run(workspace, loaded, wait_seconds=0)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "busy" in result.output, result.output
