"""Pain points per unit and client type: counts, the Laney p' chart, every priority
component, ranking, the why-sentence, the artifact rows and the stage on a real database.

Expected values are computed by hand in the tests (the arithmetic is spelled out), not
copied from the output."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from cxloop.quarters import Quarter
from tasks.insight.explain import pain_points_artifact_rows, pareto, why_this_rank
from tasks.insight.mentions import theme_mentions
from tasks.insight.painpoints import COMPONENTS, PAIN_POINT_COLUMNS, prioritise_pain_points
from tasks.insight.pchart import laney_p_prime

Q = "2026Q3"


def W(x: int, n: int) -> float:
    """Oracle: Wilson 95 % lower bound per 100, from statsmodels."""
    return 100.0 * proportion_confint(x, n, alpha=0.05, method="wilson")[0]


def _texts(
    office,
    region,
    theme="",
    negative=True,
    n=1,
    *,
    client="citizen",
    stage=None,
    rating=None,
    scale=None,
    quarter=Q,
    text="t",
):
    """``n`` feedback rows with a text mentioning ``theme`` (negatively or not); theme "" = a plain text."""
    return [
        {
            "quarter": quarter,
            "office_code": office,
            "region_code": region,
            "client_type": client,
            "journey_stage": stage,
            "rating": rating,
            "scale": scale,
            "text": text,
            "themes": theme,
            "negative_themes": theme if negative else "",
        }
    ] * n


def _frame(*parts):
    return pd.DataFrame([r for p in parts for r in p])


def _row(out, level, unit, theme, client="citizen"):
    sel = out[
        (out["level"] == level) & (out["unit_code"] == unit) & (out["theme"] == theme) & (out["client_type"] == client)
    ]
    assert len(sel) == 1, f"expected one {level} {unit} {theme} {client} row, got {len(sel)}"
    return sel.iloc[0]


# --------------------------------------------------------------------------- counts and reach


def _base_quarter():
    return _frame(
        # office 52-01: 10 negative waiting_time (rated 1 of 5 -> 0), 2 positive (rated 10 of 10 -> 100),
        # 1 negative staff_attitude... and 8 plain texts: 20 texts
        _texts("52-01", "52", "waiting_time", True, 10, rating=1, scale=5),
        _texts("52-01", "52", "waiting_time", False, 2, rating=10, scale=10),
        _texts("52-01", "52", "", n=8),
        # a rating without a text is not a text
        [{**_texts("52-01", "52", n=1)[0], "text": None, "rating": 1, "scale": 5}] * 5,
        # office 52-02: 5 negative waiting_time (unrated) + 5 plain: 10 texts
        _texts("52-02", "52", "waiting_time", True, 5),
        _texts("52-02", "52", "", n=5),
        # employers of 52-01: 6 negative candidate_quality + 4 plain: 10 employer texts
        _texts("52-01", "52", "candidate_quality", True, 6, client="employer"),
        _texts("52-01", "52", "", n=4, client="employer"),
        # 4 complaints about staff in 52-01: below min_mentions (5) everywhere
        _texts("52-01", "52", "staff_attitude", True, 4),
    )


def test_counts_share_reach_and_levels(config):
    out = prioritise_pain_points(_base_quarter(), config)
    assert list(out.columns[: len(PAIN_POINT_COLUMNS)]) == PAIN_POINT_COLUMNS
    assert set(out["level"]) == {"office", "region", "country"}
    assert "staff_attitude" not in set(out["theme"])  # 4 < min_mentions

    # citizens' texts: 52-01 has 10 + 2 + 8 + 4 (staff) = 24, 52-02 has 10 -> region 34
    region = _row(out, "region", "52", "waiting_time")
    assert region["journey_stage"] == config.themes["waiting_time"].stage
    assert (region["mentions"], region["negative_mentions"], region["texts_total"]) == (17, 15, 34)
    assert region["negative_share"] == pytest.approx(100 * 15 / 34)
    assert region["mean_rating"] == pytest.approx((10 * 0 + 2 * 100) / 12)  # the 5 unrated mentions do not count
    assert (region["reach_offices"], region["reach_clients"], region["offices_total"]) == (2, 15, 5)
    assert region["region_code"] == "52"

    o1 = _row(out, "office", "52-01", "waiting_time")
    assert (o1["negative_mentions"], o1["texts_total"], o1["reach_offices"], o1["offices_total"]) == (10, 24, 1, 1)
    assert o1["region_code"] == "52"
    o2 = _row(out, "office", "52-02", "waiting_time")
    assert o2["negative_share"] == pytest.approx(50.0) and pd.isna(o2["mean_rating"])

    country = _row(out, "country", "ALL", "waiting_time")
    assert country["region_code"] == "ALL" and country["texts_total"] == 34
    assert country["offices_total"] == len(config.offices) == 15

    employer = _row(out, "region", "52", "candidate_quality", client="employer")
    assert employer["journey_stage"] == "candidate_selection"
    assert (employer["negative_mentions"], employer["texts_total"]) == (6, 10)  # employers' own denominator


def test_priority_components_without_survey_history_or_measures(config):
    out = prioritise_pain_points(_base_quarter(), config)
    region = _row(out, "region", "52", "waiting_time")
    # reach: 15/34 per 100 x (0.5 + 0.5 x 2 of 5 offices)
    assert region["component_reach"] == pytest.approx(W(15, 34) * 0.7)  # Wilson lower bound x spread
    country = _row(out, "country", "ALL", "waiting_time")
    assert country["component_reach"] == pytest.approx(W(15, 34) * (0.5 + 0.5 * 2 / 15))
    office = _row(out, "office", "52-01", "waiting_time")
    assert office["component_reach"] == pytest.approx(W(10, 24))  # office rows: no spread factor
    for r in (region, country, office):
        assert (r["component_severity"], r["component_trend"], r["component_driver"], r["component_coverage"]) == (
            1,
            1,
            1,
            1,
        )
        assert r["priority"] == pytest.approx(math.prod(r[c] for c in COMPONENTS), abs=1e-6)
        assert r["signal"] is None and pd.isna(r["trend"]) and pd.isna(r["p_bar"])
        assert r["covered_by"] is None and not r["recurring"]


def test_stage_from_source_and_employer_stages(config):
    rows = _frame(
        _texts("10-01", "10", "process_clarity", n=5, stage="periodic_meetings"),
        _texts("10-01", "10", "candidate_quality", n=5, client="employer"),
        _texts("10-01", "10", "waiting_time", n=5, client="employer"),
    )
    mentions = theme_mentions(rows, config)
    stages = dict(zip(mentions["theme"], mentions["journey_stage"], strict=True))
    assert stages["process_clarity"] == "periodic_meetings"
    assert stages["candidate_quality"] == "candidate_selection"
    assert stages["waiting_time"] == "employer_onboarding"  # a citizen-stage theme from an employer
    assert mentions["texts"].sum() == 15  # grouped: identical texts are one row with a count


# --------------------------------------------------------------------------- Laney p'


def test_laney_p_prime_by_hand():
    x, n = [10, 14, 8, 12], [100, 100, 100, 100]
    res = laney_p_prime(x, n, 30, 100)
    p_bar = 44 / 400
    sigma = math.sqrt(p_bar * (1 - p_bar) / 100)
    z = [(xi / 100 - p_bar) / sigma for xi in x]
    mr = [abs(z[1] - z[0]), abs(z[2] - z[1]), abs(z[3] - z[2])]
    sigma_z = (sum(mr) / 3) / 1.128
    assert sigma_z > 1  # overdispersed: the p' chart is wider than the p chart here
    assert res["p_bar"] == pytest.approx(p_bar)
    assert res["sigma_z"] == pytest.approx(sigma_z)
    assert res["ucl"] == pytest.approx(p_bar + 3 * sigma * sigma_z)
    assert res["lcl"] == pytest.approx(max(0.0, p_bar - 3 * sigma * sigma_z))
    assert res["signal"] == "rise"  # 0.30 > UCL ~ 0.234
    assert laney_p_prime(x, n, 12, 100)["signal"] is None
    # unequal subgroup sizes: the limits use the current quarter's n
    res2 = laney_p_prime([5, 30, 12], [50, 200, 100], 1, 400)
    pb2 = 47 / 350
    s_i = [math.sqrt(pb2 * (1 - pb2) / k) for k in (50, 200, 100)]
    z2 = [(5 / 50 - pb2) / s_i[0], (30 / 200 - pb2) / s_i[1], (12 / 100 - pb2) / s_i[2]]
    sz2 = max(1.0, (abs(z2[1] - z2[0]) + abs(z2[2] - z2[1])) / 2 / 1.128)
    s_now = math.sqrt(pb2 * (1 - pb2) / 400)
    assert res2["lcl"] == pytest.approx(pb2 - 3 * s_now * sz2)
    assert res2["signal"] == "fall"  # 1/400 is below the LCL


def test_laney_overdispersion_widens_and_floor_keeps_the_p_chart():
    """Laney (2002): with large subgroups the p chart flags ordinary drift; p' does not."""
    n = [5000] * 6
    x = [500, 600, 450, 620, 480, 580]  # 9-12.4 %: quarter-to-quarter drift far above binomial noise
    p_bar = sum(x) / sum(n)
    sigma_now = math.sqrt(p_bar * (1 - p_bar) / 5000)
    p_ucl = p_bar + 3 * sigma_now  # the plain p chart
    x_now = 640  # 12.8 %: above the p chart's UCL ...
    assert x_now / 5000 > p_ucl
    res = laney_p_prime(x, n, x_now, 5000)
    assert res["sigma_z"] > 3 and res["ucl"] > p_ucl
    assert res["signal"] is None  # ... but within the p' limits
    # Underdispersion (a baseline smoother than binomial noise): sigma_z is floored at 1,
    # so the limits are the plain p chart's, never narrower.
    smooth = laney_p_prime([100, 101, 100, 101], [1000] * 4, 100, 1000)
    pb = 402 / 4000
    assert smooth["sigma_z"] == 1.0
    assert smooth["ucl"] == pytest.approx(pb + 3 * math.sqrt(pb * (1 - pb) / 1000))
    raw = laney_p_prime([100, 101, 100, 101], [1000] * 4, 100, 1000, sigma_z_floor=0.0)
    assert raw["sigma_z"] < 0.1 and raw["ucl"] < smooth["ucl"]


