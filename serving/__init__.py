"""The FastAPI service and dashboard."""
