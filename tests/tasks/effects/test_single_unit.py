"""A pilot in one unit: difference-in-differences with placebo inference, and the synthetic control.

Oracles: causaldata's ``organ_donations`` (California's active-choice question from quarter 4
of 6, 26 comparison states; The Effect, ch. 18: two-way fixed-effects estimate -0.0225),
statsmodels OLS for the point estimate and for every placebo refit, and simulations with one
treated unit where the clustered interval is known to fail.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from sqlmodel import Session

from cxloop.config import AppConfig, load_config
from cxloop.quarters import Quarter
from models.db import dispose_engines, get_engine, upgrade
from tasks.effects import estimators as fx
from tasks.effects.evaluate import evaluate_due_measures
from tasks.effects.placebo import min_placebos, placebo_estimates, placebo_inference, placebo_sets
from tasks.effects.results import METHOD_BEFORE_AFTER, METHOD_DID, METHOD_ITS
from tasks.effects.synthetic import synthetic_weights
from tasks.effects.twfe import twfe_did
from tests.tasks.effects.test_effects import CONFIG_DIR, _fill, _implemented_measure


@pytest.fixture(scope="module")
def organ() -> pd.DataFrame:
    from causaldata import organ_donations  # the dev extra: pip install -e '.[dev]'

    return organ_donations.load_pandas().data


def _california(data: pd.DataFrame, **kw):
    return fx.estimate_effect(
        data,
        unit="State",
        period="Quarter_Num",
        outcome="Rate",
        treated_units=["California"],
        start_period=4,
        **kw,
    )


def _twfe_ols(data: pd.DataFrame, treated: str) -> float:
    d = data.assign(D=((data["State"] == treated) & (data["Quarter_Num"] >= 4)).astype(float))
    return float(smf.ols("Rate ~ D + C(State) + C(Quarter_Num)", data=d).fit().params["D"])


# --------------------------------------------------------------------------- organ donations


def test_organ_donations_single_state_did_with_placebo_inference(organ):
    r = _california(organ)
    assert r.method == METHOD_DID and (r.n_treated, r.n_control, r.n_obs) == (1, 26, 162)
    assert r.estimate == pytest.approx(-0.0225, abs=0.001)  # The Effect, ch. 18
    assert r.estimate == pytest.approx(_twfe_ols(organ, "California"), rel=1e-9)

    # Brute force: every comparison state as the placebo treated state, California left out, plain OLS.
    others = organ[organ["State"] != "California"]
    placebos = np.array([_twfe_ols(others, s) for s in sorted(others["State"].unique())])
    assert len(placebos) == 26
    critical = np.max(np.abs(placebos))  # 26 placebos: the 95 % interval uses the largest (floor(0.05 * 27) = 1)
    assert (r.ci_low, r.ci_high) == (
        pytest.approx(r.estimate - critical, rel=1e-9),
        pytest.approx(r.estimate + critical, rel=1e-9),
    )
    assert r.p_value == pytest.approx((1 + np.sum(np.abs(placebos) >= abs(r.estimate))) / 27)
    assert r.se == pytest.approx(math.sqrt(np.mean(placebos**2)), rel=1e-9)
    assert r.mde == pytest.approx(critical + stats.norm.ppf(0.8) * r.se, rel=1e-9)
    assert "placebo inference" in r.note and "26 comparison units" in r.note and "clustered" in r.note

    # The clustered sandwich interval (one treated cluster) is not what is reported.
    d = organ.assign(D=((organ["State"] == "California") & (organ["Quarter_Num"] >= 4)).astype(float))
    clustered = smf.ols("Rate ~ D + C(State) + C(Quarter_Num)", data=d).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d["State"])[0]}, use_t=True
    )
    assert r.ci_high - r.ci_low > 3 * (clustered.conf_int().loc["D"].diff().iloc[-1])
    assert r.verdict is None
    assert _california(organ, target_change=-0.2).verdict == "no_effect"  # MDE below 0.2: the test could see it
    assert _california(organ, target_change=-0.05).verdict == "inconclusive"


def test_organ_donations_synthetic_control(organ):
    sc = _california(organ).synthetic
    assert sc is not None and sc.unit == "California"
    assert -0.06 < sc.estimate < -0.01  # the same sign and size as the difference-in-differences
    assert [p.period for p in sc.path] == [1, 2, 3, 4, 5, 6]
    assert [p.after for p in sc.path] == [False] * 3 + [True] * 3
    assert sc.pre_rmspe < 0.002 < sc.post_rmspe  # tracks California before, not after
    treated = organ[organ["State"] == "California"].sort_values("Quarter_Num")["Rate"].to_numpy()
    assert [p.treated for p in sc.path] == pytest.approx(treated)
    assert sc.estimate == pytest.approx(np.mean([p.treated - p.synthetic for p in sc.path if p.after]))
    assert all(w.weight > 0 for w in sc.weights) and sum(w.weight for w in sc.weights) <= 1 + 1e-9
    assert [w.weight for w in sc.weights] == sorted((w.weight for w in sc.weights), reverse=True)
    assert "California" not in {w.unit for w in sc.weights}
    assert sc.n_donors == sc.n_placebos == 26 and 1 / 27 <= sc.p_value <= 1
    assert "interpolates" in sc.note  # 26 donors for 3 pre-period values
    as_dict = _california(organ).as_dict()
    assert as_dict["synthetic"]["weights"][0]["unit"] == sc.weights[0].unit
    assert as_dict["synthetic"]["path"][3]["after"] is True


# --------------------------------------------------------------------------- placebo refits


def _unbalanced(seed: int, n_units: int = 14, periods: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (u, t, rng.normal(0, 3) + u + 0.5 * t, float(rng.integers(5, 50)))
        for u in range(n_units)
        for t in range(periods)
        if rng.random() > 0.12
    ]
    return pd.DataFrame(rows, columns=["u", "t", "y", "w"])


@pytest.mark.parametrize("k", [1, 2])
def test_placebo_estimates_equal_one_refit_per_placebo(k):
    data = _unbalanced(3)
    data = data[data.groupby("u")["t"].transform(lambda t: (t.min() < 3) & (t.max() >= 3))]
    cols = [data[c].to_numpy() for c in ("u", "t", "y", "w")]
    post = cols[1] >= 3
    sets = placebo_sets(np.unique(cols[0]), k)
    assert len(sets) == math.comb(data["u"].nunique(), k)
    fast = placebo_estimates(*cols, post, sets)
    slow = [twfe_did(*cols, (np.isin(cols[0], s) & post).astype(float))[0] for s in sets]
    assert fast == pytest.approx(slow, rel=1e-9, abs=1e-12)


def test_placebo_sets_sample_with_a_fixed_seed_when_there_are_too_many():
    units = np.arange(100)
    a, b = placebo_sets(units, 3, max_sets=50), placebo_sets(units, 3, max_sets=50)
    assert a.shape == (50, 3) and np.array_equal(a, b)
    assert all(len(set(row)) == 3 for row in a)
    assert placebo_sets(units, 1, max_sets=40).shape == (40, 1)


def test_placebo_inference_rules():
    assert min_placebos(0.05) == 19 and min_placebos(0.10) == 9
    placebos = np.arange(1, 20, dtype=float)  # 19 placebos: r = floor(0.05 * 20) = 1, the largest
    inf = placebo_inference(25.0, placebos, 0.05)
    assert (inf.critical, inf.ci_low, inf.ci_high, inf.p_value) == (19.0, 6.0, 44.0, 1 / 20)
    inf = placebo_inference(-10.0, placebos, 0.05)  # |placebo| >= 10: 10 of them
    assert inf.p_value == pytest.approx(11 / 20) and inf.ci_low < 0 < inf.ci_high
    assert placebo_inference(5.0, np.arange(1, 40, dtype=float), 0.05).critical == 38.0  # 39 placebos: 2nd largest
    with pytest.raises(ValueError, match="19 needed"):
        placebo_inference(1.0, np.arange(1, 19, dtype=float), 0.05)


def _one_treated(seed: int, effect: float = 0.0, n_units: int = 25, periods: int = 6, start: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n_units), periods)
    t = np.tile(np.arange(periods), n_units)
    y = rng.normal(0, 3, n_units)[u] + rng.normal(0, 1, periods)[t] + rng.normal(0, 1, len(u))
    return pd.DataFrame({"u": u, "t": t, "y": y + effect * ((u == 0) & (t >= start))})


def _as_kpi(data: pd.DataFrame) -> pd.DataFrame:
    """The pipeline's KPI observations: offices O00 (unit 0) ..., quarters from 2024Q1 (period 0)."""
    first = Quarter.parse("2024Q1")
    return pd.DataFrame(
        {
            "office_code": [f"O{u:02d}" for u in data["u"]],
            "quarter": [str(first.shift(int(t))) for t in data["t"]],
            "value": data["y"],
        }
    )


