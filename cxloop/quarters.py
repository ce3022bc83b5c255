"""Quarters as the loop's unit of time: ``2026Q3`` and friends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = _QUARTER_RE.match(text.strip().upper())
        if not m:
            raise ValueError(f"quarter must look like 2026Q3, got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, d: date) -> Quarter:
        return cls(d.year, (d.month - 1) // 3 + 1)

    @classmethod
    def last_complete(cls, today: date | None = None) -> Quarter:
        return cls.of(today or date.today()).prev()

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * (self.q - 1) + 1, 1)

    @property
    def end(self) -> date:
        return self.next().start - timedelta(days=1)

    def next(self) -> Quarter:
        return Quarter(self.year + (self.q == 4), self.q % 4 + 1)

    def prev(self) -> Quarter:
        return Quarter(self.year - (self.q == 1), (self.q - 2) % 4 + 1)

    def shift(self, n: int) -> Quarter:
        idx = self.year * 4 + (self.q - 1) + n
        return Quarter(idx // 4, idx % 4 + 1)

    def index(self) -> int:
        """A running number: consecutive quarters differ by one."""
        return self.year * 4 + (self.q - 1)

    @property
    def cycle_date(self) -> date:
        """The logical date of this quarter's cycle (5th day after it ends); used
        instead of the wall clock for automated register actions, so reruns are
        deterministic."""
        return self.end + timedelta(days=5)

    @property
    def cycle_time(self) -> datetime:
        """The logical timestamp of automated register actions in this quarter's cycle
        (06:00 UTC of :attr:`cycle_date`)."""
        return datetime.combine(self.cycle_date, time(6, 0), tzinfo=UTC)


def quarter_range(last: Quarter, count: int) -> list[Quarter]:
    return [last.shift(-i) for i in range(count - 1, -1, -1)]
