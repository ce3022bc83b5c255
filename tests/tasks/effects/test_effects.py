"""Effect of measures: KPI observations from the database, the estimators on
synthetic panels with a known planted effect, and the quarterly evaluation step.

The public ``estimate_effect`` is checked against independent implementations
(statsmodels OLS/WLS with cluster and HAC covariances, scipy's Welch test) and
against simulations with a known effect: a staggered rollout with dynamic
effects where the naive two-way fixed-effects estimate is far off, nulls, and
interrupted time series with a level shift or only a trend."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import insert
from sqlmodel import Session, select

from cxloop.config import AppConfig, load_config
from cxloop.quarters import Quarter
from models.db import dispose_engines, get_engine, upgrade
from models.tables import EffectEvaluation, Feedback, Measure, MeasureHistory, SurveyAnswer
from tasks.effects import estimators as fx
from tasks.effects.evaluate import evaluate_due_measures, target_change_for
from tasks.effects.results import (
    METHOD_BEFORE_AFTER,
    METHOD_DID,
    METHOD_ITS,
    METHOD_NONE,
    METHOD_STAGGERED,
    verdict_for,
)
from tasks.measures import register as reg
from tasks.measures.kpi import kpi_observations
from tasks.measures.proposals import create_proposals

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
QUARTERS = ["2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3", "2026Q4"]


def panel(
    seed: int,
    effect: float = 0.0,
    shock: float = 0.0,
    n_treated: int = 5,
    n_control: int = 5,
    per_cell: int = 40,
    start: str = "2026Q1",
    cell_sd: float = 2.0,
    noise_sd: float = 20.0,
    drift_sd: float = 0.0,
) -> pd.DataFrame:
    """Respondent-level KPI panel: office and quarter effects, office x quarter shocks, noise.

    ``effect`` is planted in treated offices from ``start`` on; ``shock`` hits every office from ``start`` on
    (a national campaign the measure has nothing to do with); ``drift_sd`` gives every office its own
    lasting shift from ``start`` on, unrelated to the measure (serial correlation within an office).
    """
    rng = np.random.default_rng(seed)
    offices = [f"T{i:02d}" for i in range(n_treated)] + [f"C{i:02d}" for i in range(n_control)]
    office_fx = dict(zip(offices, rng.normal(0, 6, len(offices)), strict=True))
    quarter_fx = dict(zip(QUARTERS, rng.normal(0, 3, len(QUARTERS)), strict=True))
    drift = dict(
        zip(offices, rng.normal(0, drift_sd, len(offices)) if drift_sd else np.zeros(len(offices)), strict=True)
    )
    s = Quarter.parse(start)
    frames = []
    for o in offices:
        for q in QUARTERS:
            post = Quarter.parse(q) >= s
            mu = 60 + office_fx[o] + quarter_fx[q] + rng.normal(0, cell_sd) + post * (shock + drift[o])
            mu += effect * (post and o.startswith("T"))
            frames.append(
                pd.DataFrame({"office_code": o, "quarter": q, "value": mu + rng.normal(0, noise_sd, per_cell)})
            )
    return pd.concat(frames, ignore_index=True)


TREATED = {f"T{i:02d}" for i in range(5)}


# --------------------------------------------------------------------------- estimators


def test_planted_effect_is_recovered_within_the_interval():
    results = [
        fx.estimate_kpi_effect(panel(seed, effect=8.0), TREATED, "2026Q1", target_change=10) for seed in range(30, 40)
    ]
    assert all(r.method == METHOD_DID for r in results)
    assert sum(r.ci_low < 8.0 < r.ci_high for r in results) >= 8  # a 95 % interval covers the truth
    assert np.mean([r.estimate for r in results]) == pytest.approx(8.0, abs=2.0)
    assert sum(r.verdict == "effective" for r in results) >= 8
    r = results[0]
    assert (r.n_treated_units, r.n_control_units, r.n_obs) == (5, 5, 10 * 6 * 40)
    t = stats.t.ppf(0.975, 10 - 1)  # t interval with (offices - 1) degrees of freedom
    assert r.mde == pytest.approx(2.8 * (r.ci_high - r.ci_low) / 2 / t, rel=0.01)
    assert "MDE" in r.note


def test_harm_is_called_worsened():
    r = fx.estimate_kpi_effect(panel(2, effect=-9.0), TREATED, "2026Q1", target_change=10)
    assert r.verdict == "worsened" and r.ci_high < 0


# A 5 %-level test calls about one true null in twenty significant (seeds 13 and 14 of this generator
# are such draws), so these are fixed seeds; the rate itself is checked by
# test_clustered_intervals_keep_their_level.
@pytest.mark.parametrize("seed", [15, 16, 17, 18, 19])
def test_null_effect_is_never_called_effective(seed):
    r = fx.estimate_kpi_effect(panel(seed, effect=0.0), TREATED, "2026Q1", target_change=10)
    assert r.verdict in ("no_effect", "inconclusive")


def test_well_powered_null_is_no_effect_and_small_null_is_inconclusive():
    big = fx.estimate_kpi_effect(panel(21, per_cell=200, cell_sd=0.5), TREATED, "2026Q1", target_change=10)
    assert big.verdict == "no_effect" and big.mde <= 10
    small = fx.estimate_kpi_effect(panel(21, per_cell=5, cell_sd=6), TREATED, "2026Q1", target_change=2)
    assert small.verdict == "inconclusive" and small.mde > 2


def test_clustered_intervals_keep_their_level():
    # Lasting office-specific shifts make an office's quarters correlated; intervals that ignored that
    # (respondents or cells as independent) would reject far more often than alpha. Across 120 null
    # panels the rate must stay near 5 %.
    rejections = 0
    for seed in range(1000, 1120):
        data = panel(seed, per_cell=30, cell_sd=2.0, drift_sd=6.0)
        r = fx.estimate_kpi_effect(data, TREATED, "2026Q1", target_change=5)
        rejections += r.ci_low > 0 or r.ci_high < 0
    assert rejections / 120 <= 0.10  # independent-cell intervals reject about 17 % here


def test_common_time_shock_biases_before_after_but_not_did():
    data = panel(5, effect=0.0, shock=10.0)
    did = fx.estimate_kpi_effect(data, TREATED, "2026Q1", target_change=10)
    assert did.method == METHOD_DID
    assert did.ci_low < 0 < did.ci_high and abs(did.estimate) < 4
    assert did.verdict != "effective"
    naive = fx.estimate_kpi_effect(data[data["office_code"].isin(TREATED)], TREATED, "2026Q1", target_change=10)
    assert naive.method == METHOD_BEFORE_AFTER
    assert naive.estimate > 6 and naive.verdict == "effective"  # the shock is taken for the measure's effect


def test_before_after_fallback_labels_itself():
    data = panel(6, effect=8.0, n_control=1)  # one comparison office is fewer than min_units_per_arm
    r = fx.estimate_kpi_effect(data, TREATED, "2026Q1", target_change=10, min_units_per_arm=2)
    assert r.method == "before_after"
    assert "before/after" in r.note and "comparison office" in r.note
    assert r.n_control_units == 0 and r.n_treated_units == 5
    assert r.ci_low < r.estimate < r.ci_high
    assert r.n_obs == 5 * 6 * 40


def test_missing_pre_or_post_is_inconclusive():
    data = panel(7, effect=8.0)
    only_post = data[data["quarter"] >= "2026Q1"]
    r = fx.estimate_kpi_effect(only_post, TREATED, "2026Q1", target_change=10)
    assert r.verdict == "inconclusive" and r.estimate is None and "before" in r.note
    only_pre = data[data["quarter"] < "2026Q1"]
    r = fx.estimate_kpi_effect(only_pre, TREATED, "2026Q1", target_change=10)
    assert r.verdict == "inconclusive" and "from 2026Q1" in r.note
    r = fx.estimate_kpi_effect(data, {"nowhere"}, "2026Q1", target_change=10)
    assert r.verdict == "inconclusive" and r.n_treated_units == 0
    assert fx.estimate_kpi_effect(data.iloc[0:0], TREATED, "2026Q1", 10).verdict == "inconclusive"


def test_did_equals_the_respondent_level_clustered_fit():
    import statsmodels.formula.api as smf

    data = panel(9, effect=5.0)
    r = fx.estimate_kpi_effect(data, TREATED, "2026Q1", target_change=5)
    data["treated_post"] = (data["office_code"].isin(TREATED) & (data["quarter"] >= "2026Q1")).astype(float)
    ref = smf.ols("value ~ treated_post + C(office_code) + C(quarter)", data=data).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(data["office_code"])[0]}, use_t=True
    )
    low, high = ref.conf_int().loc["treated_post"]
    assert r.estimate == pytest.approx(ref.params["treated_post"], abs=1e-3)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low, abs=1e-3), pytest.approx(high, abs=1e-3))
    assert r.p_value == pytest.approx(ref.pvalues["treated_post"], abs=1e-5)


def test_weighted_cells_match_respondent_level_fit():
    # Collapsing to office-quarter shares weighted by their size gives the same DiD estimate.
    data = panel(8, effect=-4.0)
    micro = fx.estimate_kpi_effect(data, TREATED, "2026Q1", target_change=-5)
    cells = data.groupby(["office_code", "quarter"], as_index=False)["value"].agg(["mean", "size"])
    cells = cells.rename(columns={"mean": "value", "size": "weight"})
    agg = fx.estimate_kpi_effect(cells, TREATED, "2026Q1", target_change=-5)
    assert agg.estimate == pytest.approx(micro.estimate, abs=1e-3)
    assert agg.n_obs == micro.n_obs


@pytest.mark.parametrize(
    "low, high, mde, target, verdict",
    [
        (1, 5, 2, 3, "effective"),
        (-5, -1, 2, -3, "effective"),
        (1, 5, 2, -3, "worsened"),
        (-1, 1, 2, 3, "no_effect"),
        (-1, 1, 4, 3, "inconclusive"),
        (None, None, None, 3, "inconclusive"),
    ],
)
def test_verdict_rules(low, high, mde, target, verdict):
    assert verdict_for(low, high, mde, target) == verdict


# --------------------------------------------------------------------------- database


@pytest.fixture()
def db(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'effects.db'}"
    upgrade(url)
    yield url
    dispose_engines()


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return load_config(CONFIG_DIR)


def _fill(
    url: str,
    config: AppConfig,
    effect: float,
    quarters: list[str],
    treated: set[str],
    start: str,
    per_cell: int = 25,
    seed: int = 3,
) -> None:
    """Star-survey respondents (P3 carries the planted effect) plus texts for neg_share."""
    rng = np.random.default_rng(seed)
    feedback, answers = [], []
    fid = 0
    for office in config.offices:
        base = rng.normal(0, 0.3)
        for q in quarters:
            qq = Quarter.parse(q)
            lift = effect if office.office_code in treated and qq >= Quarter.parse(start) else 0.0
            for _ in range(per_cell):
                fid += 1
                p3 = int(np.clip(round(3 + base + lift + rng.normal(0, 0.8)), 1, 5))
                feedback.append(
                    dict(
                        id=fid,
                        dedup_key=f"s{fid}",
                        channel="star_survey",
                        source_file="s.csv",
                        source_row=fid,
                        received_at=qq.start,
                        quarter=q,
                        office_code=office.office_code,
                        region_code=office.region_code,
                        client_type="citizen",
                    )
                )
                answers.append(dict(feedback_id=fid, P1=4, P2=None, P3=p3, P4=int(rng.integers(1, 6)), F1=5))
            for i in range(4):  # texts: one in four complains about waiting
                fid += 1
                feedback.append(
                    dict(
                        id=fid,
                        dedup_key=f"t{fid}",
                        channel="review_book",
                        source_file="r.xlsx",
                        source_row=fid,
                        received_at=qq.start,
                        quarter=q,
                        office_code=office.office_code,
                        region_code=office.region_code,
                        client_type="citizen",
                        text="текст",
                        negative_themes="waiting_time,staff_attitude" if i == 0 else "waiting_time_x",
                    )
                )
    with Session(get_engine(url)) as s:
        s.execute(insert(Feedback), feedback)
        s.execute(insert(SurveyAnswer), answers)
        s.commit()


def test_kpi_observations_item_ray_and_neg_share(db, config):
    _fill(db, config, 0.0, ["2026Q1"], set(), "2026Q1", per_cell=3)
    with Session(get_engine(db)) as s:
        item = kpi_observations(s, "item:P1", ["2026Q1"])
        assert len(item) == 15 * 3 and set(item["value"]) == {75.0}
        ray = kpi_observations(s, "ray:personalisation", ["2026Q1"], offices=["52-01"])
        raw = s.exec(select(SurveyAnswer).join(Feedback).where(Feedback.office_code == "52-01")).all()
        expected = sorted(np.mean([(a.P1 - 1) * 25, (a.P3 - 1) * 25, (a.P4 - 1) * 25]) for a in raw)
        assert sorted(ray["value"]) == pytest.approx(expected)
        assert kpi_observations(s, "item:P2", ["2026Q1"]).empty  # nobody answered P2
        assert kpi_observations(s, "item:P1", ["2026Q1"], client_type="employer").empty
        neg = kpi_observations(s, "neg_share:waiting_time", ["2026Q1"])
        assert len(neg) == 15 and set(neg["value"]) == {25.0} and set(neg["weight"]) == {4.0}
        assert set(kpi_observations(s, "neg_share:staff_attitude", ["2026Q1"])["value"]) == {25.0}
        with pytest.raises(ValueError):
            kpi_observations(s, "item:Z9", ["2026Q1"])


def _implemented_measure(s: Session, code: str, offices: list[str], implemented_on: date) -> Measure:
    m = Measure(
        code=code,
        title="SMS",
        theme="reminders_notifications",
        type="new_experience",
        region_code="52",
        offices=",".join(offices),
        owner="РГ",
        status="proposed",
        proposed_quarter="2025Q3",
        kpi_metric="item:P3",
        kpi_baseline=50.0,
        kpi_target=60.0,
        # co-design evidence, which the register requires before work starts
        codesign_date=date(2025, 10, 20),
        codesign_form="workshop",
        codesign_clients=8,
    )
    reg.create_measure(s, m, "t", datetime(2025, 10, 5), "")
    for step in ("approved", "in_progress"):
        reg.change_status(s, m, step, "t", datetime(2025, 11, 1))
    m.implemented_on = implemented_on
    reg.change_status(s, m, "implemented", "t", datetime.combine(implemented_on, time(12)))
    return m


def test_evaluate_due_measures_end_to_end(db, config):
    quarters = ["2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    treated = {"52-01", "52-02", "52-03"}
    _fill(db, config, 1.0, quarters, treated, start="2026Q1")  # +1 answer point = +25 on the 0-100 scale
    with Session(get_engine(db), expire_on_commit=False) as s:
        early = _implemented_measure(s, "M-A", sorted(treated), date(2025, 12, 10))
        late = _implemented_measure(s, "M-B", ["52-04"], date(2026, 5, 1))  # no full quarter after it yet
        s.commit()
        evals = evaluate_due_measures(s, "2026Q2", config)
        s.commit()
        assert [e.measure_id for e in evals] == [early.id]
        e = evals[0]
        assert e.method == METHOD_DID and e.verdict == "effective"
        assert e.ci_low < 25 < e.ci_high and e.ci_low > 0  # +1 answer point = +25 (rounding, little clipping)
        # The comparison leaves out 52-04, reached by another measure on the same KPI.
        assert (e.n_treated_units, e.n_control_units) == (3, 11)
        s.refresh(early)
        assert early.status == "evaluated" and early.effect_verdict == "effective"
        last = reg.history_of(s, early)[-1]
        assert (last.from_value, last.to_value, last.who) == ("implemented", "evaluated", "cxloop")
        assert last.at == reg.as_utc(datetime(2026, 7, 5, 6))
        assert late.status == "implemented"
        n_hist = len(s.exec(select(MeasureHistory)).all())
        version = early.version

        again = evaluate_due_measures(s, "2026Q2", config)  # rerun replaces, adds no history
        s.commit()
        assert len(again) == 1 and again[0].estimate == e.estimate
        assert len(s.exec(select(EffectEvaluation)).all()) == 1
        assert len(s.exec(select(MeasureHistory)).all()) == n_hist and early.version == version

        frame = reg.register_frame(s, date(2026, 7, 5)).set_index("code")
        assert frame.loc["M-A", "effect_verdict"] == "effective"
        assert frame.loc["M-A", "effect_estimate"] == pytest.approx(e.estimate)
        assert frame.loc["M-A", "effect_quarter"] == "2026Q2"


def test_evaluate_without_comparison_uses_before_after(db, config):
    cfg = config.model_copy(deep=True)
    cfg.thresholds.effects.min_units_per_arm = 20  # more comparison offices than exist
    _fill(db, config, 0.0, ["2025Q4", "2026Q1", "2026Q2"], set(), "2026Q1", per_cell=10)
    with Session(get_engine(db), expire_on_commit=False) as s:
        _implemented_measure(s, "M-C", ["52-01", "52-02"], date(2026, 1, 15))
        evals = evaluate_due_measures(s, "2026Q2", cfg)
        assert len(evals) == 1 and evals[0].method == "before_after"
        assert evals[0].n_control_units == 0 and "before/after" in evals[0].note
        assert evals[0].verdict in ("no_effect", "inconclusive")


def test_proposed_measure_gets_baseline_and_target_from_data(db, config):
    _fill(db, config, 0.0, ["2026Q1"], set(), "2026Q1", per_cell=10)
    pp = pd.DataFrame(
        [("2026Q1", "52", "reminders_notifications", "periodic_meetings", 50.0, 1, 20)],
        columns=["quarter", "region_code", "theme", "journey_stage", "priority", "rank", "negative_mentions"],
    )
    with Session(get_engine(db), expire_on_commit=False) as s:
        (m,) = create_proposals(s, "2026Q1", pp, config, datetime(2026, 4, 5, 6))
        obs = kpi_observations(s, "item:P3", ["2026Q1"], offices=[f"52-0{i}" for i in range(1, 6)])
        assert m.kpi_metric == "item:P3"
        assert m.kpi_baseline == pytest.approx(obs["value"].mean(), abs=0.01)
        assert m.kpi_target == pytest.approx(m.kpi_baseline + 10, abs=0.01)
        assert target_change_for(m, config) == pytest.approx(10, abs=0.02)


# --------------------------------------------------------------------------- public API: estimate_effect


def _cells_and_rows(
    seed: int, effect: float = 4.0, n_units: int = 12, n_treated: int = 5, periods: int = 6, start: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame, set[int]]:
    """Respondent rows and their unit x period cells (mean, size n) with integer periods; some cells missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_units):
        a = rng.normal(0, 5)
        for t in range(periods):
            if rng.random() < 0.1:
                continue  # an unbalanced panel
            mu = 50 + a + 1.5 * t + rng.normal(0, 2) + effect * (u < n_treated and t >= start)
            rows += [(u, t, v) for v in mu + rng.normal(0, 15, int(rng.integers(5, 30)))]
    micro = pd.DataFrame(rows, columns=["unit", "period", "y"])
    cells = micro.groupby(["unit", "period"], as_index=False)["y"].agg(y="mean", n="size")
    return micro, cells, set(range(n_treated))


