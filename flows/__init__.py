"""Prefect flows: one per file, each a deployable entrypoint; wiring only.

Importing the package makes an embedded Prefect server, if this process is the one to
start it (no ``PREFECT_API_URL``), die with this process (:mod:`cxloop.lifeline`).
"""

from cxloop.lifeline import guard_embedded_server as _guard_embedded_server

_guard_embedded_server()
