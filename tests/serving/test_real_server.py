"""`barometer serve` on 127.0.0.1: started as a process, queried with httpx, stopped cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from serving.auth import Role, new_key

BAROMETER = Path(sys.executable).with_name("barometer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"server did not answer {url} within {seconds}s")


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
        wait_until_up(f"{base}/healthz", process)
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