def test_public_api_is_keyword_only_and_reports_the_sample():
    import inspect

    params = inspect.signature(fx.estimate_effect).parameters
    assert list(params)[:7] == ["panel", "unit", "period", "outcome", "treated_units", "start_period", "weights"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "panel")
    _, cells, treated = _cells_and_rows(1)
    with pytest.raises(TypeError):
        fx.estimate_effect(cells, "unit", "period", "y", treated, 3)  # type: ignore[misc]
    r = fx.estimate_effect(cells, unit="unit", period="period", outcome="y", treated_units=treated, start_period=3)
    assert r.method == METHOD_DID and r.verdict is None  # no target, no verdict
    assert (r.n_treated, r.n_control, r.n_obs) == (5, 7, len(cells))
    assert (r.n_treated_units, r.n_control_units) == (r.n_treated, r.n_control)  # the register's names
    assert r.ci_low < r.estimate < r.ci_high and 0 < r.p_value < 1 and r.mde == pytest.approx(2.8 * r.se)
    fields = r.as_dict()
    assert {
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
        "method",
        "n_treated",
        "n_control",
        "n_obs",
        "mde",
        "note",
        "verdict",
    } <= set(fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.estimate = 0.0  # type: ignore[misc]


def test_public_did_with_cell_weights_matches_statsmodels_on_the_rows():
    # Oracle: statsmodels OLS on the individual rows, cov_type="cluster" with its default small-sample
    # correction CR1 = G/(G-1) * (N-1)/(N-K), N = rows, K = all dummy-variable parameters, and t with G - 1 df.
    # The estimator gets only the cells and their sizes as weights.
    import statsmodels.formula.api as smf

    micro, cells, treated = _cells_and_rows(4)
    r = fx.estimate_effect(
        cells,
        unit="unit",
        period="period",
        outcome="y",
        treated_units=treated,
        start_period=3,
        weights="n",
        target_change=5,
    )
    micro["treated_post"] = (micro["unit"].isin(treated) & (micro["period"] >= 3)).astype(float)
    ref = smf.ols("y ~ treated_post + C(unit) + C(period)", data=micro).fit(
        cov_type="cluster", cov_kwds={"groups": micro["unit"].to_numpy()}, use_t=True
    )
    assert r.estimate == pytest.approx(ref.params["treated_post"], rel=1e-9)
    assert r.se == pytest.approx(ref.bse["treated_post"], rel=1e-9)
    low, high = ref.conf_int().loc["treated_post"]
    assert (r.ci_low, r.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert r.p_value == pytest.approx(ref.pvalues["treated_post"], rel=1e-6)
    assert r.n_obs == len(micro)
    # Unweighted cells are a different (office-level) estimand, and the rows themselves give the weighted one.
    rows = fx.estimate_effect(micro, unit="unit", period="period", outcome="y", treated_units=treated, start_period=3)
    assert rows.estimate == pytest.approx(r.estimate, rel=1e-9) and rows.se == pytest.approx(r.se, rel=1e-9)


def test_quarter_labels_integers_and_pandas_periods_give_the_same_result():
    _, cells, treated = _cells_and_rows(5)
    base = Quarter.parse("2025Q3")
    as_quarters = cells.assign(period=[str(base.shift(int(t))) for t in cells["period"]])
    as_periods = cells.assign(period=[pd.Period(str(base.shift(int(t))), freq="Q") for t in cells["period"]])
    kw = dict(unit="unit", outcome="y", treated_units=treated, weights="n", target_change=3)
    ints = fx.estimate_effect(cells, period="period", start_period=3, **kw)
    quarters = fx.estimate_effect(as_quarters, period="period", start_period=str(base.shift(3)), **kw)
    periods = fx.estimate_effect(
        as_periods, period="period", start_period=pd.Period(str(base.shift(3)), freq="Q"), **kw
    )
    for r in (quarters, periods):
        assert (r.method, r.n_obs, r.verdict) == (ints.method, ints.n_obs, ints.verdict)
        assert (r.estimate, r.ci_low, r.ci_high) == (
            pytest.approx(ints.estimate),
            pytest.approx(ints.ci_low),
            pytest.approx(ints.ci_high),
        )


def test_bad_periods_and_inconsistent_starts_are_refused():
    _, cells, treated = _cells_and_rows(6)
    kw = dict(unit="unit", period="period", outcome="y", treated_units=treated)
    mixed = cells.assign(
        period=[str(Quarter.parse("2025Q1").shift(int(t))) if i % 2 else int(t) for i, t in enumerate(cells["period"])]
    ).astype({"period": object})
    with pytest.raises(ValueError, match="mixes quarter labels and integers"):
        fx.estimate_effect(mixed, **{**kw, "start_period": 3})
    with pytest.raises(ValueError, match="panel's periods are integers"):
        fx.estimate_effect(cells, **{**kw, "start_period": "2026Q1"})
    with pytest.raises(ValueError, match="neither a quarter label"):
        fx.estimate_effect(cells.assign(period="soon"), **{**kw, "start_period": 3})
    with pytest.raises(ValueError, match="missing values"):
        fx.estimate_effect(
            cells.assign(period=np.where(cells["period"] == 2, np.nan, cells["period"])), **{**kw, "start_period": 3}
        )
    with pytest.raises(ValueError, match="exactly the treated units"):
        fx.estimate_effect(cells, **{**kw, "start_period": {0: 3, 1: 4}})  # units 2-4 have no start
    with pytest.raises(ValueError, match="not in the panel"):
        fx.estimate_effect(cells, **{**kw, "outcome": "kpi", "start_period": 3})


def test_start_period_outside_or_between_the_panels_periods():
    _, cells, treated = _cells_and_rows(7, periods=6)
    kw = dict(unit="unit", period="period", outcome="y", treated_units=treated, weights="n", target_change=4)
    after = fx.estimate_effect(cells, start_period=9, **kw)
    assert after.method == METHOD_NONE and after.verdict == "inconclusive" and "no data from 9 on" in after.note
    before = fx.estimate_effect(cells, start_period=-2, **kw)
    assert before.verdict == "inconclusive" and "no data before -2" in before.note and before.estimate is None
    # A start in a period nobody was observed in (the pipeline drops the implementation quarter): "after"
    # begins there, so the result equals starting at the next period present.
    gap = cells[cells["period"] != 3]
    assert fx.estimate_effect(gap, start_period=3, **kw) == fx.estimate_effect(gap, start_period=4, **kw)


def test_treated_unit_starting_after_the_panel_serves_as_comparison():
    _, cells, _ = _cells_and_rows(8)
    starts = {0: 3, 1: 3, 2: 3, 3: 3, 4: 40}  # unit 4 starts long after the last period seen
    r = fx.estimate_effect(
        cells, unit="unit", period="period", outcome="y", treated_units=starts, start_period=starts, weights="n"
    )
    same = fx.estimate_effect(
        cells, unit="unit", period="period", outcome="y", treated_units={0, 1, 2, 3}, start_period=3, weights="n"
    )
    assert r.method == METHOD_DID and (r.n_treated, r.n_control) == (4, 8)
    assert r.estimate == pytest.approx(same.estimate) and "counted as comparison" in r.note


# --------------------------------------------------------------------------- staggered rollout


def staggered(
    seed: int,
    cohorts: dict[int, int],
    n_never: int,
    periods: int = 10,
    slope: float = 1.5,
    noise_sd: float = 2.0,
    quarters: bool = False,
) -> tuple[pd.DataFrame, dict[str, object], float]:
    """Units adopting in different periods with an effect growing with time since the start:
    ``slope * (t - g + 1)`` for t >= g. Out: panel (unit, period, y, n), starts, and the true "simple"
    average ATT (the post-period effects of every cohort, weighted by cohort size)."""
    rng = np.random.default_rng(seed)
    first = Quarter.parse("2024Q1")
    label = (lambda t: str(first.shift(t - 1))) if quarters else (lambda t: t)
    rows, starts = [], {}
    specs = list(cohorts.items()) + [(None, n_never)]
    k = 0
    for g, n in specs:
        for _ in range(n):
            k += 1
            unit, level, size = f"u{k:03d}", rng.normal(0, 5), int(rng.integers(20, 60))
            if g is not None:
                starts[unit] = label(g)
            for t in range(1, periods + 1):
                effect = slope * (t - g + 1) if g is not None and t >= g else 0.0
                rows.append((unit, label(t), 50 + level + 0.8 * t + effect + rng.normal(0, noise_sd), size))
    truth_cells = [(g, n, slope * (t - g + 1)) for g, n in cohorts.items() for t in range(g, periods + 1)]
    truth = sum(n * eff for _, n, eff in truth_cells) / sum(n for _, n, _ in truth_cells)
    return pd.DataFrame(rows, columns=["unit", "period", "y", "n"]), starts, truth


def _staggered_fit(data: pd.DataFrame, starts: dict, weights: str | None = None, target: float | None = None):
    return fx.estimate_effect(
        data,
        unit="unit",
        period="period",
        outcome="y",
        treated_units=set(starts),
        start_period=starts,
        weights=weights,
        target_change=target,
    )


def test_naive_twfe_is_biased_under_dynamic_effects_and_callaway_santanna_is_not():
    import statsmodels.formula.api as smf

    data, starts, truth = staggered(11, cohorts={3: 40, 6: 40, 9: 40}, n_never=10)
    data["D"] = [float(u in starts and t >= starts[u]) for u, t in zip(data["unit"], data["period"], strict=True)]
    twfe = smf.ols("y ~ D + C(unit) + C(period)", data=data).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(data["unit"])[0]}, use_t=True
    )
    low, high = twfe.conf_int().loc["D"]
    # Already-treated cohorts act as controls and their growing effect is subtracted: far below the truth,
    # and its own interval does not even cover it.
    assert truth - twfe.params["D"] > 0.4 * truth and high < truth
    r = _staggered_fit(data, starts, target=3)
    assert r.method == METHOD_STAGGERED and "Callaway" in r.note and "never-treated" in r.note
    assert r.ci_low < truth < r.ci_high and abs(r.estimate - truth) < 0.1 * truth
    assert r.verdict == "effective" and (r.n_treated, r.n_control) == (120, 10)
    assert len(r.group_time) == 8 + 5 + 2  # post periods of cohorts 3, 6 and 9 in periods 1..10


