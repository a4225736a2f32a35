"""The model room: the scoring artefact every other room trains, loads or explains.

- `artefact`: `ScoringModel` (a LightGBM, logistic or BG/NBD scorer, its encoder and calibrator):
  calibrated probabilities and per-feature points that add up to them.
- `encoder`: `FeatureEncoder`, the one fitted encoder from raw feature rows to the scorer's matrix
  (training, scoring, the pyfunc and the service all transform through it).
- `scorers`: the three kinds of scorer behind `ScoringModel`.
- `treeshap`: tree tables and incremental TreeSHAP for rows whose features changed.
- `flavour`: the MLflow pyfunc that wraps the artefact.
- `store`: registered names, the `champion` alias, loading a version from the MLflow registry.

It imports nothing from `training`, `explain`, `serving` or `barometer.scoring`.
"""
