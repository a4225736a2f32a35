"""The data contract, the CRM simulator and sample data."""
