"""Loop step 4, *detect*: the Laney p' control chart, which tells a pain point's
rising or falling share from the quarter-to-quarter noise. :mod:`tasks.insight.painpoints`
takes every pain point's ``trend``, ``signal`` and limits from here (a signal weighs in
its priority); the counts come from :mod:`tasks.insight.mentions`.

The p-chart (Laney p')
    For every pain point, the series of its negative share over the
    ``history_quarters`` quarters before the current one (the *baseline*; a quarter
    in which the unit had no texts of the client type is not a point, one in which it
    had texts but no mention of the key is a point at 0):

        p̄   = Σx / Σn over the baseline
        σ_i = sqrt(p̄ (1 - p̄) / n_i)             (binomial, per quarter)
        z_i = (p_i - p̄) / σ_i
        σ_z = mean |z_i - z_(i-1)| / 1.128        (moving range of consecutive baseline points)
        UCL, LCL = p̄ ± 3 · σ_now · max(σ_z, 1)   (LCL at least 0, UCL at most 1)

    ``signal`` = ``"rise"`` when the current quarter's share is above the UCL,
    ``"fall"`` when below the LCL, else empty. With fewer than
    ``min_baseline_quarters`` (3) baseline points there is no signal and no limits
    (``p_bar`` is still shown). There is no signal either (the limits are still
    stored) when the baseline expects fewer than ``min_expected_mentions`` (5)
    mentions this quarter, p̄ x n_now < 5: 3-sigma limits rest on the normal
    approximation of the binomial, which the textbook rule n·p̄ ≥ 5 asks for. Below
    it the binomial is skewed and the upper limit too low; and since only keys with
    at least ``min_mentions`` mentions are pain points at all, a low-count key is
    listed precisely when it happens to be high, so the chart would "rise" often by
    chance. On stationary synthetic data (2,400 offices, 1,000,000 feedback rows a
    quarter, no real change, so every signal is spurious) the rule took the rate of
    rises among office pain points from 2.9 % (366 of 12,447) to 0.03 % (4), among
    region pain points from 0.65 % to 0.45 % (14 of 3,093). A theme never mentioned
    in the baseline (p̄ = 0) therefore gets no signal; its ``trend`` shows the jump.
    ``p_bar``, ``ucl`` and ``lcl`` are stored per 100 texts, like ``negative_share``.

    Why Laney: feedback volumes are large and the share of a theme drifts from
    quarter to quarter for reasons that are not a special cause (seasons, campaigns);
    a plain p-chart then flags almost every quarter. σ_z measures that extra
    quarter-to-quarter variation in units of the binomial one and widens the limits
    by it (Laney 2002, "Improved control charts for attributes").
    Why σ_z is floored at 1: Laney's chart also *narrows* the limits when σ_z < 1
    (underdispersion). With three to six baseline points the moving range rests on
    two to five differences and is far too noisy to claim that; a smooth baseline by
    chance would give σ_z near 0 and turn every wobble into a signal. So the p'
    limits are never narrower than the binomial p-chart's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from cxloop.quarters import Quarter
from tasks.insight.mentions import PAIN_POINT_KEY, UNIT_KEY

#: Shewhart's d2 for moving ranges of two points: E|X_i - X_(i-1)| = 1.128 σ.
D2 = 1.128
#: σ_z is never below this (see the module docstring).
SIGMA_Z_FLOOR = 1.0


def laney_limits(
    series: pd.DataFrame,
    current: pd.DataFrame,
    *,
    min_baseline: int = 3,
    min_expected: float = 5.0,
    sigma_z_floor: float = SIGMA_Z_FLOOR,
    z: float = 3.0,
) -> pd.DataFrame:
    """Laney p' limits and signals for many keys at once (formulas: module docstring).

    ``series``: the baseline, columns ``key, order, x, n`` (one row per key and
    quarter with n > 0; ``order`` sorts the quarters). ``current``: columns ``key, x,
    n`` for the quarter under test. Out, indexed by key (every key of ``current``):
    ``baseline`` (number of points), ``p_bar``, ``sigma_z`` (floored), ``ucl``,
    ``lcl`` (shares 0-1; empty below ``min_baseline`` points) and ``signal``
    (``"rise"``, ``"fall"`` or None; None also when the count the baseline expects
    now, p̄ x n, is below ``min_expected``).
    """
    cur = current.set_index("key")[["x", "n"]].astype("float64")
    out = pd.DataFrame(index=cur.index)
    s = series[series["n"] > 0].sort_values(["key", "order"], kind="mergesort")
    g = s.groupby("key", sort=False)
    out["baseline"] = g.size().reindex(out.index).fillna(0).astype("int64")
    p_bar = (g["x"].sum() / g["n"].sum()).reindex(out.index)
    out["p_bar"] = p_bar
    pb = s["key"].map(p_bar)
    sigma_i = np.sqrt(pb * (1.0 - pb) / s["n"])
    with np.errstate(divide="ignore", invalid="ignore"):
        zi = (s["x"] / s["n"] - pb) / sigma_i
    zi = zi.where(sigma_i > 0)
    mr = zi.groupby(s["key"], sort=False).diff().abs()
    sigma_z = (mr.groupby(s["key"], sort=False).mean() / D2).reindex(out.index)
    out["sigma_z"] = sigma_z.where(sigma_z > sigma_z_floor, sigma_z_floor).fillna(sigma_z_floor)
    sigma_now = np.sqrt(out["p_bar"] * (1.0 - out["p_bar"]) / cur["n"])
    half = z * sigma_now * out["sigma_z"]
    enough = out["baseline"] >= min_baseline
    out["ucl"] = (out["p_bar"] + half).clip(upper=1.0).where(enough)
    out["lcl"] = (out["p_bar"] - half).clip(lower=0.0).where(enough)
    p_now = cur["x"] / cur["n"]
    none = np.array(None, dtype=object)  # "no signal"; a bare None is the same to where() but not to its stubs
    signal = np.where(p_now > out["ucl"], "rise", np.where(p_now < out["lcl"], "fall", none))
    judged = (enough & (out["p_bar"] * cur["n"] >= min_expected)).to_numpy()
    out["signal"] = pd.Series(np.where(judged, signal, none), index=out.index, dtype=object)
    return out


def laney_p_prime(
    x: Iterable[float],
    n: Iterable[float],
    x_now: float,
    n_now: float,
    *,
    min_baseline: int = 3,
    min_expected: float = 5.0,
    sigma_z_floor: float = SIGMA_Z_FLOOR,
) -> dict[str, Any]:
    """One series through ``laney_limits``: baseline counts ``x``/``n`` in time order,
    the current ``x_now``/``n_now``."""
    x, n = list(x), list(n)
    series = pd.DataFrame({"key": 0, "order": range(len(x)), "x": x, "n": n}, dtype="float64").astype({"key": "int64"})
    res = laney_limits(
        series,
        pd.DataFrame({"key": [0], "x": [x_now], "n": [n_now]}),
        min_baseline=min_baseline,
        min_expected=min_expected,
        sigma_z_floor=sigma_z_floor,
    )
    row = res.iloc[0]
    return {k: (None if (k != "signal" and pd.isna(row[k])) else row[k]) for k in res.columns}


def history_stats(
    rows: pd.DataFrame,
    counts: pd.DataFrame,
    totals: pd.DataFrame,
    quarter: str,
    history_quarters: int,
    min_baseline: int,
    min_expected: float,
) -> pd.DataFrame:
    """trend, signal, p_bar, ucl, lcl for ``rows`` (current pain points) from the earlier quarters' counts."""
    q = Quarter.parse(quarter)
    baseline_q = {str(q.shift(-i)): -i for i in range(1, history_quarters + 1)}
    prev = str(q.prev())
    keys = rows[PAIN_POINT_KEY].reset_index(drop=True).assign(key=lambda f: np.arange(len(f)))
    base_totals = totals[totals["quarter"].isin(list(baseline_q))]
    grid = keys.merge(base_totals, on=UNIT_KEY, how="inner")
    hist = counts.loc[counts["quarter"].isin(list(baseline_q)), ["quarter", *PAIN_POINT_KEY, "negative_mentions"]]
    grid = grid.merge(hist, on=["quarter", *PAIN_POINT_KEY], how="left")
    grid["x"] = grid["negative_mentions"].fillna(0).astype("float64")
    grid["n"] = grid["texts_total"].astype("float64")
    grid["order"] = grid["quarter"].map(baseline_q)
    current = pd.DataFrame(
        {
            "key": keys["key"],
            "x": rows["negative_mentions"].to_numpy(dtype="float64"),
            "n": rows["texts_total"].to_numpy(dtype="float64"),
        }
    )
    limits = laney_limits(
        grid[["key", "order", "x", "n"]], current, min_baseline=min_baseline, min_expected=min_expected
    )
    out = pd.DataFrame(index=rows.index)
    before = grid[grid["quarter"] == prev].set_index("key")
    prev_share = (100.0 * before["x"] / before["n"]).reindex(keys["key"]).to_numpy()
    out["trend"] = rows["negative_share"].to_numpy() - prev_share
    out["signal"] = limits["signal"].to_numpy()
    out["p_bar"] = 100.0 * limits["p_bar"].to_numpy()
    out["ucl"] = 100.0 * limits["ucl"].to_numpy()
    out["lcl"] = 100.0 * limits["lcl"].to_numpy()
    return out
