"""Effect of measures: KPI observations from the database, the estimators on
synthetic panels with a known planted effect, and the quarterly evaluation step."""

from __future__ import annotations

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
from tasks import effects as fx
from tasks import measures as reg

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
QUARTERS = ["2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3", "2026Q4"]


def panel(seed: int, effect: float = 0.0, shock: float = 0.0, n_treated: int = 5, n_control: int = 5,
          per_cell: int = 40, start: str = "2026Q1", cell_sd: float = 2.0, noise_sd: float = 20.0, drift_sd: float = 0.0) -> pd.DataFrame:
    """Respondent-level KPI panel: office and quarter effects, office x quarter shocks, noise.

    ``effect`` is planted in treated offices from ``start`` on; ``shock`` hits every office from ``start`` on
    (a national campaign the measure has nothing to do with); ``drift_sd`` gives every office its own
    lasting shift from ``start`` on, unrelated to the measure (serial correlation within an office).
    """
    rng = np.random.default_rng(seed)
    offices = [f"T{i:02d}" for i in range(n_treated)] + [f"C{i:02d}" for i in range(n_control)]
    office_fx = dict(zip(offices, rng.normal(0, 6, len(offices))))
    quarter_fx = dict(zip(QUARTERS, rng.normal(0, 3, len(QUARTERS))))
    drift = dict(zip(offices, rng.normal(0, drift_sd, len(offices)) if drift_sd else np.zeros(len(offices))))
    s = Quarter.parse(start)
    frames = []
    for o in offices:
        for q in QUARTERS:
            post = Quarter.parse(q) >= s
            mu = 60 + office_fx[o] + quarter_fx[q] + rng.normal(0, cell_sd) + post * (shock + drift[o])
            mu += effect * (post and o.startswith("T"))
            frames.append(pd.DataFrame({"office_code": o, "quarter": q, "value": mu + rng.normal(0, noise_sd, per_cell)}))
    return pd.concat(frames, ignore_index=True)


TREATED = {f"T{i:02d}" for i in range(5)}


# --------------------------------------------------------------------------- estimators


def test_planted_effect_is_recovered_within_the_interval():
    results = [fx.estimate_effect(panel(seed, effect=8.0), TREATED, "2026Q1", target_change=10) for seed in range(30, 40)]
    assert all(r.method == fx.METHOD_DID for r in results)
    assert sum(r.ci_low < 8.0 < r.ci_high for r in results) >= 8  # a 95 % interval covers the truth
    assert np.mean([r.estimate for r in results]) == pytest.approx(8.0, abs=2.0)
    assert sum(r.verdict == "effective" for r in results) >= 8
    r = results[0]
    assert (r.n_treated_units, r.n_control_units, r.n_obs) == (5, 5, 10 * 6 * 40)
    t = stats.t.ppf(0.975, 10 - 1)  # t interval with (offices - 1) degrees of freedom
    assert r.mde == pytest.approx(2.8 * (r.ci_high - r.ci_low) / 2 / t, rel=0.01)
    assert "MDE" in r.note


def test_harm_is_called_worsened():
    r = fx.estimate_effect(panel(2, effect=-9.0), TREATED, "2026Q1", target_change=10)
    assert r.verdict == "worsened" and r.ci_high < 0


# A 5 %-level test calls about one true null in twenty significant (seeds 13 and 14 of this generator
# are such draws), so these are fixed seeds; the rate itself is checked by
# test_clustered_intervals_keep_their_level.
@pytest.mark.parametrize("seed", [15, 16, 17, 18, 19])
def test_null_effect_is_never_called_effective(seed):
    r = fx.estimate_effect(panel(seed, effect=0.0), TREATED, "2026Q1", target_change=10)
    assert r.verdict in ("no_effect", "inconclusive")


def test_well_powered_null_is_no_effect_and_small_null_is_inconclusive():
    big = fx.estimate_effect(panel(21, per_cell=200, cell_sd=0.5), TREATED, "2026Q1", target_change=10)
    assert big.verdict == "no_effect" and big.mde <= 10
    small = fx.estimate_effect(panel(21, per_cell=5, cell_sd=6), TREATED, "2026Q1", target_change=2)
    assert small.verdict == "inconclusive" and small.mde > 2


def test_clustered_intervals_keep_their_level():
    # Lasting office-specific shifts make an office's quarters correlated; intervals that ignored that
    # (respondents or cells as independent) would reject far more often than alpha. Across 120 null
    # panels the rate must stay near 5 %.
    rejections = 0
    for seed in range(1000, 1120):
        data = panel(seed, per_cell=30, cell_sd=2.0, drift_sd=6.0)
        r = fx.estimate_effect(data, TREATED, "2026Q1", target_change=5)
        rejections += r.ci_low > 0 or r.ci_high < 0
    assert rejections / 120 <= 0.10  # independent-cell intervals reject about 17 % here


