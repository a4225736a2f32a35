"""Barometer: the CLI and settings that wire data → features → training → serving together.

LightGBM and scikit-learn run on OpenMP, whose default is to spin waiting workers; on a shared
machine that starves the other worker of its core and slows training about tenfold under load
(docs/benchmarks.md). The runtime reads the policy once,
when it loads, so it is set here: every room imports `barometer.settings` before either library.
An explicit `OMP_WAIT_POLICY` in the environment wins.

Commands report their own progress, so MLflow's per-download progress bars (which interleave
with it on stderr) are off unless the environment turns them on.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

__version__ = "0.1.0"
