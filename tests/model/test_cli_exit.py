"""The `barometer` executable's exit: it skips the interpreter's module teardown, so it must
still do what that teardown did for a user: exit codes as `sys.exit` gives them, standard output
complete when piped, atexit handlers run (MLflow's and logging's flushes) and non-daemon threads
finished."""

from __future__ import annotations

import subprocess
import sys

import pytest


def python(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def barometer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "barometer.cli", *args], capture_output=True, text=True
    )


def test_a_command_s_output_arrives_whole_through_a_pipe_with_exit_code_zero():
    done = barometer("version")
    assert (done.returncode, done.stdout) == (0, "0.1.0\n")


def test_a_usage_error_keeps_click_s_exit_code_and_message():
    done = barometer("score", "--no-such-option")
    assert done.returncode == 2
    assert "No such option" in done.stderr


@pytest.mark.parametrize(("code", "expected"), [(0, 0), (None, 0), (3, 3), ("bad input", 1)])
def test_finish_exits_as_sys_exit_would(code, expected):
    done = python(f"from barometer.cli import finish\nfinish({code!r})")
    assert done.returncode == expected
    if isinstance(code, str):
        assert done.stderr.strip() == code


def test_finish_runs_atexit_handlers_and_flushes_buffered_output():
    script = (
        "import atexit, sys\n"
        "from barometer.cli import finish\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        "sys.stdout.write('buffered ')\n"
        "finish(0)\n"
    )
    done = python(script)
    assert (done.returncode, done.stdout) == (0, "buffered atexit ran\n")


def test_a_running_worker_pool_is_left_to_python_s_shutdown_which_stops_it():
    script = (
        "import time\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from barometer.cli import finish\n"
        "pool = ThreadPoolExecutor(2)\n"
        "pool.submit(lambda: (time.sleep(0.3), print('task done')))\n"
        "finish(4)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (4, "task done\n")