def test_common_time_shock_biases_before_after_but_not_did():
    data = panel(5, effect=0.0, shock=10.0)
    did = fx.estimate_effect(data, TREATED, "2026Q1", target_change=10)
    assert did.method == fx.METHOD_DID
    assert did.ci_low < 0 < did.ci_high and abs(did.estimate) < 4
    assert did.verdict != "effective"
    naive = fx.estimate_effect(data[data["office_code"].isin(TREATED)], TREATED, "2026Q1", target_change=10)
    assert naive.method == fx.METHOD_BEFORE_AFTER
    assert naive.estimate > 6 and naive.verdict == "effective"  # the shock is taken for the measure's effect


def test_before_after_fallback_labels_itself():
    data = panel(6, effect=8.0, n_control=1)  # one comparison office is fewer than min_units_per_arm
    r = fx.estimate_effect(data, TREATED, "2026Q1", target_change=10, min_units_per_arm=2)
    assert r.method == "before_after"
    assert "before/after" in r.note and "comparison office" in r.note
    assert r.n_control_units == 0 and r.n_treated_units == 5
    assert r.ci_low < r.estimate < r.ci_high
    assert r.n_obs == 5 * 6 * 40


def test_missing_pre_or_post_is_inconclusive():
    data = panel(7, effect=8.0)
    only_post = data[data["quarter"] >= "2026Q1"]
    r = fx.estimate_effect(only_post, TREATED, "2026Q1", target_change=10)
    assert r.verdict == "inconclusive" and r.estimate is None and "before" in r.note
    only_pre = data[data["quarter"] < "2026Q1"]
    r = fx.estimate_effect(only_pre, TREATED, "2026Q1", target_change=10)
    assert r.verdict == "inconclusive" and "from 2026Q1" in r.note
    r = fx.estimate_effect(data, {"nowhere"}, "2026Q1", target_change=10)
    assert r.verdict == "inconclusive" and r.n_treated_units == 0
    assert fx.estimate_effect(data.iloc[0:0], TREATED, "2026Q1", 10).verdict == "inconclusive"


def test_did_equals_the_respondent_level_clustered_fit():
    import statsmodels.formula.api as smf

    data = panel(9, effect=5.0)
    r = fx.estimate_effect(data, TREATED, "2026Q1", target_change=5)
    data["treated_post"] = (data["office_code"].isin(TREATED) & (data["quarter"] >= "2026Q1")).astype(float)
    ref = smf.ols("value ~ treated_post + C(office_code) + C(quarter)", data=data).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(data["office_code"])[0]}, use_t=True)
    low, high = ref.conf_int().loc["treated_post"]
    assert r.estimate == pytest.approx(ref.params["treated_post"], abs=1e-3)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low, abs=1e-3), pytest.approx(high, abs=1e-3))
    assert r.p_value == pytest.approx(ref.pvalues["treated_post"], abs=1e-5)


def test_weighted_cells_match_respondent_level_fit():
    # Collapsing to office-quarter shares weighted by their size gives the same DiD estimate.
    data = panel(8, effect=-4.0)
    micro = fx.estimate_effect(data, TREATED, "2026Q1", target_change=-5)
    cells = data.groupby(["office_code", "quarter"], as_index=False)["value"].agg(["mean", "size"])
    cells = cells.rename(columns={"mean": "value", "size": "weight"})
    agg = fx.estimate_effect(cells, TREATED, "2026Q1", target_change=-5)
    assert agg.estimate == pytest.approx(micro.estimate, abs=1e-3)
    assert agg.n_obs == micro.n_obs


@pytest.mark.parametrize(
    "low, high, mde, target, verdict",
    [(1, 5, 2, 3, "effective"), (-5, -1, 2, -3, "effective"), (1, 5, 2, -3, "worsened"),
     (-1, 1, 2, 3, "no_effect"), (-1, 1, 4, 3, "inconclusive"), (None, None, None, 3, "inconclusive")],
)
def test_verdict_rules(low, high, mde, target, verdict):
    assert fx.verdict_for(low, high, mde, target) == verdict


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


def _fill(url: str, config: AppConfig, effect: float, quarters: list[str], treated: set[str], start: str,
          per_cell: int = 25, seed: int = 3) -> None:
    """Star-survey respondents (P3 carries the planted effect) plus texts for neg_share."""
    rng = np.random.default_rng(seed)
    feedback, answers = [], []
    fid = 0
    for office in config.offices:
        base = rng.normal(0, 0.3)
        for q in quarters:
            qq = Quarter.parse(q)
            lift = effect if office.office_code in treated and qq >= Quarter.parse(start) else 0.0
            for i in range(per_cell):
                fid += 1
                p3 = int(np.clip(round(3 + base + lift + rng.normal(0, 0.8)), 1, 5))
                feedback.append(dict(id=fid, dedup_key=f"s{fid}", channel="star_survey", source_file="s.csv",
                                     source_row=fid, received_at=qq.start, quarter=q, office_code=office.office_code,
                                     region_code=office.region_code, client_type="citizen"))
                answers.append(dict(feedback_id=fid, P1=4, P2=None, P3=p3, P4=int(rng.integers(1, 6)), F1=5))
            for i in range(4):  # texts: one in four complains about waiting
                fid += 1
                feedback.append(dict(id=fid, dedup_key=f"t{fid}", channel="review_book", source_file="r.xlsx",
                                     source_row=fid, received_at=qq.start, quarter=q, office_code=office.office_code,
                                     region_code=office.region_code, client_type="citizen", text="текст",
                                     negative_themes="waiting_time,staff_attitude" if i == 0 else "waiting_time_x"))
    with Session(get_engine(url)) as s:
        s.execute(insert(Feedback), feedback)
        s.execute(insert(SurveyAnswer), answers)
        s.commit()


