"""Training room: configs, time splits, LightGBM fits, calibration, evaluation and MLflow.

OpenMP's passive waiting (see `barometer/__init__.py`) is set before this room loads LightGBM.
"""

import barometer  # noqa: F401 - sets OMP_WAIT_POLICY before LightGBM or scikit-learn load
