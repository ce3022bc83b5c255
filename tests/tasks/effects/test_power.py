"""Power before the pilot (:func:`tasks.effects.power.plan_power`) on simulated KPI histories.

Oracles: the exact variance of the difference-in-differences with independent noise,
sigma^2 (1/k + 1/C)(1/T0 + 1/P); a direct simulation of k-office placebo pilots (plain numpy
differences of means on a balanced panel); and histories whose noise is tiny, large, or drifts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxloop.quarters import Quarter
from tasks.effects.power import PowerPlan, plan_power


def history(
    seed: int,
    n_offices: int = 30,
    n_quarters: int = 8,
    noise: float = 1.0,
    drift: float = 0.0,
    weight: bool = True,
) -> pd.DataFrame:
    """office_code, quarter, value[, weight]: office and quarter effects, independent noise, and
    optionally a random-walk drift of every office (serially correlated deviations)."""
    rng = np.random.default_rng(seed)
    first = Quarter.parse("2024Q1")
    office_fx, quarter_fx = rng.normal(0, 8, n_offices), rng.normal(0, 3, n_quarters)
    walk = (
        np.cumsum(rng.normal(0, drift, (n_offices, n_quarters)), axis=1) if drift else np.zeros((n_offices, n_quarters))
    )
    rows = [
        (f"O{o:03d}", str(first.shift(q)), 60 + office_fx[o] + quarter_fx[q] + walk[o, q] + rng.normal(0, noise), 40)
        for o in range(n_offices)
        for q in range(n_quarters)
    ]
    frame = pd.DataFrame(rows, columns=["office_code", "quarter", "value", "weight"])
    return frame if weight else frame.drop(columns="weight")


def test_tiny_noise_gives_a_small_mde_and_enough():
    plan = plan_power(history(1, noise=0.1), ["O000", "O001", "O002"], 2, target_change=5)
    assert isinstance(plan, PowerPlan)
    assert plan.enough and plan.mde < 0.5 and plan.inference == "clustered"
    assert plan.needed_offices == 1 and plan.needed_quarters == 1
    assert (plan.n_treated, plan.n_comparison, plan.post_quarters) == (3, 27, 2)
    assert "enough" in plan.note and "not enough" not in plan.note


def test_noisy_history_gives_a_large_mde_and_not_enough():
    plan = plan_power(history(1, noise=20.0), 3, 2, target_change=-5)  # the aim's size counts, not its sign
    assert not plan.enough and plan.mde > 15
    assert plan.needed_offices is None and "even 15 treated of 30 offices would not detect 5" in plan.note
    assert plan.needed_quarters is None and "not enough" in plan.note


def test_mde_shrinks_with_more_offices_and_one_office_uses_placebo_inference():
    h = history(2, noise=5.0)
    plans = {k: plan_power(h, k, 2, target_change=6) for k in (1, 2, 5, 10)}
    mdes = [plans[k].mde for k in (1, 2, 5, 10)]
    assert mdes == sorted(mdes, reverse=True) and mdes[0] > 1.3 * mdes[1]
    assert plans[1].inference == "placebo" and plans[2].inference == "clustered"
    assert not plans[2].enough and plans[10].enough
    needed = plans[2].needed_offices
    assert needed is not None and 2 < needed <= 10
    assert plan_power(h, needed, 2, 6).enough and not plan_power(h, needed - 1, 2, 6).enough


def test_simulated_se_matches_the_exact_variance_with_independent_noise():
    # Fake starts at quarters 1 .. 3 of 6 with 3 post quarters: pre-periods of 1, 2 and 3 quarters.
    sigma, k, n, post = 2.0, 5, 60, 3
    exact = np.sqrt(np.mean([sigma**2 * (1 / k + 1 / (n - k)) * (1 / t0 + 1 / post) for t0 in (1, 2, 3)]))
    ratios = [plan_power(history(s, n, 6, noise=sigma), k, post, 1.0).se / exact for s in range(100, 110)]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.08)
    # The real pilot has all 6 quarters before it, so the plan errs on the large side.
    real = np.sqrt(sigma**2 * (1 / k + 1 / (n - k)) * (1 / 6 + 1 / post))
    assert np.mean(ratios) * exact > real


def test_k_office_scaling_agrees_with_direct_k_office_placebo_pilots():
    # Oracle: random sets of k offices as placebo treated at every fake start, the DiD of a balanced panel
    # as a plain difference of mean changes.
    h = history(5, n_offices=40, n_quarters=7, noise=3.0, drift=1.0, weight=False)
    wide = h.pivot(index="office_code", columns="quarter", values="value").to_numpy()
    rng = np.random.default_rng(0)
    for k in (2, 6):
        post = 2
        estimates = []
        for start in range(1, 7 - post + 1):
            change = wide[:, start : start + post].mean(axis=1) - wide[:, :start].mean(axis=1)
            for _ in range(2000):
                treated = np.zeros(40, bool)
                treated[rng.choice(40, k, replace=False)] = True
                estimates.append(change[treated].mean() - change[~treated].mean())
        direct = np.sqrt(np.mean(np.square(estimates)))
        assert plan_power(h, k, post, 1.0).se == pytest.approx(direct, rel=0.05)


def test_drifting_offices_need_more_than_their_noise_suggests():
    # The same spread of office deviations, but lasting (a random walk): the DiD is far less precise.
    iid = plan_power(history(7, noise=2.0), 5, 2, 3.0)
    drifting = plan_power(history(7, noise=0.5, drift=2.0), 5, 2, 3.0)
    assert drifting.mde > 1.3 * iid.mde


def test_rows_per_respondent_equal_cells_with_weights():
    rng = np.random.default_rng(3)
    cells = history(3, n_offices=25, n_quarters=5).assign(weight=lambda d: rng.integers(1, 6, len(d)))
    rows = cells.loc[cells.index.repeat(cells["weight"])].drop(columns="weight")
    a, b = plan_power(cells, 2, 2, 4.0), plan_power(rows, 2, 2, 4.0)
    assert a == b  # also: deterministic


def test_inputs_and_limits():
    h = history(4, n_offices=12, n_quarters=4)
    plan = plan_power(h, ["O000", "X-99"], 6, 5.0)
    assert plan.post_quarters == 3 and "at most 3 post quarter(s)" in plan.note
    assert "1 of the 2 offices in scope have no history" in plan.note
    one = plan_power(h, 1, 2, 5.0)  # 11 comparison offices: too few for placebo inference at 95 %
    assert one.mde is None and not one.enough and "19 comparison offices for placebo inference" in one.note
    assert plan_power(h, 1, 2, 5.0, alpha=0.10).mde is not None  # 9 suffice at 90 %
    with pytest.raises(ValueError, match="post_quarters"):
        plan_power(h, 2, 0, 5.0)
    with pytest.raises(ValueError, match="no column 'value'"):
        plan_power(h.rename(columns={"value": "kpi"}), 2, 1, 5.0)
    short = plan_power(h[h["quarter"] == "2024Q1"], 2, 1, 5.0)
    assert short.mde is None and "too few" in short.note