def test_laney_short_history_small_counts_and_zero_baseline():
    short = laney_p_prime([10, 12], [100, 100], 40, 100)
    assert short["signal"] is None and short["ucl"] is None and short["p_bar"] == pytest.approx(0.11)
    # few expected mentions: p_bar x n = 0.04 x 100 = 4 < 5, the 3-sigma limits are not trusted
    small = laney_p_prime([4, 4, 4, 4], [100] * 4, 12, 100)
    assert small["ucl"] == pytest.approx(0.04 + 3 * math.sqrt(0.04 * 0.96 / 100))  # 0.0988 < 0.12 ...
    assert small["signal"] is None  # ... but no signal
    assert laney_p_prime([4, 4, 4, 4], [100] * 4, 12, 100, min_expected=4.0)["signal"] == "rise"
    # never seen in the baseline: a zero-width chart expects nothing, so no signal either (the trend shows it)
    new = laney_p_prime([0, 0, 0], [80, 90, 100], 6, 100)
    assert new["p_bar"] == 0 and new["ucl"] == 0 and new["signal"] is None
    assert laney_p_prime([0, 0, 0], [80, 90, 100], 6, 100, min_expected=0.0)["signal"] == "rise"


def _history_case():
    """Office 52-01, waiting_time: four baseline quarters (2025Q3..2026Q2), 100 texts each."""
    hist = []
    for q, x in zip(["2025Q3", "2025Q4", "2026Q1", "2026Q2"], [10, 14, 8, 12], strict=True):
        hist += _texts("52-01", "52", "waiting_time", True, x, quarter=q) + _texts("52-01", "52", n=100 - x, quarter=q)
    # too old for history_quarters = 4: would pull p_bar up if it were used
    hist += _texts("52-01", "52", "waiting_time", True, 90, quarter="2025Q2") + _texts(
        "52-01", "52", n=10, quarter="2025Q2"
    )
    current = _frame(_texts("52-01", "52", "waiting_time", True, 30), _texts("52-01", "52", n=70))
    return current, _frame(hist)


