"""``staging.map_unique``: a function applied once per distinct cell must give, cell by
cell, what applying it to every cell gives, with missing cells (None, NaN, NaT) given
``fn(None)``; in mixed columns equal values of different types (1, 1.0, True; a date and
its midnight datetime; 5 and "5") are distinct cells."""

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from tasks.collect.staging import map_unique


def _typed(v: object) -> str:
    return "missing" if v is None else f"{type(v).__name__}:{v}"


def _cell_by_cell(series: pd.Series) -> list[str]:
    return [_typed(None if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)) else v) for v in series]


@pytest.mark.parametrize(
    "cells",
    [
        [1, True, 1.0, "1", np.int64(1), None, 5, "5", 1, True],
        [date(2026, 7, 1), datetime(2026, 7, 1), None, "2026-07-01", date(2026, 7, 1), float("nan")],
        [4.0, 4, "4,0", "нет ответа", float("nan"), None, 4, 4.0],
        ["a", "b", None, "a"],
        [None, float("nan"), None],
        [0, False, 0.0, "", None],
    ],
)
def test_each_cell_gets_what_the_function_gives_it(cells):
    series = pd.Series(cells, dtype=object, index=np.arange(len(cells)) * 7)
    got = map_unique(series, _typed)
    assert got.index.equals(series.index) and got.dtype == object
    assert got.tolist() == _cell_by_cell(series)


def test_a_large_mixed_column_as_a_workbook_gives_it():
    rng = np.random.default_rng(7)
    pool = np.array([1, 2, 3, 4, 5, 1.0, 5.0, True, False, "1", "5", " 4 ", "нет ответа", None, date(2026, 7, 1),
                     datetime(2026, 7, 1), datetime(2026, 7, 1, 12)], dtype=object)  # fmt: skip
    series = pd.Series(pool[rng.integers(0, len(pool), 20_000)], dtype=object)
    calls: list[object] = []

    def counted(v: object) -> str:
        calls.append(v)
        return _typed(v)

    assert map_unique(series, counted).tolist() == _cell_by_cell(series)
    assert len(calls) <= len(pool) + 1  # once per distinct (value, type), once for missing


def test_an_empty_column_maps_to_an_empty_column():
    assert map_unique(pd.Series([], dtype=object), _typed).empty
