"""A pilot in one (or a few) units: the two-way fixed-effects difference-in-differences with
placebo inference, and the synthetic-control cross-check of a single treated unit.

:func:`tasks.effects.fits.fit_effect` calls these when fewer than ``min_units_per_arm``
treated units (usually: one office) face enough comparison units; the rules are documented
in :mod:`tasks.effects.estimators`, the placebo refits are :mod:`tasks.effects.placebo`,
the synthetic control :mod:`tasks.effects.synthetic`.

In: the unit x period cells of :func:`tasks.effects.fits.fit_effect` (integer codes ``u``,
``t``, ``value``, ``weight``, ``treated``), the treated and comparison unit codes and the
start period. Out: a :class:`tasks.effects.results.Fit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from tasks.effects.placebo import placebo_estimates, placebo_inference, placebo_sets
from tasks.effects.results import METHOD_DID, Fit, Nouns
from tasks.effects.synthetic import SYNTH_MIN_DONORS, synthetic_control
from tasks.effects.twfe import twfe_did


def _ordinal(n: int) -> str:
    return {1: "largest", 2: "2nd largest", 3: "3rd largest"}.get(n, f"{n}th largest")


def few_treated_did(
    cells: pd.DataFrame, treated: set[int], controls: set[int], start: int, alpha: float, min_units: int, nouns: Nouns
) -> Fit | str:
    """Two-way fixed-effects DiD of fewer than ``min_units`` treated units with placebo inference.

    The point estimate is the clustered fit's (:func:`tasks.effects.twfe.twfe_did`); the interval,
    p-value, SE and MDE come from the same fit on the comparison units alone with the treated label
    moved to each of them (to sets of k of them for k treated units). Out: the fit, or the reason it
    could not be made.
    """
    panel = cells[cells["u"].isin(treated | controls)]
    d = (panel["treated"] & (panel["t"] >= start)).to_numpy(float)
    u, t = panel["u"].to_numpy(), panel["t"].to_numpy()
    y, w = panel["value"].to_numpy(float), panel["weight"].to_numpy(float)
    try:
        est, _, _ = twfe_did(u, t, y, w, d)
    except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - degenerate panels
        return f"difference-in-differences could not be fitted: {exc}"
    ctl = ~panel["treated"].to_numpy(bool)
    k = len(treated)
    sets = placebo_sets(np.array(sorted(controls)), k)
    placebos = placebo_estimates(u[ctl], t[ctl], y[ctl], w[ctl], t[ctl] >= start, sets)
    try:
        inf = placebo_inference(est, placebos, alpha)
    except ValueError as exc:  # pragma: no cover - placebo fits collinear with the fixed effects
        return f"placebo inference impossible: {exc}"
    if k == 1 and len(sets) == len(controls):
        moved = f"each of the {len(controls)} comparison {nouns.units}"
    else:
        sampled = "" if len(sets) == math.comb(len(controls), k) else "random "
        moved = f"{inf.n_placebos} {sampled}sets of {k} comparison {nouns.units}"
    note = (
        f"difference-in-differences, {nouns.unit} and {nouns.period} fixed effects; {k} treated vs "
        f"{len(controls)} comparison {nouns.units}, {len(np.unique(t))} {nouns.periods}; placebo inference "
        f"(fewer than {min_units} treated {nouns.units}: clustered standard errors are not valid): the same fit "
        f"with the treated label moved to {moved}, {nouns.treated} left out; {1 - alpha:.0%} interval = estimate "
        f"+/- {inf.critical:.3g}, the {_ordinal(inf.rank)} absolute placebo estimate of {inf.n_placebos}; p-value "
        f"{inf.p_value:.3g} = share of the {inf.n_placebos + 1} estimates (placebos and the real one) at least as "
        f"large in absolute value; SE = root mean square of the placebo estimates, MDE = critical value + 0.84 SE"
    )
    return Fit(
        est,
        inf.se,
        float("nan"),
        METHOD_DID,
        k,
        len(controls),
        float(w.sum()),
        note,
        interval=(inf.ci_low, inf.ci_high),
        p_value=inf.p_value,
        mde=inf.mde,
    )


def with_synthetic(
    fit: Fit,
    cells: pd.DataFrame,
    treated: set[int],
    controls: set[int],
    start: int,
    units: np.ndarray,
    fmt: Callable[[int], str | int],
    nouns: Nouns,
) -> Fit:
    """``fit`` with the synthetic-control cross-check when exactly one unit is treated and it has
    comparison units (the note says why when none could be built)."""
    if len(treated) == 1 and len(controls) >= SYNTH_MIN_DONORS:
        (code,) = treated
        synth = synthetic_control(cells, code, sorted(controls), start, units, fmt, nouns.unit)
        if isinstance(synth, str):
            fit.note += f"; no {synth}"
        else:
            fit.synthetic = synth
    return fit