def test_signal_trend_and_limits_from_history(config):
    cfg = config.model_copy(deep=True)
    cfg.thresholds.pain_points.history_quarters = 4
    current, history = _history_case()
    out = prioritise_pain_points(current, cfg, quarter=Q, history=history)
    office = _row(out, "office", "52-01", "waiting_time")
    expected = laney_p_prime([10, 14, 8, 12], [100] * 4, 30, 100)
    assert office["p_bar"] == pytest.approx(100 * 44 / 400)  # 2025Q2 left out
    assert office["ucl"] == pytest.approx(100 * expected["ucl"])
    assert office["lcl"] == pytest.approx(100 * expected["lcl"])
    assert office["signal"] == "rise" and office["component_trend"] == 1.25
    assert office["trend"] == pytest.approx(30.0 - 12.0)  # vs 2026Q2
    assert office["priority"] == pytest.approx(W(30, 100) * 1.25, abs=1e-4)
    # the region has exactly the same texts here, the country too
    assert _row(out, "region", "52", "waiting_time")["signal"] == "rise"

    # a fall is weighted 0.9
    low = _frame(_texts("52-01", "52", "waiting_time", True, 5), _texts("52-01", "52", n=295))
    fell = _row(prioritise_pain_points(low, cfg, quarter=Q, history=history), "office", "52-01", "waiting_time")
    assert fell["signal"] == "fall" and fell["component_trend"] == 0.9

    # only two baseline quarters: no limits, no signal, but a trend
    recent = history[history["quarter"].isin(["2026Q1", "2026Q2"])]
    short = _row(prioritise_pain_points(current, cfg, quarter=Q, history=recent), "office", "52-01", "waiting_time")
    assert short["signal"] is None and pd.isna(short["ucl"]) and short["component_trend"] == 1.0
    assert short["trend"] == pytest.approx(18.0)

    # no texts in the previous quarter: no trend; the chart still has three points
    gap = history[history["quarter"] != "2026Q2"]
    g = _row(prioritise_pain_points(current, cfg, quarter=Q, history=gap), "office", "52-01", "waiting_time")
    assert pd.isna(g["trend"]) and g["p_bar"] == pytest.approx(100 * 32 / 300) and g["signal"] == "rise"


def test_history_needs_the_quarter(config):
    current, history = _history_case()
    with pytest.raises(ValueError, match="quarter"):
        prioritise_pain_points(current, config, history=history)


# --------------------------------------------------------------------------- severity and drivers


def _index_rows():
    rays = {"friendliness": 90.0, "usefulness": 90.0, "personalisation": 90.0, "comfort": 90.0}
    return pd.DataFrame(
        [
            # an office with too few respondents: its value is not used
            {
                "level": "office",
                "unit_code": "52-01",
                "client_type": "citizen",
                "effort": 10.0,
                "sufficient_sample": False,
                **rays,
            },
            {
                "level": "office",
                "unit_code": "52-02",
                "client_type": "citizen",
                "effort": 70.0,
                "sufficient_sample": True,
                **rays,
            },
            # the region has no citizen value for effort, only the composite
            {
                "level": "region",
                "unit_code": "52",
                "client_type": "citizen",
                "effort": None,
                "sufficient_sample": True,
                **rays,
            },
            {
                "level": "region",
                "unit_code": "52",
                "client_type": "composite",
                "effort": 50.0,
                "sufficient_sample": True,
                **rays,
            },
            {
                "level": "country",
                "unit_code": "ALL",
                "client_type": "citizen",
                "effort": 90.0,
                "sufficient_sample": True,
                **rays,
            },
        ]
    )


def test_severity_from_the_star_with_fallbacks(config):
    out = prioritise_pain_points(_base_quarter(), config, _index_rows())
    region, country = _row(out, "region", "52", "waiting_time"), _row(out, "country", "ALL", "waiting_time")
    o1, o2 = _row(out, "office", "52-01", "waiting_time"), _row(out, "office", "52-02", "waiting_time")
    assert (region["ray"], region["ray_score"], region["component_severity"]) == ("effort", 50.0, 2.0)  # composite
    assert (o1["ray_score"], o1["component_severity"]) == (50.0, 2.0)  # insufficient office -> its region
    assert o2["ray_score"] == 70.0 and o2["component_severity"] == pytest.approx(30 / 25)
    assert (country["ray_score"], country["component_severity"]) == (90.0, 0.5)  # clip(10/25) at 0.5
    assert region["priority"] == pytest.approx(region["component_reach"] * 2.0)
    # employers: no employer or composite effort value anywhere but the region's composite
    employer = _row(out, "region", "52", "candidate_quality", client="employer")
    assert employer["ray"] == config.themes["candidate_quality"].ray


