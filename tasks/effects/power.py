"""Power before the pilot: the smallest effect a planned measure's evaluation could detect.

:func:`plan_power` takes a KPI's history (the long panel of
:func:`tasks.measures.kpi.kpi_observations`: office_code, quarter, value[, weight]),
the offices a measure would reach (or their number), how many quarters after the start
it would be evaluated on, and the change it aims for. It answers with
:class:`PowerPlan`: the minimum detectable effect (MDE: 80 % power, two-sided test at
``alpha``) of the difference-in-differences :mod:`tasks.effects.estimators` would run,
whether that is enough for the aim, and how many treated offices or post quarters
would be.

How: by simulation on the history, "placebo pilots" (as Bertrand, Duflo & Mullainathan
2004 did to test DiD inference). The history has no pilot in it, so the design is
applied to it as if there were: every office in turn is labelled treated at every fake
start that leaves the planned number of post quarters in the history, the other offices
compare, and the very two-way fixed-effects estimate of the evaluation is computed
(exact refits, :func:`tasks.effects.placebo.placebo_estimates`). These estimates had no
effect to find; their spread is the spread the real evaluation's estimate will have.
A pilot in k offices averages k offices' changes against the other N - k: for offices
drawn at random the variance of that difference of means is exactly
``S^2 (1/k + 1/(N - k))`` (sampling without replacement), so the single-office
variance ``S^2 N/(N - 1)`` gives every k: ``Var_k = Var_1 (1/k + 1/(N - k)) (N - 1)/N``.
(With equal cell weights this is exact; with unequal ones the evaluation leans on the
larger, less noisy offices and the formula errs on the large side. Direct simulation
of k-office pilots agrees within sampling error, see the tests.) Every office at every
fake start: no random draws, so the answer is deterministic and smooth in k.

Why not the analytic variance-components formula alone: the DiD's variance in real KPI
data comes from office-specific serial correlation (a good office stays good for a
while, then drifts), from unequal cell sizes and from occasional outliers; a formula
has to model all three and a history of 4-12 quarters can barely estimate the
correlation, while placebo pilots measure their joint effect on the estimator
directly. The price: the history must be longer than the planned post period (at most
``quarters - 1`` post quarters can be simulated; beyond that the note says so), and a
fake start has a shorter pre-period than the real pilot, which will have the whole
history before it. With noise that comes and goes that makes the MDE err on the large
side; when offices drift (a lasting shift, then another) a longer pre-period adds
variance instead, and the real evaluation can be somewhat less precise than planned.

The MDE follows the evaluation's own inference (:mod:`tasks.effects.estimators`):
with at least ``min_units_per_arm`` treated offices, clustered errors, MDE = 2.8 x SE;
with fewer (one office), placebo inference, MDE = c + 0.84 SE, c the critical value
the evaluation's placebo test would use with that many comparison offices (then at
least 1/alpha - 1 comparison offices are needed, else no DiD is possible).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.effects.panel import prepare_panel
from tasks.effects.placebo import POWER_Z, min_placebos, placebo_estimates

MDE_FACTOR = 2.8  # 80 % power at 5 % two-sided, as in tasks.effects.estimators


@dataclass(frozen=True)
class PowerPlan:
    """What a planned pilot could detect (see the module docstring).

    ``mde``: minimum detectable effect of the planned design in the KPI's units (None when no
    difference-in-differences is possible or the history is too short); ``enough``: ``mde <=
    |target_change|``; ``needed_offices``: the fewest treated offices that would detect the aim with
    the planned post quarters (None: not even the best split of the offices, half treated);
    ``needed_quarters``: the fewest post quarters that would with the planned offices (None: not
    within the quarters the history can simulate); ``se``: the simulated standard error;
    ``inference``: ``clustered`` or ``placebo``, as the evaluation would use; ``n_pilots``: the
    single-office placebo pilots behind the estimate.
    """

    mde: float | None
    needed_offices: int | None
    needed_quarters: int | None
    enough: bool
    note: str
    se: float | None = None
    n_treated: int = 0
    n_comparison: int = 0
    post_quarters: int = 0
    target_change: float = 0.0
    inference: str = ""
    n_pilots: int = 0


@dataclass(frozen=True)
class _Design:
    mde: float | None
    se: float | None
    inference: str
    n_pilots: int
    why_not: str = ""


class _History:
    """The history's cells (office codes ``u``, running quarters ``t``, ``value``, ``weight``) and the
    single-office placebo pilots on them."""

    def __init__(self, history: pd.DataFrame) -> None:
        weights = "weight" if "weight" in history.columns else None
        obs = history.astype({"office_code": str, "quarter": str})
        rows, labels, _, _ = prepare_panel(obs, "office_code", "quarter", "value", weights, [], None)
        rows = rows.assign(wv=rows["value"] * rows["weight"])
        cells = rows.groupby(["u", "t"], as_index=False)[["wv", "weight"]].sum()
        cells["value"] = cells["wv"] / cells["weight"]
        self.cells = cells
        self.offices = {str(o) for o in labels}
        self.quarters = np.sort(cells["t"].unique())
        self.n_offices = int(cells["u"].nunique())
        self._pilots: dict[int, np.ndarray] = {}

    def pilots(self, post: int) -> np.ndarray:
        """DiD estimates of every office alone at every fake start with ``post`` quarters from it (no effect)."""
        if post not in self._pilots:
            estimates = [np.array([])]
            for i in range(1, len(self.quarters) - post + 1):  # fake starts: quarter 1 .. n - post
                start, end = int(self.quarters[i]), int(self.quarters[i + post - 1])
                win = self.cells[self.cells["t"] <= end]
                span = win.groupby("u")["t"].agg(["min", "max"])
                both = span.index[(span["min"] < start) & (span["max"] >= start)].to_numpy()
                if len(both) < 2:
                    continue
                win = win[win["u"].isin(both)]
                u, t = win["u"].to_numpy(), win["t"].to_numpy()
                y, w = win["value"].to_numpy(float), win["weight"].to_numpy(float)
                estimates.append(placebo_estimates(u, t, y, w, t >= start, both[:, None]))
            pooled = np.concatenate(estimates)
            self._pilots[post] = pooled[np.isfinite(pooled)]
        return self._pilots[post]

    def design(self, k: int, post: int, alpha: float, min_units: int) -> _Design:
        """SE and MDE of k treated offices evaluated on ``post`` quarters."""
        n = self.n_offices
        n_comparison = n - k
        if k < 1 or n_comparison < 1:
            return _Design(None, None, "", 0, f"{k} treated of {n} offices leave no comparison")
        if k >= min_units and n_comparison >= min_units:
            inference = "clustered"
        elif n_comparison >= min_placebos(alpha):
            inference = "placebo"
        else:
            return _Design(
                None,
                None,
                "",
                0,
                f"{k} treated office(s) need {min_units} treated for clustered errors or "
                f"{min_placebos(alpha)} comparison offices for placebo inference ({n_comparison} available)",
            )
        single = self.pilots(post)
        if len(single) < 2:
            return _Design(None, None, inference, 0, f"the history's {len(self.quarters)} quarter(s) are too few")
        scale = (1 / k + 1 / n_comparison) * (n - 1) / n  # Var_k / Var_1 for k offices drawn at random
        se = float(math.sqrt(np.mean(single**2) * scale))
        if inference == "clustered":
            return _Design(MDE_FACTOR * se, se, inference, len(single))
        rank = math.floor(alpha * (n_comparison + 1) + 1e-9)  # the evaluation's critical value: r-th largest of C
        critical = float(np.quantile(np.abs(single), 1 - rank / (n_comparison + 1))) * math.sqrt(scale)
        return _Design(critical + POWER_Z * se, se, inference, len(single))


def plan_power(
    history: pd.DataFrame,
    treated: Iterable[str] | int,
    post_quarters: int,
    target_change: float,
    *,
    alpha: float = 0.05,
    min_units_per_arm: int = 2,
) -> PowerPlan:
    """The MDE of a planned pilot on a KPI, and the offices or quarters its aim would need.

    In: ``history`` — a long panel with columns office_code, quarter (``2026Q1``), value and
    optionally weight (respondents behind a share), every office of the country or region that
    could serve as comparison, no measure on this KPI in it; ``treated`` — the offices in the
    measure's scope or their number; ``post_quarters`` — quarters after the start it will be
    evaluated on (>= 1); ``target_change`` — the aimed change (KPI units; only its size counts);
    ``alpha`` and ``min_units_per_arm`` as in ``thresholds.effects``. Out: :class:`PowerPlan`.
    Raises ``ValueError`` for a missing column, bad quarter labels or ``post_quarters < 1``.
    """
    if post_quarters < 1:
        raise ValueError("post_quarters must be at least 1")
    for column in ("office_code", "quarter", "value"):
        if column not in history.columns:
            raise ValueError(f"history has no column {column!r} (columns: {list(history.columns)})")
    hist = _History(history)
    notes = []
    if isinstance(treated, int):
        k = treated
    else:
        scope = {str(o) for o in treated}
        k = len(scope)
        missing = scope - hist.offices
        if missing:
            notes.append(f"{len(missing)} of the {k} offices in scope have no history")
    n_quarters = len(hist.quarters)
    aim = abs(float(target_change))
    post = min(post_quarters, max(n_quarters - 1, 1))
    if post < post_quarters:
        notes.append(
            f"the history's {n_quarters} quarters can simulate at most {post} post quarter(s): MDE for {post} "
            f"(more quarters after the start usually lower it, so it errs on the large side)"
        )

    def mde(k_: int, p_: int) -> _Design:
        return hist.design(k_, p_, alpha, min_units_per_arm)

    planned = mde(k, post)
    enough = planned.mde is not None and planned.mde <= aim
    if planned.mde is None:
        notes.insert(0, f"no MDE: {planned.why_not}")
    else:
        notes.insert(
            0,
            f"MDE {planned.mde:.3g} for {k} treated vs {hist.n_offices - k} comparison offices over {post} "
            f"quarter(s) after the start ({planned.inference} inference; simulated on {planned.n_pilots} "
            f"single-office placebo pilots in {n_quarters} quarters of history) vs the aim {aim:g}: "
            + ("enough" if enough else "not enough"),
        )

    # Fewest treated offices: the MDE falls with k up to half the offices (1/k + 1/(N - k) is smallest there).
    best = max(hist.n_offices // 2, 1)
    needed_offices = next((k_ for k_ in range(1, best + 1) if (m := mde(k_, post).mde) is not None and m <= aim), None)
    if needed_offices is not None:
        notes.append(f"{needed_offices} treated office(s) would detect {aim:g} over {post} quarter(s)")
    else:
        notes.append(f"even {best} treated of {hist.n_offices} offices would not detect {aim:g}")

    needed_quarters: int | None = None
    for p in range(1, max(n_quarters, 2)):
        m = mde(k, p).mde
        if m is not None and m <= aim:
            needed_quarters = p
            break
    if needed_quarters is not None:
        notes.append(f"{needed_quarters} quarter(s) after the start would do with {k} office(s)")
    else:
        notes.append(f"with {k} office(s) not within the {max(n_quarters - 1, 1)} quarter(s) the history can simulate")
    return PowerPlan(
        mde=planned.mde,
        needed_offices=needed_offices,
        needed_quarters=needed_quarters,
        enough=enough,
        note="; ".join(notes),
        se=planned.se,
        n_treated=k,
        n_comparison=max(hist.n_offices - k, 0),
        post_quarters=post,
        target_change=float(target_change),
        inference=planned.inference,
        n_pilots=planned.n_pilots,
    )
