"""Inbound integration: source systems push signed events to /api/v1/ (api.py); they are
stored in an inbox before the answer (services.inbox_store) and applied by workers exactly
once (services.inbox_process). Models are defined here and exported by customers.models."""