def test_driver_importance_component(config):
    drivers = pd.DataFrame(
        [
            {"region_code": "52", "client_type": "citizen", "ray": "effort", "importance": 0.4},
            {"region_code": "52", "client_type": "all", "ray": "usefulness", "importance": 0.3},
            {"region_code": "ALL", "client_type": "all", "ray": "effort", "importance": 0.1},
            {"region_code": "ALL", "client_type": "all", "ray": "usefulness", "importance": 0.9},
        ]
    )
    out = prioritise_pain_points(_base_quarter(), config, drivers=drivers)
    region, office = _row(out, "region", "52", "waiting_time"), _row(out, "office", "52-02", "waiting_time")
    assert region["driver_importance"] == 0.4 and region["component_driver"] == pytest.approx(1 + 2.5 * 0.2)
    assert office["driver_importance"] == 0.4  # offices use their region's drivers
    country = _row(out, "country", "ALL", "waiting_time")
    assert country["driver_importance"] == 0.1 and country["component_driver"] == pytest.approx(0.75)
    # employers of 52: no (52, employer), falls back to the region's pooled fit
    employer = _row(out, "region", "52", "candidate_quality", client="employer")
    assert config.themes["candidate_quality"].ray == "usefulness"
    assert employer["driver_importance"] == 0.3 and employer["component_driver"] == pytest.approx(1.25)
    # country employer rows: (ALL, all) 0.9 -> 1 + 2.5 x 0.7 = 2.75, clipped at 2
    assert _row(out, "country", "ALL", "candidate_quality", client="employer")["component_driver"] == 2.0


# --------------------------------------------------------------------------- measures


def test_open_measure_halves_priority_and_names_itself(config):
    plain = prioritise_pain_points(_base_quarter(), config)
    measures = pd.DataFrame(
        [
            {"code": "M-1", "region_code": "52", "theme": "waiting_time", "offices": "52-01"},
            {"code": "M-0", "region_code": "52", "theme": "waiting_time", "offices": "52-01,52-02"},
            {"code": "M-9", "region_code": "66", "theme": "waiting_time", "offices": ""},  # all of 66's offices
        ]
    )
    out = prioritise_pain_points(_base_quarter(), config, open_measures=measures.iloc[:1])
    region, before = _row(out, "region", "52", "waiting_time"), _row(plain, "region", "52", "waiting_time")
    assert region["covered_by"] == "M-1" and region["component_coverage"] == 0.5
    assert region["priority"] == pytest.approx(before["priority"] / 2)
    assert _row(out, "office", "52-01", "waiting_time")["covered_by"] == "M-1"
    o2 = _row(out, "office", "52-02", "waiting_time")
    assert o2["covered_by"] is None and o2["component_coverage"] == 1.0  # not in the measure's offices
    assert _row(out, "region", "52", "candidate_quality", "employer")["covered_by"] is None  # other theme
    # several measures: the one reaching most of the unit's offices, then the lowest code
    both = prioritise_pain_points(_base_quarter(), config, open_measures=measures)
    assert _row(both, "region", "52", "waiting_time")["covered_by"] == "M-0"
    assert _row(both, "office", "52-01", "waiting_time")["covered_by"] == "M-0"  # tie at one office: lowest code
    assert _row(both, "country", "ALL", "waiting_time")["covered_by"] == "M-9"  # 5 offices of 66 > 2 of 52
    # a measure registered for region 52 covers the region's row even when its offices lie elsewhere,
    # but not an office of 52 it does not reach
    elsewhere = pd.DataFrame([{"code": "M-7", "region_code": "52", "theme": "candidate_quality", "offices": "66-01"}])
    out = prioritise_pain_points(_base_quarter(), config, open_measures=elsewhere)
    assert _row(out, "region", "52", "candidate_quality", "employer")["covered_by"] == "M-7"
    assert _row(out, "office", "52-01", "candidate_quality", "employer")["covered_by"] is None


def test_recurring_after_a_closed_measure(config):
    out = prioritise_pain_points(
        _base_quarter(), config, closed_measures={("52", "waiting_time"), ("ALL", "waiting_time")}
    )
    assert _row(out, "region", "52", "waiting_time")["recurring"]
    assert _row(out, "office", "52-02", "waiting_time")["recurring"]  # the office's region had the measure
    assert _row(out, "country", "ALL", "waiting_time")["recurring"]
    assert not _row(out, "region", "52", "candidate_quality", "employer")["recurring"]


# --------------------------------------------------------------------------- ranking


def test_rank_order_and_tie_breaks(config):
    offices = ["66-01", "66-02", "66-03", "66-04", "66-05"]
    rows = _frame(
        # waiting_time: 10 complaints in one office -> W(10, T) x (0.5 + 0.5/5)
        _texts("66-01", "66", "waiting_time", True, 10),
        # documents_effort: 6 complaints over all five offices -> W(6, T) x 1.0: the same raw share x
        # spread (600/T) as waiting_time, but the larger count is the surer one and ranks first
        *[_texts(o, "66", "documents_effort", True, 2 if o == "66-01" else 1) for o in offices],
        # benefit_payment and training_offer: identical counts -> alphabetical
        _texts("66-02", "66", "training_offer", True, 5),
        _texts("66-02", "66", "benefit_payment", True, 5),
        # office_comfort: the most complaints, ranked first
        _texts("66-03", "66", "office_comfort", True, 20),
        *[_texts(o, "66", n=20) for o in offices],
    )
    out = prioritise_pain_points(rows, config)
    region = out[(out["level"] == "region") & (out["unit_code"] == "66")]
    assert list(region["theme"]) == [
        "office_comfort",
        "waiting_time",
        "documents_effort",
        "benefit_payment",
        "training_offer",
    ]
    assert list(region["rank"]) == [1, 2, 3, 4, 5]
    wt, de = region.iloc[1], region.iloc[2]
    total = 10 + 6 + 5 + 5 + 20 + 100
    assert wt["priority"] == pytest.approx(W(10, total) * 0.6, abs=1e-4)
    assert de["priority"] == pytest.approx(W(6, total) * 1.0, abs=1e-4)
    assert wt["priority"] > de["priority"]
    # ranks restart in every unit; rows come country, regions, offices
    assert list(out["level"].drop_duplicates()) == ["country", "region", "office"]
    for _, unit in out.groupby(["level", "unit_code"]):
        assert list(unit["rank"]) == list(range(1, len(unit) + 1))
        assert unit["priority"].is_monotonic_decreasing
    again = prioritise_pain_points(rows.sample(frac=1.0, random_state=3), config)
    pd.testing.assert_frame_equal(out, again)  # input order does not matter


