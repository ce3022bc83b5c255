"""Prefect flows: one per file, each a deployable entrypoint; wiring only."""
