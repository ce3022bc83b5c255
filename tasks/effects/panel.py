"""An effect's input panel made ready for the estimators: columns checked, period labels
(quarters such as 2026Q1, or integers) turned into running numbers, units into integer
codes and the treated units into their start periods.

Used by both entry points of :mod:`tasks.effects.estimators`; the fits themselves are
:mod:`tasks.effects.fits`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping

import numpy as np
import pandas as pd

from cxloop.quarters import Quarter

PeriodLike = str | int | Quarter | pd.Period


# --------------------------------------------------------------------------- periods


def _period_kind(value: object) -> str:
    """``quarter`` or ``integer`` for one period label; ValueError for anything else."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"period {value!r} is neither a quarter label like 2026Q1 nor an integer")
    if isinstance(value, Quarter):
        return "quarter"
    if isinstance(value, (str, pd.Period)):
        try:
            Quarter.parse(str(value))
        except ValueError:
            raise ValueError(f"period {value!r} is neither a quarter label like 2026Q1 nor an integer") from None
        return "quarter"
    if isinstance(value, (int, np.integer)):
        return "integer"
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError("a period is missing")
        if float(value).is_integer():
            return "integer"
    raise ValueError(f"period {value!r} is neither a quarter label like 2026Q1 nor an integer")


def _period_index(value: object, kind: str) -> int:
    if kind == "quarter":
        return Quarter.parse(str(value)).index()
    if not isinstance(value, (int, float, np.integer, np.floating)):  # _period_kind lets only these through
        raise ValueError(f"period {value!r} is neither a quarter label like 2026Q1 nor an integer")
    return int(value)


def period_label(index: int, kind: str) -> str | int:
    """The label of a running period: ``2026Q1`` for quarters, the integer itself otherwise."""
    if kind == "quarter":
        return str(Quarter(index // 4, index % 4 + 1))
    return int(index)


def _periods_of(column: pd.Series, name: str) -> tuple[np.ndarray, str]:
    """Running integer periods of a column of quarter labels or integers, and which of the two it holds."""
    if column.isna().any():
        raise ValueError(f"period column {name!r} has missing values")
    uniques = pd.unique(column.astype(object))
    kinds = {_period_kind(v) for v in uniques}
    if len(kinds) > 1:
        raise ValueError(f"period column {name!r} mixes quarter labels and integers; use one kind")
    kind = kinds.pop() if kinds else "integer"
    mapping = {v: _period_index(v, kind) for v in uniques}
    return column.astype(object).map(mapping).to_numpy(dtype=np.int64), kind


# --------------------------------------------------------------------------- the panel


def prepare_panel(
    panel: pd.DataFrame,
    unit: str,
    period: str,
    outcome: str,
    weights: str | None,
    treated_units: Iterable[Hashable],
    start_period,
) -> tuple[pd.DataFrame, np.ndarray, dict[int, int], str]:
    """Validate the inputs; rows with integer unit codes, running periods, and the treated codes' start periods."""
    for role, name in (("unit", unit), ("period", period), ("outcome", outcome), ("weights", weights)):
        if name is not None and name not in panel.columns:
            raise ValueError(f"{role} column {name!r} is not in the panel (columns: {list(panel.columns)})")
    if panel[unit].isna().any():
        raise ValueError(f"unit column {unit!r} has missing values")
    t, kind = _periods_of(panel[period], period)
    value = pd.to_numeric(panel[outcome], errors="raise").to_numpy(float)
    if weights is None:
        w = np.ones(len(panel))
    else:
        w = pd.to_numeric(panel[weights], errors="raise").to_numpy(float)
        if np.any(w < 0) or np.any(np.isinf(w)):
            raise ValueError(f"weights column {weights!r} must be finite and not negative")
    keep = ~np.isnan(value) & ~np.isnan(w) & (w > 0)
    codes, labels = pd.factorize(panel[unit], sort=True)
    rows = pd.DataFrame({"u": codes[keep], "t": t[keep], "value": value[keep], "weight": w[keep]})
    labels = np.asarray(labels, dtype=object)

    treated = list(dict.fromkeys(treated_units)) if not isinstance(treated_units, (str, bytes)) else [treated_units]
    if isinstance(start_period, Mapping):
        missing = [u for u in treated if u not in start_period]
        extra = [u for u in start_period if u not in set(treated)]
        if missing or extra:
            raise ValueError(
                f"start_period must give a start for exactly the treated units: "
                f"{len(missing)} treated unit(s) without a start, {len(extra)} start(s) for units "
                f"not listed as treated"
            )
        start_of = dict(start_period)
    else:
        start_of = dict.fromkeys(treated, start_period)
    if start_of:
        kinds = {_period_kind(s) for s in start_of.values()}
        if len(panel) == 0:
            kind = sorted(kinds)[0]  # nothing to compare with; the result will be "no observations"
        elif kinds != {kind}:
            raise ValueError(f"start period(s) are {' and '.join(sorted(kinds))} but the panel's periods are {kind}s")
    position = {lab: i for i, lab in enumerate(labels)}
    starts = {position[u]: _period_index(s, kind) for u, s in start_of.items() if u in position}
    return rows, labels, starts, kind