# --------------------------------------------------------------------------- words


def _ranked_row(**over):
    row = {
        "level": "region",
        "unit_code": "52",
        "region_code": "52",
        "client_type": "citizen",
        "theme": "waiting_time",
        "journey_stage": "first_contact",
        "rank": 2,
        "negative_share": 12.0,
        "reach_offices": 4,
        "offices_total": 5,
        "ray": "effort",
        "ray_score": 58.0,
        "signal": "rise",
        "driver_importance": 0.38,
        "covered_by": "M-52-004",
        "component_reach": 10.8,
        "component_severity": (100 - 58) / 25,
        "component_trend": 1.25,
        "component_driver": 1 + 2.5 * (0.38 - 0.2),
        "component_coverage": 0.5,
        "recurring": False,
    }
    row.update(over)
    return row


def test_why_sentences_in_three_languages(config):
    names = {lang: {t: th.labels[lang] for t, th in config.themes.items()} for lang in ("ru", "en", "fi")}
    rays = {
        "ru": {"effort": "минимизация усилий"},
        "en": {"effort": "effort minimisation"},
        "fi": {"effort": "vaivattomuus"},
    }
    row = _ranked_row()
    ru = why_this_rank(row, lang="ru", theme_names=names["ru"], ray_names=rays["ru"])
    for part in (
        "Место 2",
        "«Очереди и долгое ожидание»",
        "12 из 100",
        "граждан",
        "4 из 5 офисов",
        "растёт",
        "«минимизация усилий»",
        "58 из 100",
        "38 %",
        "M-52-004",
    ):
        assert part in ru, (part, ru)
    en = why_this_rank(row, lang="en", theme_names=names["en"], ray_names=rays["en"])
    for part in (
        "Rank 2",
        "Waiting time",
        "12 in 100 citizens",
        "4 of 5 offices",
        "rising",
        "effort minimisation",
        "58 of 100",
        "38 %",
        "M-52-004",
    ):
        assert part in en, (part, en)
    fi = why_this_rank(row, lang="fi", theme_names=names["fi"], ray_names=rays["fi"])
    for part in (
        "Sija 2",
        "Odotusaika",
        "12/100",
        "4/5 toimistossa",
        "kasvaa",
        "vaivattomuus",
        "58/100",
        "38 %",
        "M-52-004",
    ):
        assert part in fi, (part, fi)
    for sentence in (ru, en, fi):
        assert sentence.endswith(".") and sentence.count(".") == 1  # one sentence

    # only what matters: no signal, a severity near 1, no driver data, no measure
    quiet = _ranked_row(
        signal=None,
        ray_score=76.0,
        component_severity=0.96,
        driver_importance=None,
        component_driver=1.0,
        covered_by=None,
        component_coverage=1.0,
        negative_share=4.5,
        level="office",
        unit_code="52-01",
        offices_total=1,
        reach_offices=1,
    )
    s = why_this_rank(quiet, lang="ru", theme_names=names["ru"], ray_names=rays["ru"])
    assert "4,5 из 100" in s and "офис" not in s and "растёт" not in s and "луч" not in s and "мера" not in s
    assert "4.5 in 100" in why_this_rank(quiet, lang="en", theme_names=names["en"])
    # a high ray score and a weak driver are said too (they lower the rank)
    low = why_this_rank(
        _ranked_row(
            ray_score=92.0, component_severity=0.5, driver_importance=0.05, component_driver=0.625, recurring=True
        ),
        lang="ru",
        ray_names=rays["ru"],
    )
    assert "высоко (92 из 100)" in low and "слабо влияет" in low and "5 %" in low and "вернулась" in low


def test_artifact_rows_and_pareto(config):
    rows = _frame(
        _base_quarter().to_dict("records"),
        _texts("66-01", "66", "benefit_payment", True, 7),
        _texts("66-01", "66", n=3),
    )
    measures = pd.DataFrame([{"code": "M-1", "region_code": "52", "theme": "waiting_time", "offices": ""}])
    out = prioritise_pain_points(rows, config, open_measures=measures)
    art = pain_points_artifact_rows(out, config, top=1, lang="en")
    assert [a["region"] for a in art] == ["Country", "52 Нижегородская область", "66 Свердловская область"]
    # region 52: employers' candidate_quality 6 of 10 -> W(6, 10) x (0.5 + 0.5 x 1/5) = 18.76 beats the
    # citizens' waiting_time W(15, 34) x 0.7 x 0.5 (covered by M-1) = 10.1
    first = art[1]
    assert first["theme"] == "Candidate quality" and first["client_type"] == "employers"
    assert first["stage"] == "candidate selection" and first["priority"] == pytest.approx(W(6, 10) * 0.6, abs=0.01)
    assert first["reach"] == pytest.approx(W(6, 10) * 0.6, abs=0.01)
    assert first["negative_share"] == 60.0 and first["covered_by"] is None and first["coverage"] == 1.0
    assert {"reach", "severity", "trend", "driver", "coverage", "signal", "why"} <= set(first)
    assert first["why"].startswith("Rank 1") and "60 in 100 employers" in first["why"]
    full = pain_points_artifact_rows(out, config, top=10)  # Russian by default
    json.dumps(full, ensure_ascii=False)  # plain values: a Prefect table artifact takes them as they are
    assert len(full) == 3 + 2 + 1  # country: three themes, region 52: two, region 66: one
    wt = next(a for a in full if a["region"].startswith("52") and a["theme"] == "Очереди и долгое ожидание")
    assert (wt["rank"], wt["coverage"], wt["covered_by"]) == (2, 0.5, "M-1")
    assert wt["priority"] == pytest.approx(W(15, 34) * 0.7 * 0.5, abs=0.01) and wt["negative_share"] == round(
        100 * 15 / 34, 1
    )
    assert wt["why"].startswith("Место 2") and "мера M-1 уже работает" in wt["why"]

    table = pareto(out, "region", "52")
    assert list(table["negative_mentions"]) == [15, 6]
    assert list(table["cum_share"]) == pytest.approx([100 * 15 / 21, 100.0])
    assert list(table["vital_few"]) == [True, True]  # 71 % < 80 %: the second bar is needed to reach it


