"""The model room: the scoring artefact every other room trains, loads or explains.

- `artefact`: `ScoringModel` (LightGBM booster, calibrator, feature list): calibrated probabilities
  and per-feature TreeSHAP points that add up to them.
- `treeshap`: tree tables and incremental TreeSHAP for rows whose features changed.
- `flavour`: the MLflow pyfunc that wraps the artefact.
- `store`: registered names, the `champion` alias, loading a version from the MLflow registry.

It imports nothing from `training`, `explain`, `serving` or `barometer.scoring`.
"""
