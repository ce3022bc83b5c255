"""The national bench's ingest (``tools.bench_national``): a quarter's folder through
:mod:`tasks.validate.batch` as the ingest flow runs it, without Prefect.

With one worker every batch of files (:func:`flows.ingest.batches`) is validated and then
stored in this process. With more, batches are validated in a pool of that many spawned
processes, :data:`flows.ingest.BATCHES_AHEAD` ahead of the one being stored, and every
file is stored here in order (``flows.ingest._ingest_all`` does the same through the
flow's task runner), so the database ends the same whatever the number of workers.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

__all__ = ["ingest_folder"]


def ingest_folder(folder: Path, quarter: str, config, workers: int = 1) -> tuple[list, dict[str, int]]:
    """Ingest every file of ``folder`` for ``quarter``; (file reports, totals)."""
    from flows.ingest import BATCHES_AHEAD, batches
    from tasks.collect.discovery import resolve_inputs
    from tasks.validate.batch import ingest_files, prepare_files, store_prepared

    items = resolve_inputs([str(folder)], None, quarter)
    chunks = batches(items)
    reports: list = []
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            reports += ingest_files(chunk, config)
    else:
        # Spawned, as the flow's process pool: workers read the settings from the environment.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            upcoming = iter(chunks)
            waiting: deque[Future] = deque(
                pool.submit(prepare_files, chunk, config) for chunk in itertools.islice(upcoming, BATCHES_AHEAD + 1)
            )
            while waiting:
                prepared = waiting.popleft().result()
                following = next(upcoming, None)
                if following is not None:
                    waiting.append(pool.submit(prepare_files, following, config))
                reports += [store_prepared(p, config) for p in prepared]
    totals = {
        k: sum(getattr(r.summary, k) for r in reports) for k in ("received", "accepted", "quarantined", "duplicates")
    }
    totals["files"] = len(reports)
    totals["unreadable"] = sum(r.rejected for r in reports)
    return reports, totals
