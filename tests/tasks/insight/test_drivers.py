"""Key-driver analysis (tasks/drivers.py) and the importance-versus-performance chart.

The oracle is statsmodels: every R² is checked against an OLS fit on the
respondents, and the Shapley values against a brute-force average over all 5!
entry orders computed here from those fits, independently of the module's
covariance shortcut and subset weights.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxloop.domain import RAY_ITEMS, RAYS
from tasks.insight.drivers import (
    RESULT_COLUMNS,
    drivers_for_quarter,
    key_drivers,
    quadrant,
    relative_weights,
    subset_r2,
)
from tasks.insight.index import respondent_rays, star_index
from tasks.reports import charts


def make_answers(
    rng: np.random.Generator,
    n: int,
    *,
    coef: dict[str, float] | None = None,
    common_sd: float = 0.0,
    noise_sd: float = 1.0,
    continuous_outcome: bool = False,
    client_type: str = "citizen",
    **extra: object,
) -> pd.DataFrame:
    """n respondents; each ray has a latent level (independent across rays unless
    ``common_sd`` > 0), its four items are noisy 1-5 readings of it, and the
    outcome is a linear function of the latent levels plus noise."""
    coef = coef or {"effort": 1.0}
    common = rng.normal(0.0, common_sd, n) if common_sd else np.zeros(n)
    cols: dict[str, object] = {"client_type": client_type, **extra}
    latent = {}
    for ray, items in RAY_ITEMS.items():
        latent[ray] = 3.0 + common + rng.normal(0.0, 0.9, n)
        for item in items:
            cols[item] = np.clip(np.rint(latent[ray] + rng.normal(0.0, 0.6, n)), 1, 5)
    y = 6.0 + sum(c * (latent[r] - 3.0) for r, c in coef.items()) + rng.normal(0.0, noise_sd, n)
    cols["overall"] = y if continuous_outcome else np.clip(np.rint(y), 1, 10)
    return pd.DataFrame(cols)


def ols_r2(y: np.ndarray, x: pd.DataFrame, subset: tuple[str, ...]) -> float:
    if not subset:
        return 0.0
    return float(sm.OLS(y, sm.add_constant(x[list(subset)].to_numpy())).fit().rsquared)


def group_rows(result: pd.DataFrame, **keys: object) -> pd.DataFrame:
    mask = np.ones(len(result), dtype=bool)
    for col, val in keys.items():
        mask &= (result[col] == val).to_numpy()
    return result[mask].set_index("ray").loc[list(RAYS)]


# ---------------------------------------------------------------------------
# Oracle: statsmodels and brute-force Shapley
# ---------------------------------------------------------------------------


def test_shapley_values_match_statsmodels_and_brute_force_permutations():
    rng = np.random.default_rng(11)
    answers = make_answers(rng, 400, coef={"effort": 1.2, "usefulness": 0.6, "comfort": 0.2}, common_sd=0.5)
    # Some items blank and some outcomes not answered, as in real exports.
    answers.loc[rng.random(400) < 0.1, "E4"] = np.nan
    answers.loc[rng.random(400) < 0.15, "overall"] = np.nan
    result = key_drivers(answers, min_n=30)
    rows = group_rows(result, client_type="citizen")

    rays = respondent_rays(answers)
    use = answers["overall"].notna() & rays.notna().all(axis=1)
    x, y = rays[use], answers.loc[use, "overall"].to_numpy()
    assert (rows["n"] == use.sum()).all()

    cache: dict[frozenset, float] = {}

    def r2(subset: tuple[str, ...]) -> float:
        key = frozenset(subset)
        if key not in cache:
            cache[key] = ols_r2(y, x, tuple(sorted(subset)))
        return cache[key]

    full = r2(RAYS)
    assert rows["r2"].to_numpy() == pytest.approx(np.full(5, full), abs=1e-10)
    assert rows["shapley_r2"].sum() == pytest.approx(full, abs=1e-10)
    assert rows["importance"].sum() == pytest.approx(1.0, abs=1e-12)

    brute = dict.fromkeys(RAYS, 0.0)
    orders = list(itertools.permutations(RAYS))
    assert len(orders) == 120
    for order in orders:
        for k, ray in enumerate(order):
            brute[ray] += (r2(order[: k + 1]) - r2(order[:k])) / len(orders)
    for ray in RAYS:
        assert rows.loc[ray, "shapley_r2"] == pytest.approx(brute[ray], abs=1e-10), ray
        assert rows.loc[ray, "importance"] == pytest.approx(brute[ray] / full, abs=1e-9), ray

    # Johnson's relative weights: a different decomposition of the same R².
    assert rows["relative_weight"].sum() == pytest.approx(full, abs=1e-10)
    assert np.abs(rows["relative_weight"] - rows["shapley_r2"]).max() < 0.05


def test_subset_r2_equals_statsmodels_for_single_subsets():
    rng = np.random.default_rng(5)
    answers = make_answers(rng, 250, coef={"personalisation": 1.0, "friendliness": 0.5}, common_sd=0.7)
    rays = respondent_rays(answers)
    y = answers["overall"].to_numpy()
    corr = np.corrcoef(np.column_stack([rays.to_numpy(), y]), rowvar=False)[None]
    got = subset_r2(corr)
    for subset in [("effort",), ("friendliness", "comfort"), ("usefulness", "effort", "personalisation"), tuple(RAYS)]:
        mask = sum(1 << RAYS.index(r) for r in subset)
        assert got[mask][0] == pytest.approx(ols_r2(y, rays, subset), abs=1e-12), subset


def test_relative_weights_of_uncorrelated_predictors_are_squared_correlations():
    # With orthogonal predictors both decompositions reduce to r_jy², exactly.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 5))
    x, _ = np.linalg.qr(x - x.mean(axis=0))  # exactly orthogonal, centred columns
    y = x @ np.array([3.0, 1.0, 0.0, 0.5, 0.2]) + 0.05 * rng.normal(size=500)
    corr = np.corrcoef(np.column_stack([x, y]), rowvar=False)[None]
    np.testing.assert_allclose(corr[0, :5, :5], np.eye(5), atol=1e-12)
    np.testing.assert_allclose(relative_weights(corr)[0], corr[0, :5, 5] ** 2, atol=1e-12)


# ---------------------------------------------------------------------------
# Known structure
# ---------------------------------------------------------------------------


def test_effort_dominates_when_it_drives_the_outcome():
    rng = np.random.default_rng(3)
    answers = make_answers(rng, 2000, coef={"effort": 3.0, "personalisation": 1.0}, continuous_outcome=True)
    rows = group_rows(key_drivers(answers), client_type="citizen")
    assert rows["importance"].idxmax() == "effort"
    # Equal latent variances: explained variance splits about 9 : 1 (the ray scores
    # carry item noise, so not exactly).
    assert rows.loc["effort", "importance"] > 0.75
    assert 0.04 < rows.loc["personalisation", "importance"] < 0.2
    for ray in ("friendliness", "usefulness", "comfort"):
        assert rows.loc[ray, "importance"] < 0.02, ray
    assert (rows["shapley_r2"] >= 0).all()


def test_correlated_rays_still_decompose_the_full_r2():
    rng = np.random.default_rng(4)
    answers = make_answers(rng, 1500, coef={"effort": 3.0, "personalisation": 1.0}, common_sd=1.0)
    rays = respondent_rays(answers)
    assert rays.corr().loc["effort", "comfort"] > 0.4  # the rays really are correlated
    rows = group_rows(key_drivers(answers), client_type="citizen")
    full = ols_r2(answers["overall"].to_numpy(), rays, tuple(RAYS))
    assert rows["shapley_r2"].sum() == pytest.approx(full, abs=1e-10)
    assert rows["importance"].idxmax() == "effort"
    # Correlation spreads credit: comfort gets a share although it has no effect.
    assert rows.loc["comfort", "importance"] > 0.02


# ---------------------------------------------------------------------------
# Rules: quadrants, groups, missing data
# ---------------------------------------------------------------------------


def test_quadrant_rule_on_a_hand_made_example():
    importance = [0.5, 0.3, 0.1, 0.05, 0.05]
    performance = [60.0, 90.0, 50.0, 95.0, 80.0]  # mean 75
    got = [quadrant(i, p, 0.2, 75.0) for i, p in zip(importance, performance, strict=True)]
    assert got == ["fix_first", "keep_up", "low_priority", "possible_overkill", "possible_overkill"]
    assert quadrant(0.2, 75.0, 0.2, 75.0) == "keep_up"  # at the centre counts as high


def test_quadrants_in_the_result_follow_group_means():
    rng = np.random.default_rng(6)
    parts = [make_answers(rng, 300, coef={"effort": 2.0, "comfort": 1.0}, office_code=f"O{i}") for i in range(3)]
    answers = pd.concat(parts, ignore_index=True)
    # Effort badly rated in O1: shift its answers down (effort is the top driver -> fix first).
    o1 = answers["office_code"] == "O1"
    answers.loc[o1, list(RAY_ITEMS["effort"])] = (answers.loc[o1, list(RAY_ITEMS["effort"])] - 2).clip(lower=1)
    result = key_drivers(answers, by=("office_code",))
    assert group_rows(result, office_code="O1", client_type="citizen").loc["effort", "quadrant"] == "fix_first"
    for _, grp in result.groupby(["office_code", "client_type"]):
        centre = grp["performance"].mean()
        expected = [
            ("keep_up" if p >= centre else "fix_first")
            if i >= 0.2
            else ("possible_overkill" if p >= centre else "low_priority")
            for i, p in zip(grp["importance"], grp["performance"], strict=True)
        ]
        assert grp["quadrant"].tolist() == expected


def test_small_groups_are_dropped_and_pooled_group_can_survive():
    rng = np.random.default_rng(7)
    answers = pd.concat(
        [
            make_answers(rng, 200, office_code="A"),
            make_answers(rng, 200, office_code="A", client_type="employer"),
            make_answers(rng, 25, office_code="B"),
            make_answers(rng, 25, office_code="B", client_type="employer"),
        ],
        ignore_index=True,
    )
    result = key_drivers(answers, by=("office_code",), min_n=30)
    cells = set(zip(result["office_code"], result["client_type"], strict=True))
    assert cells == {("A", "citizen"), ("A", "employer"), ("A", "all"), ("B", "all")}
    assert group_rows(result, office_code="B", client_type="all")["n"].iloc[0] == 50
    assert result.groupby(["office_code", "client_type"]).size().eq(5).all()
    lowered = key_drivers(answers, by=("office_code",), min_n=20)
    assert ("B", "citizen") in set(zip(lowered["office_code"], lowered["client_type"], strict=True))


def test_missing_outcome_and_missing_rays_are_left_out_of_the_regression_only():
    rng = np.random.default_rng(8)
    answers = make_answers(rng, 600, coef={"effort": 1.5, "personalisation": 1.0})
    answers.loc[rng.random(600) < 0.3, "overall"] = np.nan
    no_comfort = rng.random(600) < 0.05
    answers.loc[no_comfort, list(RAY_ITEMS["comfort"])] = np.nan
    full = group_rows(key_drivers(answers), client_type="citizen")
    used = answers["overall"].notna() & ~no_comfort
    assert (full["n"] == used.sum()).all()
    # The decomposition only sees the regression sample ...
    subset = group_rows(key_drivers(answers[used]), client_type="citizen")
    np.testing.assert_allclose(full["shapley_r2"], subset["shapley_r2"], atol=1e-12)
    # ... while performance is the star's ray value over every respondent.
    star = star_index(answers).set_index("client_type").loc["citizen"]
    np.testing.assert_allclose(full["performance"], star[list(RAYS)].astype(float), atol=1e-9)
    assert not np.allclose(full["performance"], subset["performance"])


def test_by_groups_each_get_their_own_drivers_in_a_fixed_order():
    rng = np.random.default_rng(9)
    answers = pd.concat(
        [
            make_answers(rng, 500, coef={"comfort": 2.0}, region_code="66", continuous_outcome=True),
            make_answers(rng, 500, coef={"effort": 2.0}, region_code="52", continuous_outcome=True),
            make_answers(
                rng, 500, coef={"usefulness": 2.0}, region_code="52", client_type="employer", continuous_outcome=True
            ),
        ],
        ignore_index=True,
    )
    result = key_drivers(answers, by=["region_code"])
    assert list(result.columns) == ["region_code", *RESULT_COLUMNS]
    keys = list(dict.fromkeys(zip(result["region_code"], result["client_type"], strict=True)))
    assert keys == [("52", "citizen"), ("52", "employer"), ("52", "all"), ("66", "citizen"), ("66", "all")]
    assert result["ray"].tolist() == list(RAYS) * 5
    top = result.loc[result.groupby(["region_code", "client_type"])["importance"].idxmax()]
    top_ray = dict(zip(zip(top["region_code"], top["client_type"], strict=True), top["ray"], strict=True))
    assert top_ray[("52", "citizen")] == "effort"
    assert top_ray[("52", "employer")] == "usefulness"
    assert top_ray[("52", "all")] in {"effort", "usefulness"}  # pooled: one of the two types' drivers
    assert top_ray[("66", "citizen")] == top_ray[("66", "all")] == "comfort"
    # Shuffled input, same output.
    again = key_drivers(answers.sample(frac=1.0, random_state=1), by=["region_code"])
    pd.testing.assert_frame_equal(result, again, check_exact=False, atol=1e-12)


def test_degenerate_groups_return_no_rows_instead_of_failing():
    rng = np.random.default_rng(10)
    constant = make_answers(rng, 100, region_code="constant").assign(overall=7.0)
    few_values = make_answers(rng, 100, region_code="few").assign(overall=lambda d: np.where(d["E1"] > 3, 9.0, 3.0))
    collinear = make_answers(rng, 100, region_code="collinear")
    for src, dst in zip(RAY_ITEMS["effort"], RAY_ITEMS["comfort"], strict=True):
        collinear[dst] = collinear[src]  # comfort == effort for every respondent
    flat_ray = make_answers(rng, 100, region_code="flat").assign(C1=5.0, C2=5.0, C3=5.0, C4=5.0)
    good = make_answers(rng, 100, region_code="good")
    answers = pd.concat([constant, few_values, collinear, flat_ray, good], ignore_index=True)
    result = key_drivers(answers, by=("region_code",))
    assert set(result["region_code"]) == {"good"}
    assert key_drivers(answers.assign(overall=np.nan), by=("region_code",)).empty
    assert list(key_drivers(answers.iloc[:0], by=("region_code",)).columns) == ["region_code", *RESULT_COLUMNS]


def test_nullable_integer_outcome_and_nan_group_keys():
    rng = np.random.default_rng(12)
    answers = make_answers(rng, 300, office_code=None)
    answers["overall"] = answers["overall"].astype("Int64")
    answers.loc[:20, "overall"] = pd.NA
    result = key_drivers(answers, by=("office_code",))
    assert len(result) == 10 and result["office_code"].isna().all()
    assert (result["n"] == 279).all()


def test_drivers_for_quarter_adds_country_rows():
    rng = np.random.default_rng(13)
    answers = pd.concat(
        [make_answers(rng, 200, region_code=r, coef={"effort": 2.0}) for r in ("52", "66")], ignore_index=True
    )
    result = drivers_for_quarter(answers)
    assert list(result.columns) == ["region_code", *RESULT_COLUMNS]
    assert list(dict.fromkeys(result["region_code"])) == ["52", "66", "ALL"]
    country = result[result["region_code"] == "ALL"]
    assert set(country["client_type"]) == {"citizen", "all"}
    assert (country["n"] == 400).all()
    empty = drivers_for_quarter(answers.drop(columns=["overall"]))
    assert empty.empty and list(empty.columns) == ["region_code", *RESULT_COLUMNS]
    with pytest.raises(KeyError):
        key_drivers(answers.drop(columns=["overall"]))


# ---------------------------------------------------------------------------
# The chart
# ---------------------------------------------------------------------------

RAY_LABELS = {
    "friendliness": "дружелюбие и партнёрство",
    "usefulness": "полезность",
    "effort": "минимизация усилий",
    "personalisation": "адресность",
    "comfort": "внешний комфорт и удобство",
}
CAPTIONS = {
    "fix_first": "исправлять в первую очередь",
    "keep_up": "поддерживать уровень",
    "low_priority": "низкий приоритет",
    "possible_overkill": "возможно, избыточно",
}


def _svg_text(svg: str) -> str:
    root = ET.fromstring(svg)
    texts = [el.text or "" for el in root.iter("{http://www.w3.org/2000/svg}text")]
    return re.sub(r"\s+", " ", " ".join(texts))


def test_importance_performance_svg_is_valid_deterministic_and_labelled():
    frame = pd.DataFrame(
        {
            "ray": list(RAYS),
            "importance": [0.08, 0.12, 0.45, 0.3, 0.05],
            "performance": [91.0, 84.0, 72.0, 88.0, 93.0],
        }
    )
    labels = {**RAY_LABELS, **CAPTIONS}
    a = charts.importance_performance_svg(frame, labels=labels, lang="ru", title="Граждане")
    b = charts.importance_performance_svg(frame, labels=labels, lang="ru", title="Граждане")
    assert a == b and a.startswith("<svg")
    text = _svg_text(a)  # also proves the SVG is well-formed XML
    for label in [*RAY_LABELS.values(), *CAPTIONS.values(), "Граждане"]:
        assert label in text, label
    # Ids carry the chart prefix so several charts can share one HTML page.
    ids = re.findall(r'id="([^"]+)"', a)
    assert ids and all(i.startswith("ipa-") for i in ids)
    other = charts.importance_performance_svg(frame, labels=labels, lang="ru", chart_id="ipa-employer")
    assert all(i.startswith("ipa-employer-") for i in re.findall(r'id="([^"]+)"', other))


def test_importance_performance_svg_defaults_translations_and_guards():
    frame = pd.DataFrame({"ray": ["effort", "comfort"], "importance": [0.7, 0.3], "performance": [70.0, 90.0]})
    english = _svg_text(charts.importance_performance_svg(frame, labels={"effort": "Effort"}, lang="en"))
    for caption in ("fix first", "keep up", "low priority", "possible overkill", "Effort", "comfort"):
        assert caption in english
    finnish = _svg_text(charts.importance_performance_svg(frame, labels={}, lang="fi"))
    assert "korjaa ensin" in finnish
    with pytest.raises(ValueError):
        charts.importance_performance_svg(pd.concat([frame, frame]), labels={}, lang="en")
    empty = charts.importance_performance_svg(frame.iloc[:0], labels={}, lang="ru")
    ET.fromstring(empty)


def test_chart_of_real_key_driver_rows():
    rng = np.random.default_rng(14)
    answers = make_answers(rng, 400, coef={"effort": 2.0, "personalisation": 1.0}, common_sd=0.4)
    rows = key_drivers(answers)
    citizen = rows[rows["client_type"] == "citizen"]
    svg = charts.importance_performance_svg(citizen, labels=RAY_LABELS, lang="ru")
    text = _svg_text(svg)
    assert all(label in text for label in RAY_LABELS.values())
    # One marker per ray, coloured by its quadrant: the quadrant column and the picture agree.
    red = svg.count("fill: #b03a2e; stroke: #b03a2e")
    assert red == (citizen["quadrant"] == "fix_first").sum()