def test_one_treated_unit_clustered_intervals_fail_and_placebo_intervals_hold():
    # With one treated unit its cluster score is exactly zero: the sandwich leaves out the noise that matters.
    clustered = placebo = 0
    n = 120
    for seed in range(n):
        data = _one_treated(seed)
        est, se, df = twfe_did(
            data["u"].to_numpy(),
            data["t"].to_numpy(),
            data["y"].to_numpy(),
            np.ones(len(data)),
            ((data["u"] == 0) & (data["t"] >= 3)).to_numpy(float),
        )
        clustered += abs(est) > stats.t.ppf(0.975, df) * se
        r = fx.estimate_effect(data, unit="u", period="t", outcome="y", treated_units=[0], start_period=3)
        assert r.method == METHOD_DID and (r.n_treated, r.n_control) == (1, 24)
        placebo += r.ci_low > 0 or r.ci_high < 0
    assert clustered / n > 0.4  # about 70 % of true nulls rejected
    assert placebo / n <= 0.10  # about 1/25


def test_one_treated_unit_recovers_a_planted_effect():
    hits = 0
    for seed in range(20):
        r = fx.estimate_effect(
            _one_treated(seed, effect=6.0), unit="u", period="t", outcome="y", treated_units=[0], start_period=3
        )
        hits += r.ci_low < 6.0 < r.ci_high and r.ci_low > 0
        assert r.synthetic is not None and r.synthetic.estimate == pytest.approx(6.0, abs=3.0)
        assert type(r.synthetic.unit) is int and all(type(w.unit) is int for w in r.synthetic.weights)
    assert hits >= 16


