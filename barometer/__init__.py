"""Barometer: the CLI and settings that wire data → features → training → serving together.

LightGBM and scikit-learn run on OpenMP, whose default is to spin waiting workers; on a shared
machine that starves the other worker of its core (at load ~9 on 2 cores, 30 LightGBM rounds took
41.8 s with 2 spinning threads and 4.0 s with passive waiting). The runtime reads the policy once,
when it loads, so it is set here: every room imports `barometer.settings` before either library.
An explicit `OMP_WAIT_POLICY` in the environment wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
