"""Records of one demo file before writing, and the helpers every channel shares for them.

A channel of the demo builds a :class:`Table` (header + rows), then plants its defects
with :func:`corrupt` (broken rows) and :func:`plant_duplicates` (exact copies); the
writers in :mod:`demo.writers` turn it into bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from cxloop.quarters import Quarter

# Client types as the exports spell them, in each export's header language.
CLIENT_WORD = {
    "ru": {"citizen": "гражданин", "employer": "работодатель"},
    "en": {"citizen": "citizen", "employer": "employer"},
}


@dataclass
class Table:
    """Records of one file before writing; ``rows`` are lists in ``header`` order."""

    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    broken: int = 0
    duplicates: int = 0
    cross_duplicates: int = 0
    pii: int = 0
    emerging: int = 0  # planted emerging-topic rows, the last ones of ``rows`` (see demo.emerging.scam_plan)


# --------------------------------------------------------------------------------------
# Shared helpers for rows
# --------------------------------------------------------------------------------------


def weekdays(q: Quarter) -> list[date]:
    d, out = q.start, []
    while d <= q.end:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def broken_date(rng: np.random.Generator, q: Quarter) -> str:
    return f"32.13.{q.year}" if rng.random() < 0.6 else ""


def plant_duplicates(rng: np.random.Generator, table: Table, valid: list[bool], k: int) -> None:
    """Insert ``k`` exact copies of valid rows a little after their originals."""
    for _ in range(k):
        candidates = [i for i, ok in enumerate(valid) if ok]
        if not candidates:
            return
        i = candidates[int(rng.integers(len(candidates)))]
        j = min(len(table.rows), i + 1 + int(rng.integers(0, 15)))
        table.rows.insert(j, list(table.rows[i]))
        valid.insert(j, False)  # a copy is never copied again
        table.duplicates += 1


def corrupt(
    rng: np.random.Generator, table: Table, valid: list[bool], n: int, corruptors: Sequence[Callable[[list[Any]], None]]
) -> None:
    """Break ``n`` distinct rows, one defect each."""
    idx = rng.choice(len(table.rows), size=min(n, len(table.rows)), replace=False)
    for i in sorted(int(x) for x in idx):
        corruptors[int(rng.integers(len(corruptors)))](table.rows[i])
        valid[i] = False
        table.broken += 1


def count_broken(rng: np.random.Generator, n_rows: int) -> int:
    if n_rows < 5:
        return 0
    return max(1, int(round(n_rows * rng.uniform(0.01, 0.02))))


def excel_serial(d: date) -> int:
    return (d - date(1899, 12, 30)).days