def test_too_few_comparison_units_fall_back_and_say_why():
    data = _one_treated(1, effect=5.0, n_units=11)  # 10 comparison units < 19
    r = fx.estimate_effect(data, unit="u", period="t", outcome="y", treated_units=[0], start_period=3)
    assert r.method == METHOD_ITS and r.n_control == 0
    assert "fewer than the 19 placebo inference needs" in r.note
    assert r.synthetic is not None and r.synthetic.n_donors == 10  # the cross-check still uses them
    # The pipeline's alpha decides: at 10 %, 9 comparison offices suffice.
    r10 = fx.estimate_kpi_effect(_as_kpi(data), {"O00"}, "2024Q4", 5, alpha=0.10)
    assert r10.method == METHOD_DID and (r10.n_treated, r10.n_control) == (1, 10)
    assert "90% interval" in r10.note and r10.p_value == pytest.approx(1 / 11, abs=1e-6)  # 5 beats every placebo


def test_few_treated_units_below_min_units_use_sets_of_placebos():
    obs = _as_kpi(_one_treated(2, n_units=24))
    r = fx.estimate_kpi_effect(obs, {"O00", "O01"}, "2024Q4", 5, min_units_per_arm=3)
    assert r.method == METHOD_DID and (r.n_treated, r.n_control) == (2, 22)
    assert f"{math.comb(22, 2)} sets of 2 comparison offices" in r.note
    assert r.synthetic is None  # only for a single treated unit
    # With the default of two per arm the same offices get today's clustered fit.
    default = fx.estimate_kpi_effect(obs, {"O00", "O01"}, "2024Q4", 5)
    assert "SE clustered by office" in default.note and default.estimate == pytest.approx(r.estimate, abs=1e-4)


def test_its_with_one_period_after_that_is_not_the_start():
    # Observed in periods 0, 1, 3, 4 and 7, start 6: one period after (e = 1), so no slope after the start
    # (post and time_since_start would be the same column; this used to raise "Singular matrix").
    data = pd.DataFrame({"u": 0, "t": [0, 1, 3, 4, 7], "y": [1.0, 1.4, 2.1, 2.6, 9.0]})
    r = fx.estimate_effect(data, unit="u", period="t", outcome="y", treated_units=[0], start_period=6)
    ref = smf.ols("y ~ e + post", data=data.assign(e=data["t"] - 6, post=(data["t"] >= 6).astype(float))).fit()
    assert r.method == METHOD_ITS and "t with 2 df" in r.note
    assert r.estimate == pytest.approx(ref.params["post"], rel=1e-9) and r.se >= ref.bse["post"] * (1 - 1e-9)


# --------------------------------------------------------------------------- synthetic control


def test_synthetic_weights_are_a_convex_combination():
    rng = np.random.default_rng(4)
    for t0, j in [(3, 26), (8, 5), (12, 40)]:
        x0 = rng.normal(50, 10, (t0, j))
        w = synthetic_weights(rng.normal(50, 10, t0), x0)
        assert w.shape == (j,) and np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=1e-12)


