"""Training room: configs, time splits, LightGBM fits, calibration, evaluation and MLflow.

LightGBM and scikit-learn run on OpenMP. Its default is to spin waiting workers, which on a
shared machine starves the other worker of its core: at load ~9 on 2 cores, 30 LightGBM rounds
took 41.8 s with 2 spinning threads and 4.0 s with passive waiting. The runtime reads the policy
once, when it loads, so it is set here, before either library is imported by this room (an
explicit `OMP_WAIT_POLICY` in the environment wins).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