def test_group_time_effects_match_statsmodels_2x2_and_welch():
    # Oracle for each ATT(g, t): statsmodels WLS y ~ treated * post on the cohort and the never-treated units in
    # the base period g - 1 and period t, weighted by the unit's mean cell size; its SE is the
    # unequal-variance two-sample SE of the changes (scipy's Welch t-test, unweighted case).
    import statsmodels.formula.api as smf

    data, starts, _ = staggered(12, cohorts={4: 9, 7: 7}, n_never=11, periods=8)
    data = data[~((data["unit"] == "u003") & (data["period"] == 5))]  # one missing cell
    unit_w = data.groupby("unit")["n"].mean()
    for weights in (None, "n"):
        r = _staggered_fit(data, starts, weights=weights)
        never = set(data["unit"]) - set(starts)
        assert len(r.group_time) == 5 + 2
        for gt in r.group_time:
            cohort = {u for u, g in starts.items() if g == gt.group}
            sub = data[data["unit"].isin(cohort | never) & data["period"].isin([gt.base_period, gt.period])]
            both = sub.groupby("unit")["period"].transform("nunique") == 2
            sub = sub[both]
            sub = sub.assign(
                treated=sub["unit"].isin(cohort).astype(float),
                post=(sub["period"] == gt.period).astype(float),
            )
            w = sub["unit"].map(unit_w) if weights else np.ones(len(sub))
            ref = smf.wls("y ~ treated * post", data=sub, weights=w).fit()
            assert gt.base_period == gt.group - 1
            assert gt.estimate == pytest.approx(ref.params["treated:post"], rel=1e-9, abs=1e-9)
            assert gt.n_treated == sub.loc[sub["treated"] == 1, "unit"].nunique()
            assert gt.n_control == sub.loc[sub["treated"] == 0, "unit"].nunique() == len(never)
            if weights is None:
                change = sub.pivot(index="unit", columns="period", values="y")
                change = change[gt.period] - change[gt.base_period]
                test = stats.ttest_ind(
                    change[change.index.isin(cohort)], change[~change.index.isin(cohort)], equal_var=False
                )
                assert gt.se == pytest.approx(abs(gt.estimate / test.statistic), rel=1e-9)
        # The overall effect is the cohort-size weighted mean of the post-period ATT(g, t); with weights a
        # cohort's size is the sum of its units' weights.
        size = {g: sum(unit_w[u] if weights else 1.0 for u in starts if starts[u] == g) for g in (4, 7)}
        wts = np.array([size[gt.group] for gt in r.group_time], float)
        assert r.estimate == pytest.approx(wts @ [gt.estimate for gt in r.group_time] / wts.sum(), rel=1e-12)


