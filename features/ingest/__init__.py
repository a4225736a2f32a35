"""Ingestion: canonical, Salesforce and mapping adapters, validation, rejects, atomic loads."""
