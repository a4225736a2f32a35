"""LightGBM training, backtests, calibration, evaluation and the MLflow model lifecycle."""
