"""Text cells as staging keeps them (``staging._strings_or_none``): stripped, and empty or
missing as pandas' own ``.str.strip().where(..., None)`` leaves them, for every kind of text
column the readers give (object, ``str``, ``string``)."""

import numpy as np
import pandas as pd
import pytest

from tasks.collect import staging


def _by_pandas(series: pd.Series) -> pd.Series:
    text = series.str.strip()
    return text.where(text.notna() & (text != ""), None).astype(object)


@pytest.mark.parametrize("dtype", [object, "str", "string"])
@pytest.mark.parametrize(
    "values",
    [
        ["  a ", None, "", " ", "b", "a", "\ta\n"],
        [None, None],
        [],
        ["x"],
        ["52-01 ", " 52-01", "52-01", "52-02"],
    ],
)
def test_distinct_values_stripped_once_give_what_pandas_gives(values, dtype):
    series = pd.Series(values, dtype=dtype, index=np.arange(len(values)) * 3)
    got, want = staging._strings_or_none(series), _by_pandas(series)
    assert got.dtype == want.dtype == object and got.index.equals(want.index)
    # repr tells None, NaN and pd.NA apart: the same missing value, not merely a missing one
    assert [repr(v) for v in got.tolist()] == [repr(v) for v in want.tolist()]


def test_mixed_cells_take_the_per_value_path():
    series = pd.Series([5.0, " 5 ", None, 7], dtype=object)
    assert staging._strings_or_none(series).tolist() == ["5", "5", None, "7"]