def test_kpi_observations_item_ray_and_neg_share(db, config):
    _fill(db, config, 0.0, ["2026Q1"], set(), "2026Q1", per_cell=3)
    with Session(get_engine(db)) as s:
        item = fx.kpi_observations(s, "item:P1", ["2026Q1"])
        assert len(item) == 15 * 3 and set(item["value"]) == {75.0}
        ray = fx.kpi_observations(s, "ray:personalisation", ["2026Q1"], offices=["52-01"])
        raw = s.exec(select(SurveyAnswer).join(Feedback).where(Feedback.office_code == "52-01")).all()
        expected = sorted(np.mean([(a.P1 - 1) * 25, (a.P3 - 1) * 25, (a.P4 - 1) * 25]) for a in raw)
        assert sorted(ray["value"]) == pytest.approx(expected)
        assert fx.kpi_observations(s, "item:P2", ["2026Q1"]).empty  # nobody answered P2
        assert fx.kpi_observations(s, "item:P1", ["2026Q1"], client_type="employer").empty
        neg = fx.kpi_observations(s, "neg_share:waiting_time", ["2026Q1"])
        assert len(neg) == 15 and set(neg["value"]) == {25.0} and set(neg["weight"]) == {4.0}
        assert set(fx.kpi_observations(s, "neg_share:staff_attitude", ["2026Q1"])["value"]) == {25.0}
        with pytest.raises(ValueError):
            fx.kpi_observations(s, "item:Z9", ["2026Q1"])


def _implemented_measure(s: Session, code: str, offices: list[str], implemented_on: date) -> Measure:
    m = Measure(code=code, title="SMS", theme="reminders_notifications", type="new_experience", region_code="52",
                offices=",".join(offices), owner="РГ", status="proposed", proposed_quarter="2025Q3",
                kpi_metric="item:P3", kpi_baseline=50.0, kpi_target=60.0)
    reg._create(s, m, "t", datetime(2025, 10, 5), "")
    for step in ("approved", "in_progress"):
        reg.change_status(s, m, step, "t", datetime(2025, 11, 1))
    m.implemented_on = implemented_on
    reg.change_status(s, m, "implemented", "t", datetime.combine(implemented_on, time(12)))
    return m


def test_evaluate_measures_end_to_end(db, config):
    quarters = ["2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    treated = {"52-01", "52-02", "52-03"}
    _fill(db, config, 1.0, quarters, treated, start="2026Q1")  # +1 answer point = +25 on the 0-100 scale
    with Session(get_engine(db), expire_on_commit=False) as s:
        early = _implemented_measure(s, "M-A", sorted(treated), date(2025, 12, 10))
        late = _implemented_measure(s, "M-B", ["52-04"], date(2026, 5, 1))  # no full quarter after it yet
        s.commit()
        evals = fx.evaluate_measures(s, "2026Q2", config)
        s.commit()
        assert [e.measure_id for e in evals] == [early.id]
        e = evals[0]
        assert e.method == fx.METHOD_DID and e.verdict == "effective"
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

        again = fx.evaluate_measures(s, "2026Q2", config)  # rerun replaces, adds no history
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
        evals = fx.evaluate_measures(s, "2026Q2", cfg)
        assert len(evals) == 1 and evals[0].method == "before_after"
        assert evals[0].n_control_units == 0 and "before/after" in evals[0].note
        assert evals[0].verdict in ("no_effect", "inconclusive")


def test_proposed_measure_gets_baseline_and_target_from_data(db, config):
    _fill(db, config, 0.0, ["2026Q1"], set(), "2026Q1", per_cell=10)
    pp = pd.DataFrame([("2026Q1", "52", "reminders_notifications", "periodic_meetings", 50.0, 1, 20)],
                      columns=["quarter", "region_code", "theme", "journey_stage", "priority", "rank",
                               "negative_mentions"])
    with Session(get_engine(db), expire_on_commit=False) as s:
        (m,) = reg.propose_measures(s, "2026Q1", pp, config, datetime(2026, 4, 5, 6))
        obs = fx.kpi_observations(s, "item:P3", ["2026Q1"], offices=[f"52-0{i}" for i in range(1, 6)])
        assert m.kpi_metric == "item:P3"
        assert m.kpi_baseline == pytest.approx(obs["value"].mean(), abs=0.01)
        assert m.kpi_target == pytest.approx(m.kpi_baseline + 10, abs=0.01)
        assert fx.target_change_for(m, config) == pytest.approx(10, abs=0.02)