def test_staggered_standard_errors_match_the_spread_over_simulations():
    # 200 simulated panels with small cohorts: the influence-function SE must equal the standard deviation of
    # the estimates (the sampling distribution) and its 95 % intervals must cover the truth about 95 % of the time.
    estimates, ses, covered = [], [], 0
    for seed in range(300, 500):
        data, starts, truth = staggered(seed, cohorts={3: 8, 6: 6}, n_never=12, slope=1.0, noise_sd=3.0)
        r = _staggered_fit(data, starts)
        estimates.append(r.estimate)
        ses.append(r.se)
        covered += r.ci_low < truth < r.ci_high
    assert np.mean(ses) / np.std(estimates, ddof=1) == pytest.approx(1.0, abs=0.15)
    assert abs(np.mean(estimates) - truth) < 0.25 * np.std(estimates)  # unbiased
    assert 0.90 <= covered / 200 <= 0.99


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_staggered_null_effect_interval_covers_zero(seed):
    data, starts, truth = staggered(seed, cohorts={3: 15, 5: 15, 8: 15}, n_never=20, slope=0.0, quarters=True)
    assert truth == 0
    r = _staggered_fit(data, starts, weights="n", target=2)
    assert r.method == METHOD_STAGGERED and r.ci_low < 0 < r.ci_high
    assert r.verdict == "no_effect"  # well powered: MDE below the aim of 2
    assert r.group_time[0].group == "2024Q3" and r.group_time[0].base_period == "2024Q2"