# --------------------------------------------------------------------------- the stage on a database


def _store_feedback(session, rows):
    from sqlalchemy import insert

    from models.tables import Feedback

    records = []
    for i, r in enumerate(rows):
        records.append(
            {
                "dedup_key": f"k{i}",
                "channel": "review_book",
                "source_file": "f.xlsx",
                "source_row": i + 2,
                "received_at": date(2026, 8, 1),
                "quarter": r["quarter"],
                "office_code": r["office_code"],
                "region_code": r["region_code"],
                "client_type": r["client_type"],
                "journey_stage": r["journey_stage"],
                "rating": r["rating"],
                "scale": r["scale"],
                "text": r["text"],
                "themes": r["themes"] or "",
                "negative_themes": r["negative_themes"] or "",
                "flags": "",
            }
        )
    session.execute(insert(Feedback.__table__), records)


def _store_survey(session, n=80, seed=5):
    """Star-survey respondents of region 52 (citizens, office 52-01) whose overall answer follows the effort items."""
    import numpy as np
    from sqlalchemy import insert

    from cxloop.domain import ITEMS
    from models.tables import Feedback, SurveyAnswer

    rng = np.random.default_rng(seed)
    answers = np.clip(np.rint(3.5 + rng.normal(0, 1, (n, len(ITEMS)))), 1, 5).astype(int)
    effort = answers[:, [ITEMS.index(i) for i in ("E1", "E2", "E3", "E4")]].mean(axis=1)
    overall = np.clip(np.rint(1 + 2 * (effort - 1) + rng.normal(0, 0.7, n)), 1, 10).astype(int)
    base = 900_000
    session.execute(
        insert(Feedback.__table__),
        [
            {
                "id": base + i,
                "dedup_key": f"s{i}",
                "channel": "star_survey",
                "source_file": "s.csv",
                "source_row": i + 2,
                "received_at": date(2026, 8, 1),
                "quarter": Q,
                "office_code": "52-01",
                "region_code": "52",
                "client_type": "citizen",
                "themes": "",
                "negative_themes": "",
                "flags": "",
            }
            for i in range(n)
        ],
    )
    session.execute(
        insert(SurveyAnswer.__table__),
        [
            {
                "feedback_id": base + i,
                **{item: int(answers[i, j]) for j, item in enumerate(ITEMS)},
                "overall": int(overall[i]),
            }
            for i in range(n)
        ],
    )


def _add_measure(session, code, status_path, theme="waiting_time", offices="52-01"):
    from models.tables import Measure, MeasureHistory

    m = Measure(
        code=code,
        title="t",
        theme=theme,
        type="process_optimisation",
        region_code="52",
        offices=offices,
        owner="wg",
        status=status_path[-1][0],
        proposed_quarter="2026Q1",
        kpi_metric="ray:effort",
    )
    session.add(m)
    session.flush()
    prev = None
    for status, at in status_path:
        session.add(MeasureHistory(measure_id=m.id, at=at, who="x", field="status", from_value=prev, to_value=status))
        prev = status


