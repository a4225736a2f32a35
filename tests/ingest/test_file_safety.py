"""Files that could attack or hang ingest: links out of the folder, mapping paths that escape it,
named pipes, stalled reads, and error messages that would echo a file's content."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from features.ingest.files import with_stall_timeout
from features.ingest.sources import IngestError
from tests.ingest.helpers import ACCOUNTS, ACTIVITIES, by_table, rows, run, write

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-barometer-test-0123456789"
# Generous: the child imports Barometer first. Without the fix it would never finish.
CHILD_TIMEOUT_S = 120


def barometer(*args: str, home: Path, env: dict[str, str] | None = None):
    """`barometer ARGS` in a child process (its environment is what /proc/self/environ shows)."""
    return subprocess.run(
        [sys.executable, "-m", "barometer.cli", *args],
        cwd=REPO,
        env={**os.environ, "BAROMETER_HOME": str(home), "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_link_to_the_environment_is_refused_without_echoing_it(tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    (folder / "cases.tsv").symlink_to("/proc/self/environ")
    result = barometer(
        "ingest", str(folder), home=tmp_path / "home", env={"BAROMETER_API_KEYS": SECRET}
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "cases.tsv" in output and "outside the input folder" in output
    assert SECRET not in output and "BAROMETER_API_KEYS" not in output and "PATH=" not in output


def test_a_link_out_of_the_folder_is_refused_and_one_inside_it_is_read(settings, tmp_path):
    outside = write(tmp_path / "elsewhere", {"cases.csv": f"case_id,secret\nc1,{SECRET}\n"})
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    (folder / "cases.csv").symlink_to(outside / "cases.csv")
    with pytest.raises(IngestError, match="outside the input folder") as caught:
        run(settings, folder)
    assert SECRET not in str(caught.value)
    (folder / "cases.csv").unlink()
    (folder / "exports").mkdir()
    (folder / "activities.csv").rename(folder / "exports" / "activities-2024.csv")
    (folder / "activities.csv").symlink_to(Path("exports") / "activities-2024.csv")
    assert by_table(run(settings, folder))["activities"] == (2, 2, 0, 0, 0)


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "../secret.csv", "sub/../../secret.csv", "link/secret.csv"],
)
def test_mapping_paths_stay_inside_the_input_folder(settings, tmp_path, name):
    write(tmp_path, {"secret.csv": f"customer,day\n{SECRET},2024-01-01\n"})
    folder = write(tmp_path / "in", {"log.csv": "customer,day\nc1,2024-01-01\n"})
    (folder / "sub").mkdir()
    (folder / "link").symlink_to(tmp_path)
    for key in ("file", "lookup"):
        mapping = tmp_path / f"{key}.yaml"
        spec = (
            f"  - file: {name}\n    entity: customer\n    timestamp: day\n    type: purchase\n"
            if key == "file"
            else "  - file: log.csv\n    entity: customer\n    timestamp: day\n"
            f"    type: purchase\n    lookup: {{file: '{name}', key: customer, columns: [x]}}\n"
        )
        mapping.write_text("derive_accounts: true\nsources:\n" + spec)
        with pytest.raises(IngestError, match="input folder") as caught:
            run(settings, folder, "mapping", mapping)
        assert SECRET not in str(caught.value) and "root:" not in str(caught.value)
    assert not settings.warehouse_path.exists() or rows(
        settings, "select count(*) from information_schema.tables where table_name = 'accounts'"
    ) == [(0,)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_at_once_and_the_workspace_stays_usable(tmp_path):
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    os.mkfifo(folder / "nps.csv")
    home = tmp_path / "home"
    result = barometer("ingest", str(folder), home=home)  # hangs forever without the check
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "nps.csv" in output and "named pipe" in output
    (folder / "nps.csv").unlink()
    again = barometer("ingest", str(folder), home=home)
    assert again.returncode == 0, again.stdout + again.stderr  # the lock was released


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_read_that_stalls_is_abandoned_with_a_message(tmp_path):
    fifo = tmp_path / "stalled"
    os.mkfifo(fifo)

    def blocking_read(progress):
        with open(fifo, "rb") as handle:  # blocks: nobody ever writes
            return handle.read()

    with pytest.raises(IngestError, match="stalled for more than 0.5 s"):
        with_stall_timeout("stalled.csv", 0.5, blocking_read)
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # release the reader thread


def test_a_missing_column_error_shows_column_names_not_content(settings, tmp_path):
    environ = "\x00".join(["PATH=/usr/bin", f"BAROMETER_API_KEYS=admin:{SECRET}", "HOME=/root"])
    folder = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})
    (folder / "cases.tsv").write_text(environ)
    with pytest.raises(IngestError, match="cases.tsv.*does not look like a header") as caught:
        run(settings, folder)
    assert SECRET not in str(caught.value) and "PATH" not in str(caught.value)
    (folder / "cases.tsv").write_text("case_id\tnote\nc1\tx\n")
    with pytest.raises(IngestError, match=r"missing required column.*found: case_id, note"):
        run(settings, folder)
