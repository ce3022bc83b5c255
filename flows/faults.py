"""Fault injection for the crash tests (``tests/flows/test_fault.py``): a Prefect hook that
kills the process right after a named task completed, as a power cut would.

It is wired into the flows' task options and does nothing unless ``CXLOOP_FAULT_AFTER``
is set, so a production run never meets it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

FAULT_ENV = "CXLOOP_FAULT_AFTER"
_completed: Counter[str] = Counter()


def crash_after_task(task, task_run, state) -> None:
    """Prefect ``on_completion`` hook for the crash tests: with ``CXLOOP_FAULT_AFTER=<task
    name>[#<n>]`` the process kills itself with SIGKILL right after the n-th (default
    first) completion of that task, i.e. after its transaction committed and Prefect
    recorded it Completed, before anything else runs. Without the variable it does
    nothing. Nothing is cleaned up, exactly like a machine losing power or the OOM
    killer: no ``finally``, no atexit, the lock row stays."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, nth = spec.partition("#")
    if task.name != name.strip():
        return
    _completed[task.name] += 1
    if _completed[task.name] < int(nth or 1):
        return
    sys.stderr.write(f"{FAULT_ENV}: killing process {os.getpid()} after task {task.name} #{_completed[task.name]}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
