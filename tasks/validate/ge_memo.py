"""One GE expectation configuration per expectation and validation run, not one per look.

GE 1.x's ``Expectation.configuration`` is a property that serialises the whole
expectation (pydantic ``.dict()``) each time it is read, and a validation reads it for
every domain, success and runtime key of every expectation: ~200 times per expectation
and run. In a cProfile of ``tasks.validate.batch.prepare_files`` on 128 files of a
200k-row national intake that was 3.0 of 20.3 s, the largest single cost of GE's part.

:func:`memoised_configurations` makes the property return, inside the ``with`` block and
in this thread or task only, the configuration it built the second time for that
expectation object (the first read's object is GE's to change: it substitutes the suite's
parameters into it). The expectations of a suite are not changed while GE validates them,
so the value is the one GE would have built again. Outside the block (other threads, other
callers) the property is GE's own. The property is wrapped once, on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["memoised_configurations"]

# id(expectation) -> (the expectation, its configuration); the expectation is kept so that
# its id cannot be reused by another object while the memo lives.
_memo: ContextVar[dict[int, tuple[Any, Any]] | None] = ContextVar("cxloop_ge_configuration_memo", default=None)
_lock = threading.Lock()
_installed = False


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from great_expectations.expectations.expectation import Expectation

        original = vars(Expectation).get("configuration")
        if not isinstance(original, property) or original.fget is None:  # a GE change: keep GE's behaviour
            _installed = True
            return
        build = original.fget

        def configuration(self: Any) -> Any:
            memo = _memo.get()
            if memo is None:
                return build(self)
            hit = memo.get(id(self))
            if hit is None or hit[0] is not self:
                # The first read is GE's own, not kept: GE substitutes the suite's parameters
                # into that object (Validator.process_expectations_for_validation).
                memo[id(self)] = (self, None)
                return build(self)
            if hit[1] is None:
                hit = (self, build(self))
                memo[id(self)] = hit
            return hit[1]

        configuration.__doc__ = original.__doc__
        Expectation.configuration = property(configuration)  # type: ignore[method-assign,assignment]
        _installed = True


@contextmanager
def memoised_configurations() -> Iterator[None]:
    """Within the block, each expectation's ``configuration`` is built once (see the module)."""
    _install()
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)