def test_synthetic_control_recovers_a_known_convex_combination_and_effect():
    rng = np.random.default_rng(8)
    periods, start, n_donors = 14, 10, 8
    donors = 50 + np.cumsum(rng.normal(0, 2, (periods, n_donors)), axis=0) + rng.normal(0, 10, n_donors)
    truth = np.zeros(n_donors)
    truth[[1, 4, 6]] = [0.5, 0.3, 0.2]
    effect = np.where(np.arange(periods) >= start, 3.0, 0.0)
    treated = donors @ truth + effect
    rows = [("T", t, treated[t]) for t in range(periods)]
    rows += [(f"D{j}", t, donors[t, j]) for j in range(n_donors) for t in range(periods)]
    data = pd.DataFrame(rows, columns=["unit", "period", "y"])
    r = fx.estimate_effect(data, unit="unit", period="period", outcome="y", treated_units=["T"], start_period=start)
    sc = r.synthetic
    assert sc is not None and sc.n_donors == n_donors
    assert sc.estimate == pytest.approx(3.0, abs=0.05)
    assert sc.pre_rmspe < 0.05
    weights = {w.unit: w.weight for w in sc.weights if w.weight > 0.01}
    assert weights == {
        "D1": pytest.approx(0.5, abs=1e-3),
        "D4": pytest.approx(0.3, abs=1e-3),
        "D6": pytest.approx(0.2, abs=1e-3),
    }
    assert "interpolates" not in sc.note  # 10 pre periods, 8 donors
    assert r.method == METHOD_ITS  # 8 comparison units are too few for placebo inference; the cross-check is there


def test_synthetic_control_needs_three_periods_before(organ):
    r = fx.estimate_effect(
        organ,
        unit="State",
        period="Quarter_Num",
        outcome="Rate",
        treated_units=["California"],
        start_period=3,
    )
    assert r.method == METHOD_DID and r.synthetic is None and "no synthetic control" in r.note


# --------------------------------------------------------------------------- the pipeline


@pytest.fixture()
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'single.db'}"
    upgrade(url)
    yield url
    dispose_engines()


def test_pipeline_measure_in_one_office_gets_placebo_inference(db_url):
    config: AppConfig = load_config(CONFIG_DIR)
    cfg = config.model_copy(deep=True)
    cfg.thresholds.effects.alpha = 0.10  # the demo country has 14 comparison offices: enough at 90 %, not at 95 %
    quarters = ["2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    _fill(db_url, config, 1.0, quarters, {"52-01"}, start="2026Q1", per_cell=25)
    with Session(get_engine(db_url), expire_on_commit=False) as s:
        _implemented_measure(s, "M-1", ["52-01"], date(2025, 12, 10))
        (e,) = evaluate_due_measures(s, "2026Q2", cfg)
        assert e.method == METHOD_DID and (e.n_treated_units, e.n_control_units) == (1, 14)
        assert "placebo inference" in e.note and e.ci_low < 25 < e.ci_high
        assert e.p_value == pytest.approx(1 / 15, abs=1e-6)  # the planted +25 beats every placebo office (rounded)
        assert e.verdict == "effective"
        (e95,) = evaluate_due_measures(s, "2026Q2", config)  # at 95 % 14 comparison offices are too few
        assert e95.method in (METHOD_ITS, METHOD_BEFORE_AFTER) and "19 placebo inference needs" in e95.note


def test_pipeline_stores_the_synthetic_control_beside_did(db_url):
    config: AppConfig = load_config(CONFIG_DIR)
    cfg = config.model_copy(deep=True)
    cfg.thresholds.effects.alpha = 0.10
    quarters = ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]  # 3 quarters before the start
    _fill(db_url, config, 1.0, quarters, {"52-01"}, start="2026Q1", per_cell=25)
    with Session(get_engine(db_url), expire_on_commit=False) as s:
        _implemented_measure(s, "M-1", ["52-01"], date(2025, 12, 10))
        (e,) = evaluate_due_measures(s, "2026Q2", cfg)
        assert e.method == METHOD_DID
        assert e.synthetic_estimate is not None and abs(e.synthetic_estimate - 25) < 10
        assert e.synthetic_pre_rmspe is not None and e.synthetic_pre_rmspe >= 0
        donors = [pair.split() for pair in e.synthetic_donors.split(", ")]
        assert donors and all(code != "52-01" and 0 < float(w) <= 1 for code, w in donors)
        assert e.synthetic_note
        (again,) = evaluate_due_measures(s, "2026Q2", cfg)
        assert (again.id, again.synthetic_estimate) == (e.id, e.synthetic_estimate)  # a rerun updates in place
        # The report shows the cross-check under the DiD method, in the reader's language and decimal mark.
        from tasks.reports.context_measures import effects_block
        from tasks.reports.strings import report_texts

        words_of = {"ru": "синтетический контроль: +", "en": "synthetic control: +", "fi": "synteettinen"}
        for lang, words in words_of.items():
            (row,) = effects_block(s, "2026Q2", "52", config, report_texts(lang), lang)["rows"]
            estimate = f"{e.synthetic_estimate:+.2f}"
            assert words in row["synthetic_text"], row
            assert (estimate.replace(".", ",") if lang != "en" else estimate) in row["synthetic_text"]