def test_staggered_on_rows_equals_weighted_cells():
    data, starts, _ = staggered(15, cohorts={3: 10, 6: 10}, n_never=15)
    rng = np.random.default_rng(15)
    rows = data.loc[data.index.repeat(rng.integers(1, 5, len(data)))]
    rows = rows.assign(y=rows["y"] + rng.normal(0, 2, len(rows)))  # respondents: several rows per unit and period
    cells = rows.groupby(["unit", "period"], as_index=False)["y"].agg(y="mean", n="size")
    a, b = _staggered_fit(rows, starts), _staggered_fit(cells, starts, weights="n")
    assert a.method == b.method == METHOD_STAGGERED
    assert (a.estimate, a.se) == (pytest.approx(b.estimate, rel=1e-12), pytest.approx(b.se, rel=1e-12))
    # Observations that entered a group-time effect: the base and post periods, not the earlier ones.
    used = sum(len(rows[(rows["unit"] == u) & (rows["period"] >= g - 1)]) for u, g in starts.items())
    never = rows[~rows["unit"].isin(starts)]
    assert a.n_obs == b.n_obs == used + len(never[never["period"] >= 2])


def test_staggered_without_never_treated_compares_with_not_yet_treated():
    data, starts, _ = staggered(13, cohorts={3: 30, 6: 30, 9: 30}, n_never=0, slope=1.0)
    r = _staggered_fit(data, starts)
    assert r.method == METHOD_STAGGERED and "not-yet-treated" in r.note
    # Only cells with someone not yet treated: cohort 3 in periods 3-8, cohort 6 in 6-8; cohort 9 only compares.
    cells = [(gt.group, gt.period) for gt in r.group_time]
    assert cells == [(3, t) for t in range(3, 9)] + [(6, t) for t in range(6, 9)]
    assert all(gt.n_control == (60 if gt.period < 6 else 30) for gt in r.group_time)
    truth = (sum(range(1, 7)) + sum(range(1, 4))) / 9  # the same estimand over the estimable cells
    assert r.ci_low < truth < r.ci_high and (r.n_treated, r.n_control) == (60, 60)


