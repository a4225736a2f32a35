"""A killed ingest leaves the previous state; a second writer is told the workspace is busy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from features.ingest.load import PAUSE_ENV
from features.warehouse import WarehouseBusyError, write_lock
from tests.ingest.helpers import ACCOUNTS, ACTIVITIES, by_table, rows, run, write

REPO = Path(__file__).resolve().parents[2]
CHILD = (
    "import sys; from pathlib import Path; from barometer.settings import Settings; "
    "from features.ingest.run import ingest; "
    "ingest(Path(sys.argv[1]), Settings(home=Path(sys.argv[2])))"
)

HOLDER = (
    "import sys, time; from pathlib import Path\n"
    "from features.warehouse import write_lock\n"
    "with write_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)"
)


def start_child(folder: Path, home: Path) -> subprocess.Popen:
    env = {**os.environ, PAUSE_ENV: "60"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(home)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_pause(child: subprocess.Popen) -> str:
    """Read the child's stderr until it says it is paused inside a load transaction."""
    assert child.stderr is not None
    for line in child.stderr:
        if "paused inside the transaction" in line:
            return line
    pytest.fail(f"child exited ({child.wait()}) without reaching the transaction")


def test_kill_during_load_leaves_previous_state_and_rerun_succeeds(settings, tmp_path):
    run(settings, write(tmp_path / "v1", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES}))
    before = rows(settings, "select * from accounts order by all")
    newer = ACCOUNTS.replace("mid_market,200", "enterprise,900") + "a3,2024-01-03,smb,50\n"
    v2 = write(tmp_path / "v2", {"accounts.csv": newer})

    child = start_child(v2, settings.home)
    line = wait_for_pause(child)
    assert "accounts.csv" in line
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL

    assert rows(settings, "select * from accounts order by all") == before
    assert rows(settings, "select count(*) from ingest_log where file like '%v2%'") == [(0,)]
    report = run(settings, v2)
    assert by_table(report) == {"accounts": (3, 1, 1, 1, 0)}
    assert rows(settings, "select count(*) from accounts") == [(3,)]
    tables = {t for (t,) in rows(settings, "select table_name from information_schema.tables")}
    assert "_ingest_stage" not in tables


def test_kill_during_first_load_leaves_no_table(settings, tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    child = start_child(folder, settings.home)
    wait_for_pause(child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    tables = {t for (t,) in rows(settings, "select table_name from information_schema.tables")}
    assert "accounts" not in tables and "activities" not in tables
    assert by_table(run(settings, folder))["accounts"] == (2, 2, 0, 0, 0)


def test_second_writer_gets_a_busy_message(settings, tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(settings.home),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError, match="busy"):
            run(settings, folder)
    finally:
        holder.kill()
        holder.wait()
    with write_lock(settings.home):
        pass
    assert by_table(run(settings, folder))["accounts"] == (2, 2, 0, 0, 0)
