"""A side product made in a process of its own while the flow goes on (issue 15).

The quarterly cycle's stages after learning (star index, pain points, proposals, effects)
run on one core, so on a 2-core machine the other core is idle while they run. GE Data
Docs for a national intake (~12 s alone on a core for 1,020 suite runs) are made there instead of
between intake and learning: :class:`BackgroundCall` starts one function in a spawned
process and the flow collects its result when it needs it. The intake makes the call
(:meth:`BackgroundCall.later`) and the cycle starts it once learning, whose model fits take
both cores, is done (``flows.ingest.start_data_docs``).

The process carries a lifeline (:mod:`cxloop.lifeline`): it ends with the flow's process
even when that one is killed. It runs on the flow's machine whatever the task runner
(Dask included), so what it writes lands where the flow's other outputs do. An exception
in it comes back from :meth:`BackgroundCall.result`, as from a direct call.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from cxloop.lifeline import worker_initializer

T = TypeVar("T")

__all__ = ["BackgroundCall"]


class BackgroundCall(Generic[T]):
    """``fn(*args, **kwargs)`` running in a spawned process from the moment this is made
    (:meth:`later`: from :meth:`start`, or when its result is asked for).

    ``fn`` and its arguments must pickle (a module-level function, plain data). The process
    imports ``fn``'s module itself (a few seconds for Great Expectations), on its own core.
    """

    def __init__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> None:
        self._call = (fn, args, kwargs)
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future[T] | None = None
        self.start()

    @classmethod
    def later(cls, fn: Callable[..., T], *args: Any, **kwargs: Any) -> BackgroundCall[T]:
        """The call, not started yet: for a caller that knows a better moment (a core free)."""
        call = cls.__new__(cls)
        call._call, call._pool, call._future = (fn, args, kwargs), None, None
        return call

    @property
    def started(self) -> bool:
        return self._future is not None

    def start(self) -> None:
        """Start the process and the call in it; nothing when already started."""
        if self._future is not None:
            return
        fn, args, kwargs = self._call
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_initializer,
            initargs=(os.getpid(),),
        )
        self._future = self._pool.submit(fn, *args, **kwargs)

    def discard(self) -> None:
        """The result is not wanted: the process ends once its call returns (it cannot be
        stopped half way), without anyone waiting for it."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def done(self) -> bool:
        return self._future is not None and self._future.done()

    def result(self, timeout: float | None = None) -> T:
        """Wait for the call (started now if it was not) and return what it returned (or raise
        what it raised); the process is then told to end, without waiting for it (its
        interpreter's tear-down takes ~2 s after Great Expectations). Called again, gives the
        same result."""
        self.start()
        assert self._future is not None and self._pool is not None  # set by start()
        try:
            return self._future.result(timeout)
        finally:
            if self._future.done():
                self._pool.shutdown(wait=False)
