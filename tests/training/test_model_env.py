"""The logged model is self-contained: MLflow builds a fresh virtualenv from the model's own
requirements (no Barometer installed in it) and `mlflow models serve` answers with the same
probabilities and points as the artefact in this process.

Slow (a virtualenv is built and MLflow, LightGBM, pandas and shap installed into it): `make
test-model-env`, not in the default run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest

from barometer.model.packaging import requirements

from .conftest import logged_churn_model

pytestmark = pytest.mark.slow
MLFLOW = Path(sys.executable).with_name("mlflow")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen, port: int, log: Path, timeout: float = 900) -> None:
    """Until `/ping` answers (the environment is built on the first start)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow models serve exited:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    raise AssertionError(f"not ready after {timeout} s:\n{log.read_text()[-4000:]}")


def test_served_from_fresh_virtualenv(tmp_path) -> None:
    import httpx

    model, rows, uri = logged_churn_model(tmp_path, seed=3, n_rows=25)
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "model"))
    logged = Path(local)
    assert (logged / "code" / "barometer" / "model" / "artefact.py").is_file()
    assert (logged / "requirements.txt").read_text().split() == requirements()

    port, log = free_port(), tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["MLFLOW_ENV_ROOT"] = str(tmp_path / "envs")  # a fresh environment, built for this test
    cmd = [str(MLFLOW), "models", "serve", "-m", str(logged), "-p", str(port)]
    cmd += ["--env-manager", "virtualenv", "--host", "127.0.0.1"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True
        )
    try:
        wait_ready(proc, port, log)
        body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        answer = httpx.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        served = answer.json()["predictions"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    pythons = list((tmp_path / "envs").rglob("bin/python"))
    assert pythons, "no virtualenv was built"
    # The served environment has no Barometer: the model's own code_paths supplied it.
    probe = [str(pythons[0]), "-c", "import importlib.util as u; print(u.find_spec('barometer'))"]
    assert (
        subprocess.run(probe, capture_output=True, text=True, cwd=tmp_path).stdout.strip() == "None"
    )
    np.testing.assert_allclose(
        [r["probability"] for r in served], model.predict_proba(rows), atol=1e-9
    )
    points = model.explain(rows).points["calls_90d"].to_numpy()
    np.testing.assert_allclose([r["contrib__calls_90d"] for r in served], points, atol=1e-9)
