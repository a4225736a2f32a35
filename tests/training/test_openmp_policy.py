"""OpenMP waits passively in every room (unless the environment says otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHOW = "import training.fit, os; print(os.environ['OMP_WAIT_POLICY'])"


def policy_after_import(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_training_sets_passive_waiting_before_lightgbm_loads(given, expected) -> None:
    assert policy_after_import(given) == expected
