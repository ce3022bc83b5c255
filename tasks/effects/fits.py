"""The effect estimators proper: two-way fixed-effects difference-in-differences, the
staggered difference-in-differences of Callaway & Sant'Anna, the interrupted time series
and before/after, and :func:`fit_effect`, which chooses among them.

They work on the integer-coded rows of :mod:`tasks.effects.panel`; the methods, their
choice and their caveats are documented in :mod:`tasks.effects.estimators`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tasks.effects.few_treated import few_treated_did, with_synthetic
from tasks.effects.panel import period_label
from tasks.effects.placebo import min_placebos
from tasks.effects.results import (
    METHOD_BEFORE_AFTER,
    METHOD_DID,
    METHOD_ITS,
    METHOD_NONE,
    METHOD_STAGGERED,
    PUBLIC_NOUNS,
    Fit,
    GroupTimeEffect,
    Nouns,
)
from tasks.effects.twfe import twfe_did

ITS_MIN_PRE = 3
ITS_MIN_POST = 1
CONTROL_NEVER = "never_treated"
CONTROL_NOT_YET = "not_yet_treated"


def _none(note: str, n_treated: int = 0, n_control: int = 0, n_obs: float = 0.0) -> Fit:
    return Fit(float("nan"), float("nan"), float("nan"), METHOD_NONE, n_treated, n_control, n_obs, note)


def _cells(rows: pd.DataFrame) -> pd.DataFrame:
    """Unit x period cells (integer codes ``u``, ``t``): weighted mean ``value`` and summed ``weight``."""
    df = rows[["u", "t"]].copy()
    df["wv"] = rows["value"].to_numpy() * rows["weight"].to_numpy()
    df["weight"] = rows["weight"].to_numpy()
    cells = df.groupby(["u", "t"], sort=True, as_index=False)[["wv", "weight"]].sum()
    cells["value"] = cells["wv"] / cells["weight"]
    return cells.drop(columns="wv")


def _newey_west_lags(n: int) -> int:
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def _its_fit(e: np.ndarray, y: np.ndarray) -> tuple[float, float, int, int, str]:
    """Segmented OLS ``y ~ e + post + e_since_start`` on one series in time order.

    Out: the ``post`` coefficient (level change at e = 0), its standard error,
    the residual degrees of freedom n - k, the Newey-West lags L, and which
    standard error was the larger: the classical OLS one or Newey-West's
    (Bartlett weights 1 - j/(L+1), j <= L, small-sample factor n/(n-k)).
    """
    post = (e >= 0).astype(float)
    since = np.where(e >= 0, e, 0).astype(float)
    cols = [np.ones_like(post), e.astype(float), post]
    if len(np.unique(e[e >= 0])) >= 2:  # a slope after the start needs two periods after it
        cols.append(since)
    x = np.column_stack(cols)
    n, k = x.shape
    if n <= k:
        raise ValueError("too few periods for a segmented regression")
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ (x.T @ y)
    resid = y - x @ beta
    classical = float(resid @ resid) / (n - k) * bread[2, 2]
    scores = x * resid[:, None]
    lags = min(_newey_west_lags(n), n - 1)
    meat = scores.T @ scores
    for j in range(1, lags + 1):
        gamma = scores[j:].T @ scores[:-j]
        meat += (1 - j / (lags + 1)) * (gamma + gamma.T)
    newey_west = float((bread @ meat @ bread)[2, 2]) * n / (n - k)
    var, which = (newey_west, "Newey-West") if newey_west > classical else (classical, "classical OLS")
    return float(beta[2]), math.sqrt(max(var, 0.0)), n - k, lags, which


def _weighted_moments(values: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """Weighted mean, (reliability-weighted) variance and Kish effective size."""
    w = weights.astype(float)
    mean = float(np.sum(w * values) / np.sum(w))
    n_eff = float(np.sum(w) ** 2 / np.sum(w**2))
    v1, v2 = np.sum(w), np.sum(w**2)
    var = float(np.sum(w * (values - mean) ** 2) / (v1 - v2 / v1)) if v1 - v2 / v1 > 0 else float("nan")
    return mean, var, n_eff


def _welch(pre: pd.DataFrame, post: pd.DataFrame) -> tuple[float, float, float]:
    """Difference of weighted means after - before, its SE and Welch-Satterthwaite degrees of freedom."""
    m0, v0, n0 = _weighted_moments(pre["value"].to_numpy(float), pre["weight"].to_numpy(float))
    m1, v1, n1 = _weighted_moments(post["value"].to_numpy(float), post["weight"].to_numpy(float))
    est = m1 - m0
    a, b = v0 / n0, v1 / n1
    se = math.sqrt(a + b) if math.isfinite(a + b) else float("nan")
    if not math.isfinite(se) or se == 0 or n0 <= 1 or n1 <= 1:
        return est, float("nan"), float("nan")
    df = (a + b) ** 2 / (a**2 / (n0 - 1) + b**2 / (n1 - 1))
    return est, se, float(df)


def _fallback(rows: pd.DataFrame, cells: pd.DataFrame, reason: str, nouns: Nouns, fmt) -> Fit:
    """Interrupted time series, else before/after, on the treated units alone (``e`` = event time)."""
    caveat = (
        f"changes common to all {nouns.units} at the same time (a national campaign, the season) "
        f"are not separated from the measure's effect"
    )
    n_t = int(rows["u"].nunique())
    n_obs = float(rows["weight"].sum())
    series = cells.assign(wv=cells["value"] * cells["weight"]).groupby("e", sort=True)[["wv", "weight"]].sum()
    e = series.index.to_numpy(dtype=np.int64)
    n_pre, n_post = int((e < 0).sum()), int((e >= 0).sum())
    if n_pre >= ITS_MIN_PRE and n_post >= ITS_MIN_POST:
        y = (series["wv"] / series["weight"]).to_numpy(float)
        est, se, df, lags, which = _its_fit(e, y)
        note = (
            f"interrupted time series on the treated {nouns.units}' {nouns.period} means: segmented regression "
            f"y ~ time + post + time_since_start, level change at the start, SE the larger of classical OLS "
            f"and Newey-West ({lags} lag(s)): {which}, t with {df} df; {n_pre} {nouns.periods} before, "
            f"{n_post} from the start; {reason}; {caveat}"
        )
        return Fit(est, se, df, METHOD_ITS, n_t, 0, n_obs, note)
    pre, post = rows[rows["e"] < 0], rows[rows["e"] >= 0]
    est, se, welch_df = _welch(pre, post)
    note = (
        f"before/after in {nouns.treated} (Welch): {reason}; only {n_pre} {nouns.period}(s) before "
        f"(an interrupted time series needs {ITS_MIN_PRE}); {caveat}"
    )
    return Fit(est, se, welch_df, METHOD_BEFORE_AFTER, n_t, 0, n_obs, note)


def _staggered(
    cells: pd.DataFrame, group: np.ndarray, usable: np.ndarray, n_units: int, min_units: int, nouns: Nouns, fmt
) -> Fit | str:
    """Callaway & Sant'Anna ATT(g, t), simple aggregation, influence-function SE.

    ``group[u]`` is unit u's first treated period (inf: untreated in the panel),
    ``usable[u]`` whether it may sit in a treated arm (data before and after its
    start). Out: the fit, or the reason it could not be made.
    """
    periods = np.sort(cells["t"].unique())
    col = {p: i for i, p in enumerate(periods)}
    y = np.full((n_units, len(periods)), np.nan)
    wt = np.zeros((n_units, len(periods)))
    tc = cells["t"].map(col).to_numpy()
    uc = cells["u"].to_numpy()
    y[uc, tc] = cells["value"].to_numpy()
    wt[uc, tc] = cells["weight"].to_numpy()
    seen = ~np.isnan(y)
    n_seen = seen.sum(axis=1)
    omega = np.divide(wt.sum(axis=1), n_seen, out=np.zeros(n_units), where=n_seen > 0)  # unit weight

    never = np.isinf(group) & (n_seen > 0)
    control_group = CONTROL_NEVER if never.sum() >= min_units else CONTROL_NOT_YET
    starts = sorted({float(g) for g in group[usable]})
    used = np.zeros_like(seen)
    treated_in = {g: np.zeros(n_units, bool) for g in starts}
    control_any = np.zeros(n_units, bool)
    atts: list[float] = []
    infl: list[np.ndarray] = []  # per unit, summing to the estimate's deviation
    labels: list[tuple[float, int, int, int, int]] = []
    skipped = 0
    for g in starts:
        # The base: the last period before g in which the group is observed (g - 1 in a full panel;
        # earlier when the group's start period was left out, as the pipeline does).
        members = usable & (group == g)
        before = np.flatnonzero((periods < g) & (seen[members].sum(axis=0) >= min_units))
        if not len(before):
            continue
        b = int(before[-1])
        for j in np.flatnonzero(periods >= g):
            both = seen[:, b] & seen[:, j]
            tr = np.flatnonzero(both & usable & (group == g))
            ctl = np.flatnonzero(both & (never if control_group == CONTROL_NEVER else (group > periods[j])))
            if len(tr) < min_units or len(ctl) < min_units:
                skipped += 1
                continue
            change = y[:, j] - y[:, b]
            phi = np.zeros(n_units)
            means = []
            for arm, sign in ((tr, 1.0), (ctl, -1.0)):
                share = omega[arm] / omega[arm].sum()
                m = float(share @ change[arm])
                phi[arm] += sign * share * (change[arm] - m) * math.sqrt(len(arm) / (len(arm) - 1))
                means.append(m)
            atts.append(means[0] - means[1])
            infl.append(phi)
            labels.append((g, int(periods[j]), int(periods[b]), len(tr), len(ctl)))
            used[tr, j] = used[tr, b] = used[ctl, j] = used[ctl, b] = True
            treated_in[g][tr] = True
            control_any[ctl] = True
    if not atts:
        return (
            f"no group-time effect had {min_units} treated and {min_units} comparison "
            f"{nouns.units} observed in its base {nouns.period} and in a {nouns.period} after the start"
        )

    analysed = used.any(axis=1)
    n_a = int(analysed.sum())
    om = np.where(analysed, omega / omega[analysed].mean(), 0.0)
    member = {g: treated_in[g] & analysed for g in starts}
    pg = {g: float(om[member[g]].sum()) / n_a for g in starts}
    cell_groups = [lab[0] for lab in labels]
    total = sum(pg[g] for g in cell_groups)
    weights = np.array([pg[g] / total for g in cell_groups])
    att = np.array(atts)
    estimate = float(weights @ att)
    # Influence of the estimated group shares on the weights (Callaway & Sant'Anna's "wif").
    dpg = {g: np.where(analysed, om * member[g] - pg[g], 0.0) / n_a for g in starts}
    dtotal = sum(dpg[g] for g in cell_groups)
    phi = sum(wk * f for wk, f in zip(weights, infl, strict=True))
    phi = phi + sum(a * (dpg[g] / total - pg[g] * dtotal / total**2) for a, g in zip(att, cell_groups, strict=True))
    se = float(math.sqrt(np.sum(phi**2)))
    # Welch-Satterthwaite degrees of freedom over the strata (each cohort, the never-treated): a cohort of
    # three offices estimates its share of the variance with two degrees of freedom, not with N - 1.
    parts = [
        (float(np.sum(phi[analysed & (group == g)] ** 2)), int(np.sum(analysed & (group == g))))
        for g in np.unique(group[analysed])
    ]
    denominator = sum(v**2 / max(n - 1, 1) for v, n in parts)
    df = min(float(n_a - 1), se**4 / denominator) if denominator > 0 else float(n_a - 1)
    group_time = tuple(
        GroupTimeEffect(fmt(int(g)), fmt(t), fmt(b), float(a), float(math.sqrt(np.sum(f**2))), nt, nc)
        for (g, t, b, nt, nc), a, f in zip(labels, atts, infl, strict=True)
    )
    n_t = int(np.sum([member[g].sum() for g in starts]))
    n_c = int(control_any.sum())
    sizes = ", ".join(f"{fmt(int(g))} ({int(member[g].sum())})" for g in starts if member[g].any())
    comparison = (
        f"{n_c} never-treated {nouns.units}"
        if control_group == CONTROL_NEVER
        else f"{n_c} not-yet-treated {nouns.units} (fewer than {min_units} never-treated)"
    )
    note = (
        f"staggered difference-in-differences (Callaway & Sant'Anna): {len(atts)} group-time effects, "
        f"each a 2x2 DiD against the {nouns.period} before the group's start; groups by first treated "
        f"{nouns.period}: {sizes}; comparison: {comparison}; simple aggregation weighted "
        f"by group size; SE from influence functions by {nouns.unit}, t with {df:.1f} df (Welch-Satterthwaite)"
    )
    if skipped:
        note += f"; {skipped} group-time effect(s) left out for fewer than {min_units} {nouns.units} on a side"
    return Fit(estimate, se, df, METHOD_STAGGERED, n_t, n_c, float(wt[used].sum()), note, group_time)


def fit_effect(
    rows: pd.DataFrame,
    units: np.ndarray,
    starts: dict[int, int],
    kind: str,
    min_units: int,
    nouns: Nouns,
    alpha: float = 0.05,
) -> Fit:
    """Choose and run the estimator. ``rows``: u (unit code), t (period), value, weight; ``starts``: code -> start;
    ``units[code]`` names a unit; ``alpha`` is needed by placebo inference (its interval is not estimate +/- t se)."""
    fmt = lambda p: period_label(p, kind)  # noqa: E731
    if rows.empty:
        return _none("no observations" if nouns is PUBLIC_NOUNS else "no KPI observations")
    distinct = sorted(set(starts.values()))
    start_text = fmt(distinct[0]) if len(distinct) == 1 else f"their start {nouns.periods}"
    last = int(rows["t"].max())
    is_treated = rows["u"].isin(list(starts)).to_numpy(bool)
    treated_rows = rows[is_treated]
    n_c_all = int(rows.loc[~is_treated, "u"].nunique())
    n_total = float(rows["weight"].sum())
    if treated_rows.empty:
        return _none(f"no observations in {nouns.treated}", 0, n_c_all, n_total)
    start_of = treated_rows["u"].map(starts).to_numpy(np.int64)
    e = treated_rows["t"].to_numpy(np.int64) - start_of
    n_t_all = int(treated_rows["u"].nunique())
    if not (e >= 0).any():
        return _none(f"no data from {start_text} on in {nouns.treated}", n_t_all, n_c_all, n_total)
    if (e >= 0).all():
        return _none(f"no data before {start_text} in {nouns.treated}", n_t_all, n_c_all, n_total)

    notes = []
    later = {c for c, s in starts.items() if s > last}
    if later:  # untreated in every period seen: comparison units
        starts = {c: s for c, s in starts.items() if c not in later}
        notes.append(
            f"{len(later)} treated {nouns.unit}(s) starting after the last {nouns.period} counted as comparison"
        )
    rows = rows.assign(treated=rows["u"].isin(list(starts)))
    rows["e"] = rows["t"] - rows["u"].map(starts).fillna(0).astype(np.int64)
    cells = _cells(rows)
    cells["treated"] = cells["u"].isin(list(starts))
    cells["e"] = cells["t"] - cells["u"].map(starts).fillna(0).astype(np.int64)
    tr_cells = cells[cells["treated"]]
    span = tr_cells.groupby("u")["e"].agg(["min", "max"])
    usable_codes = set(span.index[(span["min"] < 0) & (span["max"] >= 0)])
    left_out = n_t_all - len(later & set(treated_rows["u"])) - len(usable_codes)
    if left_out:
        notes.append(
            f"{left_out} treated {nouns.unit}(s) without data both before and after the start left out "
            f"of the comparison"
        )
    usable_starts = sorted({starts[c] for c in usable_codes})

    def finish(fit: Fit) -> Fit:
        if notes:
            fit.note = "; ".join([fit.note, *notes])
        return fit

    def fallback(reason: str) -> Fit:
        return finish(_fallback(rows[rows["treated"]], tr_cells, reason, nouns, fmt))

    if len(usable_starts) >= 2:
        group = np.full(len(units), np.inf)
        for c, s in starts.items():
            group[c] = s
        usable = np.zeros(len(units), bool)
        usable[list(usable_codes)] = True
        fit = _staggered(cells, group, usable, len(units), min_units, nouns, fmt)
        if isinstance(fit, str):
            return fallback(f"staggered rollout, but {fit}")
        return finish(fit)

    s = usable_starts[0] if usable_starts else distinct[0]
    ctl_cells = cells[~cells["treated"]]
    ctl_span = ctl_cells.groupby("u")["t"].agg(["min", "max"])
    control_codes = set(ctl_span.index[(ctl_span["min"] < s) & (ctl_span["max"] >= s)])
    n_placebos_needed = min_placebos(alpha)

    def synthetic(fit: Fit) -> Fit:
        return with_synthetic(fit, cells, usable_codes, control_codes, s, units, fmt, nouns)

    if len(usable_codes) >= min_units and len(control_codes) >= min_units:
        panel = cells[cells["u"].isin(usable_codes | control_codes)]
        d = (panel["treated"] & (panel["e"] >= 0)).to_numpy(float)
        try:
            est, se, df = twfe_did(
                panel["u"].to_numpy(),
                panel["t"].to_numpy(),
                panel["value"].to_numpy(float),
                panel["weight"].to_numpy(float),
                d,
            )
        except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - degenerate panels
            return finish(
                _none(
                    f"difference-in-differences could not be fitted: {exc}",
                    len(usable_codes),
                    len(control_codes),
                    n_total,
                )
            )
        note = (
            f"difference-in-differences, {nouns.unit} and {nouns.period} fixed effects, SE clustered by "
            f"{nouns.unit}; {len(usable_codes)} treated vs {len(control_codes)} comparison {nouns.units}, "
            f"{panel['t'].nunique()} {nouns.periods}"
        )
        return synthetic(
            finish(
                Fit(est, se, df, METHOD_DID, len(usable_codes), len(control_codes), float(panel["weight"].sum()), note)
            )
        )
    few = 0 < len(usable_codes) < min_units
    if few and len(control_codes) >= n_placebos_needed:
        few_fit = few_treated_did(cells, usable_codes, control_codes, s, alpha, min_units, nouns)
        return synthetic(fallback(few_fit) if isinstance(few_fit, str) else finish(few_fit))
    reason = (
        f"only {len(control_codes)} comparison {nouns.unit}(s) with data before and after, {min_units} "
        f"needed for difference-in-differences"
    )
    if not control_codes:
        reason = (
            f"no comparison {nouns.units} with data before and after ({min_units} needed for difference-in-differences)"
        )
    if few and len(control_codes) >= min_units:
        reason = (
            f"only {len(usable_codes)} treated {nouns.unit}(s) observed before and after ({min_units} needed for "
            f"clustered errors) and {len(control_codes)} comparison {nouns.units}, fewer than the "
            f"{n_placebos_needed} placebo inference needs for a {1 - alpha:.0%} interval"
        )
    elif len(usable_codes) < min_units:
        reason += f"; only {len(usable_codes)} treated {nouns.unit}(s) observed before and after"
    return synthetic(fallback(reason))
