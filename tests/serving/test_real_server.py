"""`barometer serve` on 127.0.0.1: started as a process, queried with httpx, stopped cleanly."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from serving.auth import Role, new_key

BAROMETER = Path(sys.executable).with_name("barometer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def banner_line(process: subprocess.Popen, seconds: float = 240) -> str:
    """The first line the server prints on stdout (its "serving" banner)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=seconds).decode()
    except queue.Empty as exc:
        raise AssertionError(f"no banner within {seconds}s") from exc
    assert line, process.stderr.read().decode()
    return line


def test_serve_answers_and_shuts_down_cleanly(workspace) -> None:
    settings, _ = workspace
    key = new_key(Role.retention)
    port = free_port()
    env = {**os.environ, "BAROMETER_HOME": str(settings.home), "BAROMETER_API_KEYS": key}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{settings.home.parent / 'empty-mlflow.db'}"
    process = subprocess.Popen(
        [str(BAROMETER), "serve", "--port", str(port), "--poll-seconds", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # The banner is printed once the port is open: the very next request is answered.
        assert banner_line(process).startswith(f"Serving the dashboard at {base}/dashboard")
        headers = {"X-API-Key": key.split(":", 1)[1]}
        with httpx.Client(base_url=base, timeout=5) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            ready = client.get("/readyz")  # no champion in this MLflow store: not ready
            assert ready.status_code == 503 and ready.json()["scores"]["churn"] == 40
            risk = client.get("/v1/accounts/A001/churn-risk", headers=headers)
            assert risk.status_code == 200 and risk.json()["model_version"] == "3"
            assert client.get("/v1/accounts/A001/churn-risk").status_code == 401
            assert client.get("/v1/drivers/churn", headers=headers).status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    log = stderr.decode()
    assert '"route": "/v1/accounts/{account_id}/churn-risk"' in log
    assert key.split(":", 1)[1] not in log


def test_a_taken_port_is_a_clear_error_before_anything_loads(workspace) -> None:
    settings, _ = workspace
    env = {
        **os.environ,
        "BAROMETER_HOME": str(settings.home),
        "BAROMETER_API_KEYS": new_key(Role.admin),
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(BAROMETER), "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr.decode()
    assert b"Serving" not in done.stdout