def test_staggered_with_single_unit_cohorts_falls_back_and_says_why():
    data, starts, _ = staggered(14, cohorts={5: 1, 6: 1}, n_never=10, slope=1.0)
    r = _staggered_fit(data, starts)
    assert r.method == METHOD_ITS and "staggered rollout, but no group-time effect" in r.note
    assert (r.n_treated, r.n_control) == (2, 0)


# --------------------------------------------------------------------------- interrupted time series


def its_panel(
    seed: int,
    shift: float,
    trend: float,
    n_units: int = 4,
    periods: int = 12,
    start: int = 7,
    sd: float = 1.0,
    shock_rho: float = 0.0,
    shock_sd: float = 0.0,
) -> pd.DataFrame:
    """All units treated at ``start`` (quarter labels): a steady trend, a level shift from the start, and
    optionally period shocks common to all units that follow an AR(1) with ``shock_rho``."""
    rng = np.random.default_rng(seed)
    first = Quarter.parse("2024Q1")
    shocks = np.zeros(periods)
    for t in range(periods):
        shocks[t] = (shock_rho * shocks[t - 1] if t else 0.0) + rng.normal(0, shock_sd) if shock_sd else 0.0
    rows = []
    for u in range(n_units):
        level = rng.normal(0, 3)
        for t in range(periods):
            y = 40 + level + trend * t + shift * (t >= start) + shocks[t] + rng.normal(0, sd)
            rows.append((f"O{u}", str(first.shift(t)), y, int(rng.integers(20, 40))))
    return pd.DataFrame(rows, columns=["office", "quarter", "kpi", "n"])