def test_stage_writes_all_levels_and_a_rerun_replaces_them(env, registry, config):
    from sqlmodel import select

    from models import answers as answers_store
    from models import store
    from models.db import session_scope
    from models.tables import PainPoint
    from tasks.insight.step import detect_pain_points
    from tasks.measures.step import propose_measures

    current, history = _history_case()
    history = history[history["quarter"] != "2025Q2"]  # within the 6 quarters of the shipped config: keep it out
    rows = pd.concat([history, current, _base_quarter()], ignore_index=True)
    at = lambda d: datetime(*d, 6, 0, tzinfo=UTC)  # noqa: E731
    with session_scope() as session:
        _store_feedback(session, rows.astype(object).where(rows.notna(), None).to_dict("records"))
        _store_survey(session)
        # working at the cycle time: approved -> in_progress before it
        _add_measure(
            session,
            "M-52-004",
            [("proposed", at((2026, 1, 5))), ("approved", at((2026, 2, 1))), ("in_progress", at((2026, 3, 1)))],
        )
        # merely proposed: not working yet
        _add_measure(session, "M-52-005", [("proposed", at((2026, 6, 1)))], offices="52-02")
        # approved only after the cycle time: not counted on a rerun either
        _add_measure(
            session, "M-52-006", [("proposed", at((2026, 6, 1))), ("approved", at((2026, 10, 20)))], offices="52-02"
        )
        # evaluated before the cycle: the theme is recurring in region 52
        _add_measure(
            session,
            "M-52-001",
            [
                ("proposed", at((2025, 1, 5))),
                ("approved", at((2025, 2, 1))),
                ("in_progress", at((2025, 3, 1))),
                ("implemented", at((2025, 6, 1))),
                ("evaluated", at((2025, 10, 5))),
            ],
            theme="candidate_quality",
        )

    with session_scope() as session:
        working = store.open_measures(session, Quarter.parse(Q).cycle_time)
    assert list(working["code"]) == ["M-52-004"] and working["status"].tolist() == ["in_progress"]

    first = detect_pain_points(Q, config)
    assert set(first["level"]) == {"office", "region", "country"}
    with session_scope() as session:
        stored = store.load_pain_points(session, Q)
        n_rows = len(session.exec(select(PainPoint).where(PainPoint.quarter == Q)).all())
    assert n_rows == len(first) == len(stored)
    assert list(stored["level"].drop_duplicates()) == ["country", "region", "office"]
    office = stored[
        (stored["level"] == "office") & (stored["unit_code"] == "52-01") & (stored["theme"] == "waiting_time")
    ].iloc[0]
    # 52-01 citizens this quarter: the history case (30 of 100) plus the base quarter (10 of 24)
    assert (office["negative_mentions"], office["texts_total"]) == (40, 124)
    assert office["covered_by"] == "M-52-004" and office["component_coverage"] == 0.5
    assert office["signal"] == "rise" and office["p_bar"] == pytest.approx(100 * 44 / 400)
    assert office["priority"] == pytest.approx(math.prod(office[c] for c in COMPONENTS), rel=1e-5)
    o2 = stored[
        (stored["level"] == "office") & (stored["unit_code"] == "52-02") & (stored["theme"] == "waiting_time")
    ].iloc[0]
    assert o2["covered_by"] is None and o2["signal"] is None  # no history in 52-02
    employer = stored[(stored["level"] == "region") & (stored["theme"] == "candidate_quality")].iloc[0]
    assert bool(employer["recurring"]) and employer["client_type"] == "employer"
    # key drivers from the quarter's survey answers: region 52's citizen fit, offices use it too
    from tasks.insight.drivers import drivers_for_quarter

    with session_scope() as session:
        drivers = drivers_for_quarter(answers_store.load_answers(session, Q))
    effort = drivers[
        (drivers["region_code"] == "52") & (drivers["client_type"] == "citizen") & (drivers["ray"] == "effort")
    ]
    assert len(effort) == 1 and effort["importance"].iloc[0] > 0.5  # overall follows the effort items
    region = stored[(stored["level"] == "region") & (stored["theme"] == "waiting_time")].iloc[0]
    # counted by the database: 30 + 15 complaints in 100 + 34 texts (the 5 ratings without a text and the
    # 80 survey rows are not texts); ratings of the 12 rated mentions: 10 x 0 and 2 x 100
    assert (region["negative_mentions"], region["texts_total"]) == (45, 134)
    assert region["mean_rating"] == pytest.approx(200 / 12) and region["reach_offices"] == 2
    assert region["driver_importance"] == pytest.approx(effort["importance"].iloc[0], abs=1e-6)
    assert office["driver_importance"] == pytest.approx(effort["importance"].iloc[0], abs=1e-6)
    assert region["component_driver"] == 2.0  # clip(1 + 2.5 x (importance - 0.2)) at 2
    assert "влияет на общую удовлетворённость" in why_this_rank(region.to_dict(), lang="ru")

    second = detect_pain_points(Q, config)
    with session_scope() as session:
        again = store.load_pain_points(session, Q)
    assert len(again) == n_rows  # replaced, not added
    pd.testing.assert_frame_equal(stored.drop(columns="id"), again.drop(columns="id"))
    pd.testing.assert_frame_equal(first, second)
    # proposals come from the region rows only: waiting_time already has M-52-004 at work in
    # region 52, candidate_quality's earlier measure was evaluated (not open), no office or country row
    assert propose_measures(Q, config) == [f"M-{Q}-52-candidate_quality"]


