"""Ingestion, validation, point-in-time behavioural features and outcome labels."""