def _its_fit(data: pd.DataFrame, start: str, target: float | None = 5, weights: str | None = None):
    return fx.estimate_effect(
        data,
        unit="office",
        period="quarter",
        outcome="kpi",
        treated_units=set(data["office"]),
        start_period=start,
        weights=weights,
        target_change=target,
    )


# (seed, AR(1) coefficient of common period shocks, whether statsmodels' Newey-West SE is the larger):
# the cases cover both branches of the "larger of the two" rule.
@pytest.mark.parametrize(
    "seed, shock_rho, newey_west_larger",
    [(1, 0.0, False), (2, 0.0, False), (9, 0.0, True), (4, 0.9, True), (5, 0.9, False)],
)
def test_its_matches_statsmodels_segmented_regression(seed, shock_rho, newey_west_larger):
    # Oracle: statsmodels OLS on the period means, SE the larger of the classical one and
    # cov_type="HAC" (Newey-West, maxlags 2, use_correction=True).
    import statsmodels.formula.api as smf

    data = its_panel(seed, shift=6.0, trend=1.0, sd=2.0, shock_rho=shock_rho, shock_sd=3.0 if shock_rho else 0.0)
    r = _its_fit(data, "2025Q4", weights="n")
    assert r.method == METHOD_ITS and "Newey-West" in r.note and "not separated" in r.note
    data["wv"] = data["kpi"] * data["n"]
    means = data.groupby("quarter", as_index=False)[["wv", "n"]].sum()
    means["y"] = means["wv"] / means["n"]
    means["time"] = [Quarter.parse(q).index() - Quarter.parse("2025Q4").index() for q in means["quarter"]]
    means["post"] = (means["time"] >= 0).astype(float)
    means["since"] = means["time"] * means["post"]
    model = smf.ols("y ~ time + post + since", data=means)
    # maxlags = floor(4 (12/100)^(2/9)) = 2
    hac = model.fit(cov_type="HAC", cov_kwds={"maxlags": 2, "use_correction": True}, use_t=True)
    classical = model.fit()
    assert (hac.bse["post"] > classical.bse["post"]) == newey_west_larger
    ref = hac if newey_west_larger else classical
    assert ("Newey-West, t" in r.note) == newey_west_larger
    assert r.estimate == pytest.approx(ref.params["post"], rel=1e-9)
    assert r.se == pytest.approx(ref.bse["post"], rel=1e-9)
    assert (r.ci_low, r.ci_high) == tuple(pytest.approx(v, rel=1e-9) for v in ref.conf_int().loc["post"])
    assert r.p_value == pytest.approx(ref.pvalues["post"], rel=1e-6)
    assert (r.n_treated, r.n_control, r.n_obs) == (4, 0, int(data["n"].sum()))