def test_text_groups_and_open_measures_on_both_databases(any_db_url, config):
    """The loaders' SQL (grouping in the database, statuses judged on the history) on SQLite and PostgreSQL."""
    from models import store
    from models.db import session_scope
    from tasks.insight.mentions import text_groups

    rows = _frame(
        _texts("52-01", "52", "staff_attitude,waiting_time", True, 3, rating=2, scale=5),  # 25 on 0-100
        _texts("52-01", "52", "waiting_time", False, 2, rating=10, scale=10),  # 100
        _texts("52-01", "52", n=4),
        _texts(None, "52", "waiting_time", True, 1, stage="benefits"),
        [{**_texts("52-01", "52", "waiting_time")[0], "text": ""}],  # an empty text is no text
        _texts("52-02", "52", "waiting_time", True, 2, quarter="2026Q2"),
        _texts("52-02", "52", "waiting_time", False, 5, quarter="2026Q2", rating=1, scale=5),
        _texts("52-02", "52", "waiting_time", True, 9, quarter="2025Q1"),  # not asked for
    )
    rows.loc[rows.index[:3], "negative_themes"] = "waiting_time"  # staff_attitude mentioned, not negatively
    at = lambda d: datetime(*d, 6, 0, tzinfo=UTC)  # noqa: E731
    with session_scope(any_db_url) as session:
        _store_feedback(session, rows.astype(object).where(rows.notna(), None).to_dict("records"))
        _add_measure(session, "M-A", [("proposed", at((2026, 1, 5))), ("approved", at((2026, 2, 1)))])
        _add_measure(
            session,
            "M-B",
            [("proposed", at((2026, 1, 5))), ("approved", at((2026, 2, 1))), ("cancelled", at((2026, 3, 1)))],
        )
        _add_measure(session, "M-C", [("proposed", at((2026, 1, 5))), ("approved", at((2026, 11, 1)))])
    with session_scope(any_db_url) as session:
        groups = store.load_text_groups(session, Q, ["2026Q2"])
        working = store.open_measures(session, Quarter.parse(Q).cycle_time)
    assert list(working["code"]) == ["M-A"] and list(working["status"]) == ["approved"]

    g = groups.set_index(["quarter", "office_code", "themes", "negative_themes"]).sort_index()
    assert g["texts"].sum() == 3 + 2 + 4 + 1 + 2 + 5  # 2025Q1 and the empty text left out
    both = g.loc[(Q, "52-01", "staff_attitude,waiting_time", "waiting_time")]
    assert (both["texts"], both["rated"], both["rating_sum"]) == (3, 3, pytest.approx(75.0))
    assert g.loc[(Q, "", "waiting_time", "waiting_time"), "journey_stage"] == "benefits"  # no office: ""
    # history rows carry only their negative themes and no ratings
    assert g.loc[("2026Q2", "52-02", "", ""), "texts"] == 5
    assert g.loc[("2026Q2", "52-02", "waiting_time", "waiting_time"), "rated"] == 0

    # the database's groups give what the raw rows give
    cfg = config.model_copy(deep=True)
    cfg.thresholds.pain_points.min_mentions = 1
    raw = rows[rows["quarter"] == Q]
    assert text_groups(raw)["texts"].sum() == 10
    from_db = prioritise_pain_points(groups[groups["quarter"] == Q], cfg)
    from_raw = prioritise_pain_points(raw, cfg)
    region = from_db[(from_db["level"] == "region") & (from_db["theme"] == "waiting_time")].set_index("journey_stage")
    first = region.loc["first_contact"]  # the theme's default stage; the text naming "benefits" is its own key
    assert (first["negative_mentions"], first["mentions"], first["texts_total"]) == (3, 5, 10)
    assert first["mean_rating"] == pytest.approx((3 * 25 + 2 * 100) / 5)
    assert region.loc["benefits", "negative_mentions"] == 1 and region.loc["benefits", "reach_offices"] == 0
    pd.testing.assert_frame_equal(from_db, from_raw)


def test_answers_read_once_inside_the_block(env, registry, config):
    """Inside read_answers_once the star index and the pain points read the quarter's answers
    with one query and write what they write without it; each caller gets its own copy."""
    from sqlalchemy import event

    from models import answers as answers_store
    from models.db import get_engine, one_transaction, session_scope
    from tasks.insight.step import detect_pain_points, measure_star

    with session_scope() as session:
        _store_survey(session)
    queries: list[str] = []

    # Counted by SQLite itself (a trace callback on every connection of the engine): the
    # answers are read through the driver's own cursor, past SQLAlchemy's events.
    def count(statement: str) -> None:
        if "survey_answer" in statement and "SELECT" in statement.upper():
            queries.append(statement)

    def trace(dbapi_conn, _record):
        dbapi_conn.set_trace_callback(count)

    engine = get_engine()
    engine.dispose()
    event.listen(engine, "connect", trace)
    try:
        index_plain, pains_plain = measure_star(Q, config), detect_pain_points(Q, config)
        plain = len(queries)
        queries.clear()
        with one_transaction(), answers_store.read_answers_once():
            index_once, pains_once = measure_star(Q, config), detect_pain_points(Q, config)
            with session_scope() as session:
                first = answers_store.load_answers(session, Q)
                first["F1"] = 0.0  # a caller's change stays its own
                assert (answers_store.load_answers(session, Q)["F1"] > 0).all()
        once = len(queries)
    finally:
        event.remove(engine, "connect", trace)
        engine.dispose()
    assert plain == 2 and once == 1
    pd.testing.assert_frame_equal(index_once, index_plain)
    pd.testing.assert_frame_equal(pains_once, pains_plain)


def test_answers_read_ahead_give_the_same_index_and_pain_points_and_no_query_here(env, registry, config):
    """With the quarter's answers read ahead in a process of their own (as the national cycle
    does), the star index and the pain points are the same rows as without it, and neither
    the answers nor what the two stages derive from them (index, key drivers) are read or
    made in this process."""
    from sqlalchemy import event

    from flows.background import BackgroundCall
    from models import answers as answers_store
    from models.db import get_engine, one_transaction, session_scope
    from tasks.insight import step

    with session_scope() as session:
        _store_survey(session)
    index_plain, pains_plain = step.measure_star(Q, config), step.detect_pain_points(Q, config)
    queries: list[str] = []

    def trace(dbapi_conn, _record):
        dbapi_conn.set_trace_callback(lambda sql: queries.append(sql) if "survey_answer" in sql else None)

    made_here: list[str] = []
    ahead = BackgroundCall(answers_store.read_quarter_answers, Q, step.answers_derivations(config))
    engine = get_engine()
    engine.dispose()
    event.listen(engine, "connect", trace)
    real_index, real_drivers = step.quarter_index, step.drivers_for_quarter
    try:
        step.quarter_index = lambda *a, **k: made_here.append("index") or real_index(*a, **k)
        step.drivers_for_quarter = lambda *a, **k: made_here.append("drivers") or real_drivers(*a, **k)
        with one_transaction(), answers_store.read_answers_once(ahead):
            index_ahead, pains_ahead = step.measure_star(Q, config), step.detect_pain_points(Q, config)
    finally:
        step.quarter_index, step.drivers_for_quarter = real_index, real_drivers
        event.remove(engine, "connect", trace)
        engine.dispose()
    assert queries == [] and made_here == []
    pd.testing.assert_frame_equal(index_ahead, index_plain)
    pd.testing.assert_frame_equal(pains_ahead, pains_plain)