def test_its_recovers_a_level_shift_and_does_not_take_a_trend_for_an_effect():
    shifted = [_its_fit(its_panel(seed, shift=8.0, trend=1.5), "2025Q4") for seed in range(40, 50)]
    assert sum(r.ci_low < 8.0 < r.ci_high for r in shifted) >= 8
    assert np.mean([r.estimate for r in shifted]) == pytest.approx(8.0, abs=1.0)
    assert all(r.verdict == "effective" for r in shifted)
    trend_only = its_panel(3, shift=0.0, trend=2.0)
    r = _its_fit(trend_only, "2025Q4")
    naive = (
        trend_only.loc[trend_only["quarter"] >= "2025Q4", "kpi"].mean()
        - trend_only.loc[trend_only["quarter"] < "2025Q4", "kpi"].mean()
    )
    assert naive > 10  # after minus before would call the steady trend a big effect
    assert r.ci_low < 0 < r.ci_high and r.verdict != "effective"


def test_its_needs_three_periods_before_else_before_after():
    data = its_panel(4, shift=5.0, trend=0.5)
    three_pre = data[data["quarter"].between("2025Q1", "2025Q4")]  # 3 before, 1 after: n = 4, k = 3, 1 df
    r = _its_fit(three_pre, "2025Q4")
    assert r.method == METHOD_ITS and "t with 1 df" in r.note
    two_pre = data[data["quarter"].between("2025Q2", "2026Q2")]
    r = _its_fit(two_pre, "2025Q4")
    assert r.method == METHOD_BEFORE_AFTER and "interrupted time series needs 3" in r.note
