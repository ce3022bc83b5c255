"""Satisfaction metrics (tasks/metrics.py) against hand-computed values and independent
implementations (scipy's t interval, statsmodels' Wilson interval), the survey's overall
questions through the real ingest path, and the demo's planted drivers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from cxloop.domain import ITEMS, RAYS, wilson_interval
from models.db import session_scope
from models.tables import Feedback, Quarantine, SurveyAnswer
from tasks.insight.metrics import (
    CSAT_COLUMNS,
    SURVEY_COLUMNS,
    csat,
    load_metric_inputs,
    nps_margin,
    quarter_metrics,
    scope_metrics,
    survey_metrics,
)
from tasks.validate.ingest import ingest_file

NAN = np.nan


def _answers(rows: list[tuple], by: dict[str, list] | None = None) -> pd.DataFrame:
    """rows: (client_type, overall, nps, ces) with NaN = not answered."""
    frame = pd.DataFrame(rows, columns=["client_type", "overall", "nps", "ces"])
    for col, values in (by or {}).items():
        frame[col] = values
    return frame


def _row(out: pd.DataFrame, client_type: str = "all", **keys) -> pd.Series:
    mask = out["client_type"] == client_type
    for k, v in keys.items():
        mask &= out[k] == v
    assert mask.sum() == 1
    return out[mask].iloc[0]


# ---------------------------------------------------------------- NPS


def test_nps_and_margin_of_error_by_the_domain_formula():
    # 10 answers: 5 promoters (9-10), 3 passives (7-8), 2 detractors (0-6); one blank.
    nps = [10, 9, 9, 10, 9, 8, 7, 7, 6, 0, NAN]
    out = survey_metrics(_answers([("citizen", NAN, v, NAN) for v in nps]))
    row = _row(out)
    assert row["n"] == 11 and row["n_nps"] == 10
    assert row["promoters"] == pytest.approx(50.0) and row["detractors"] == pytest.approx(20.0)
    assert row["nps"] == pytest.approx(30.0)
    # 1.96 * 100 * sqrt(((0.5 + 0.2) - (0.5 - 0.2)^2) / 10) = 196 * sqrt(0.061) = 48.4085...
    assert row["nps_moe"] == pytest.approx(196 * math.sqrt(0.061), rel=1e-4)
    assert row["nps_moe"] == pytest.approx(48.4085, abs=1e-3)


def test_nps_margin_matches_the_multinomial_standard_error():
    """The formula is the SE of (p - d) for one multinomial sample: check it by simulation-free algebra."""
    p, d, n = 0.42, 0.23, 250
    var = (p * (1 - p) + d * (1 - d) + 2 * p * d) / n  # var(p̂) + var(d̂) - 2 cov(p̂, d̂), cov = -pd/n
    assert nps_margin(p, d, n) == pytest.approx(1.959963984540054 * 100 * math.sqrt(var), rel=1e-12)


def test_only_detractors_and_only_promoters():
    out = survey_metrics(
        _answers([("citizen", NAN, v, NAN) for v in (0, 3, 6, 6)] + [("employer", NAN, v, NAN) for v in (9, 10)])
    )
    citizens, employers = _row(out, "citizen"), _row(out, "employer")
    assert citizens["nps"] == -100 and citizens["detractors"] == 100 and citizens["promoters"] == 0
    assert citizens["nps_moe"] == 0  # no spread in the sample: the formula gives 0
    assert employers["nps"] == 100 and employers["nps_moe"] == 0
    pooled = _row(out, "all")
    assert pooled["nps"] == pytest.approx(100 * (2 - 4) / 6)


# ---------------------------------------------------------------- ACSI-style and CES


def test_acsi_hand_computed_and_t_interval_against_scipy():
    overall = [8, 9, 7, 8, 10, 6, 9, 8]
    out = survey_metrics(_answers([("citizen", v, NAN, NAN) for v in overall] + [("employer", NAN, NAN, NAN)]))
    row = _row(out, "citizen")
    scores = (np.array(overall) - 1) / 9 * 100
    assert row["acsi"] == pytest.approx(scores.mean(), abs=1e-6)
    assert row["acsi"] == pytest.approx((65 / 8 - 1) / 9 * 100, abs=1e-6)  # mean answer 8.125
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=stats.sem(scores))
    assert (row["acsi_ci_low"], row["acsi_ci_high"]) == pytest.approx((low, high), abs=1e-6)
    assert row["n_acsi"] == 8 and not row["acsi_sufficient"]
    assert _row(out, "employer")["n"] == 1 and math.isnan(_row(out, "employer")["acsi"])


def test_acsi_interval_is_clipped_to_the_scale():
    out = survey_metrics(_answers([("citizen", v, NAN, NAN) for v in (10, 10, 10, 9)]))
    row = _row(out)
    assert row["acsi_ci_high"] == 100.0 and row["acsi_ci_low"] < row["acsi"] < 100.0


def test_ces_mean_interval_and_easy_share():
    ces = [7, 5, 4, 6, 2, NAN]
    out = survey_metrics(_answers([("employer", NAN, NAN, v) for v in ces]))
    row = _row(out, "employer")
    values = np.array([7, 5, 4, 6, 2], dtype=float)
    assert row["ces"] == pytest.approx(4.8) and row["n_ces"] == 5
    assert row["ces_easy_share"] == pytest.approx(60.0)  # 7, 5, 6
    low, high = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
    assert row["ces_ci_low"] == pytest.approx(max(1.0, low), abs=1e-6)
    assert row["ces_ci_high"] == pytest.approx(min(7.0, high), abs=1e-6)


def test_rows_per_group_and_client_type_and_sample_flags():
    rng = np.random.default_rng(3)
    rows, regions = [], []
    for region, n_cit, n_emp in (("52", 40, 10), ("66", 12, 35)):
        for client_type, n in (("citizen", n_cit), ("employer", n_emp)):
            for _ in range(n):
                rows.append(
                    (
                        client_type,
                        int(rng.integers(1, 11)),
                        int(rng.integers(0, 11)),
                        int(rng.integers(1, 8)) if rng.random() < 0.5 else NAN,
                    )
                )
                regions.append(region)
    answers = _answers(rows, {"region_code": regions})
    out = survey_metrics(answers, by=["region_code"])
    assert out[["region_code", "client_type"]].values.tolist() == [
        ["52", "citizen"],
        ["52", "employer"],
        ["52", "all"],
        ["66", "citizen"],
        ["66", "employer"],
        ["66", "all"],
    ]
    assert list(out.columns) == ["region_code", "client_type", *SURVEY_COLUMNS]
    r52 = _row(out, "all", region_code="52")
    assert r52["n"] == 50 and r52["sufficient_sample"] and r52["acsi_sufficient"] and r52["nps_sufficient"]
    assert r52["n_ces"] == answers[answers.region_code == "52"]["ces"].notna().sum()
    assert r52["ces_sufficient"] == (r52["n_ces"] >= 30)
    assert not _row(out, "citizen", region_code="66")["sufficient_sample"]
    # 'all' pools respondents: its ACSI is the respondent-weighted mean of the two types.
    cit, emp = _row(out, "citizen", region_code="52"), _row(out, "employer", region_code="52")
    pooled = (cit["acsi"] * cit["n_acsi"] + emp["acsi"] * emp["n_acsi"]) / (cit["n_acsi"] + emp["n_acsi"])
    assert r52["acsi"] == pytest.approx(pooled, abs=1e-5)
    # The same answers regrouped in another order give identical numbers.
    shuffled = answers.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(survey_metrics(shuffled, by=["region_code"]), out)


def test_no_answers_gives_nan_not_an_error():
    empty = _answers([])
    out = survey_metrics(empty)
    assert out["client_type"].tolist() == ["citizen", "employer", "all"]
    assert (out["n"] == 0).all() and out[["acsi", "nps", "nps_moe", "ces", "ces_easy_share"]].isna().all().all()
    assert not out["sufficient_sample"].any()
    assert survey_metrics(empty.assign(region_code=[]), by=["region_code"]).empty
    blank = survey_metrics(_answers([("citizen", NAN, NAN, NAN)] * 3))
    assert _row(blank, "citizen")["n"] == 3 and math.isnan(_row(blank, "citizen")["nps"])


@pytest.mark.parametrize("column,value", [("overall", 0), ("overall", 11), ("nps", -1), ("nps", 11), ("ces", 8)])
def test_answers_outside_their_scale_are_refused(column, value):
    row = {"client_type": "citizen", "overall": 5.0, "nps": 5.0, "ces": 4.0, column: value}
    with pytest.raises(ValueError, match=column):
        survey_metrics(pd.DataFrame([row]))


# ---------------------------------------------------------------- CSAT


def test_wilson_interval_against_statsmodels():
    for k, n in ((0, 10), (3, 10), (10, 10), (37, 52), (1, 1), (812, 1000)):
        ours = wilson_interval(k, n)
        theirs = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert ours == pytest.approx(theirs, abs=1e-12), (k, n)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_csat_per_channel_with_all_row():
    feedback = pd.DataFrame(
        {
            "channel": ["contact_center"] * 5
            + ["review_book"] * 3
            + ["social"] * 2
            + ["interview_followup", "pos", "contact_center"],
            "rating": [5, 4, 3, 1, 4.5, 2, 5, NAN, 10, 8, 4.33, NAN, NAN],
            "scale": [5, 5, 5, 5, 5, 5, 5, 5, 10, 10, 5, None, 5],
        }
    )
    out = csat(feedback).set_index("channel")
    assert list(out.index) == ["contact_center", "review_book", "social", "all"]
    assert list(out.columns) == CSAT_COLUMNS
    cc = out.loc["contact_center"]
    assert (cc["n"], cc["satisfied"]) == (5, 3) and cc["csat"] == pytest.approx(60.0)
    low, high = proportion_confint(3, 5, alpha=0.05, method="wilson")
    assert (cc["csat_ci_low"], cc["csat_ci_high"]) == pytest.approx((100 * low, 100 * high), abs=1e-6)
    assert (out.loc["review_book", "n"], out.loc["review_book", "satisfied"]) == (
        2,
        1,
    )  # the unrated row does not count
    assert (out.loc["social", "n"], out.loc["social", "satisfied"]) == (2, 1)  # 10 of 10 yes, 8 of 10 no
    pooled = out.loc["all"]  # the interview follow-up mean and the platform are not CSAT
    assert (pooled["n"], pooled["satisfied"]) == (9, 5) and pooled["csat"] == pytest.approx(500 / 9, abs=1e-6)


def test_csat_by_group_keeps_every_channel_and_refuses_bad_scales():
    feedback = pd.DataFrame(
        {
            "region_code": ["52", "52", "66"],
            "channel": ["contact_center", "review_book", "pos"],
            "rating": [5.0, 1.0, NAN],
            "scale": [5, 5, None],
        }
    )
    out = csat(feedback, by=["region_code"])
    r66 = out[out.region_code == "66"]
    assert r66["channel"].tolist() == ["contact_center", "review_book", "social", "all"]
    assert (r66["n"] == 0).all() and r66["csat"].isna().all()
    assert out[(out.region_code == "52") & (out.channel == "social")]["n"].item() == 0
    with pytest.raises(ValueError, match="scale"):
        csat(pd.DataFrame({"channel": ["contact_center"], "rating": [3.0], "scale": [7]}))
    with pytest.raises(ValueError, match="outside"):
        csat(pd.DataFrame({"channel": ["contact_center"], "rating": [6.0], "scale": [5]}))


# ---------------------------------------------------------------- through the real ingest path

HEADER_RU = [
    "Номер анкеты",
    "Дата анкеты",
    "Код ЦЗН",
    "Тип клиента",
    *ITEMS,
    "Общая удовлетворенность",
    "Готовность рекомендовать",
    "Легкость получения услуги",
    "Комментарий",
]


def _survey_csv(path, rows: list[list[str]], header: list[str]) -> None:
    text = "\n".join(";".join(r) for r in [header, *rows]) + "\n"
    path.write_bytes(text.encode("cp1251"))


def _stored(db_url) -> dict[str, tuple]:
    with session_scope(db_url) as s:
        rows = s.execute(
            select(
                Feedback.external_id, SurveyAnswer.F1, SurveyAnswer.overall, SurveyAnswer.nps, SurveyAnswer.ces
            ).join(SurveyAnswer, SurveyAnswer.feedback_id == Feedback.id)
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_ingest_stores_the_overall_questions_and_quarantines_out_of_range(tmp_path, db_url, registry, config):
    def row(rid, overall, nps, ces, office="52-01", ctype="гражданин"):
        return [rid, "05.02.2026", office, ctype, *(["4"] * 20), overall, nps, ces, ""]

    rows = [
        row("a1", "9", "10", "6"),
        row("a2", "", "не знаю", "7"),  # blanks and "no answer" are NULL
        row("a3", "1", "0", "1", ctype="работодатель"),  # the scale ends are valid
        row("b1", "11", "5", "5"),  # overall out of 1-10
        row("b2", "5", "11", "5"),  # nps out of 0-10
        row("b3", "5", "5", "0"),  # ces out of 1-7
        row("b4", "7,5", "5", "5"),  # not a whole number
        row("b5", "отлично", "5", "8"),  # text and ces out of range: both named
    ]
    path = tmp_path / "star_survey_52.csv"
    _survey_csv(path, rows, HEADER_RU)
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "star_survey", "2026Q1", config)
    assert (summary.received, summary.accepted, summary.quarantined, summary.duplicates) == (8, 3, 5, 0)
    assert _stored(db_url) == {"a1": (4, 9, 10, 6), "a2": (4, None, None, 7), "a3": (4, 1, 0, 1)}
    with session_scope(db_url) as s:
        q = {r.source_row: r for r in s.execute(select(Quarantine)).scalars()}
    # Rows are physical lines: the header is line 1, so b1 is line 5.
    assert {k: q[k].field for k in q} == {5: "overall", 6: "nps", 7: "ces", 8: "overall", 9: "overall; ces"}
    assert "(overall)" in q[5].reason and "«11»" in q[5].reason and "1–10" in q[5].reason
    assert "(nps)" in q[6].reason and "0–10" in q[6].reason
    assert "(ces)" in q[7].reason and "«0»" in q[7].reason and "1–7" in q[7].reason
    assert "«7,5»" in q[8].reason
    assert "«отлично»" in q[9].reason and "«8»" in q[9].reason


def test_ingest_without_the_overall_columns_still_works(tmp_path, db_url, registry, config):
    old_header = [h for h in HEADER_RU if h not in HEADER_RU[24:27]]
    rows = [
        ["c1", "05.02.2026", "52-01", "гражданин", *(["5"] * 20), "Спасибо"],
        ["c2", "06.02.2026", "52-02", "работодатель", *(["3"] * 20), ""],
    ]
    path = tmp_path / "star_survey_52_old.csv"
    _survey_csv(path, rows, old_header)
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "star_survey", "2026Q1", config)
    assert (summary.accepted, summary.quarantined) == (2, 0)
    assert _stored(db_url) == {"c1": (5, None, None, None), "c2": (3, None, None, None)}
    with session_scope(db_url) as s:
        answers, _ = load_metric_inputs(s, "2026Q1")
    assert answers[["overall", "nps", "ces"]].dtypes.tolist() == ["float64"] * 3
    assert answers[["overall", "nps", "ces"]].isna().all().all()


def test_quarter_metrics_from_the_database(tmp_path, db_url, registry, config):
    rng = np.random.default_rng(11)
    rows, expected = [], []
    for i in range(60):
        office = ("52-01", "52-02", "66-01")[i % 3]
        ctype = "работодатель" if i % 5 == 0 else "гражданин"
        overall, nps, ces = int(rng.integers(1, 11)), int(rng.integers(0, 11)), int(rng.integers(1, 8))
        cells = [str(overall), "" if i % 7 == 0 else str(nps), str(ces)]
        rows.append([f"q{i}", "10.02.2026", office, ctype, *(["4"] * 20), *cells, ""])
        expected.append(
            {
                "region_code": office[:2],
                "office_code": office,
                "client_type": "employer" if i % 5 == 0 else "citizen",
                "overall": overall,
                "nps": NAN if i % 7 == 0 else nps,
                "ces": ces,
            }
        )
    _survey_csv(tmp_path / "star_survey_x.csv", rows, HEADER_RU)
    calls = "call_id,call_date,office_code,client_type,rating,comment\n" + "".join(
        f"k{i},2026-02-{i % 27 + 1:02d},{('52-01', '66-01')[i % 2]},citizen,{(5, 4, 2, 5, 1, 3)[i % 6]},\n"
        for i in range(40)
    )
    (tmp_path / "contact_center_x.csv").write_text(calls, encoding="utf-8")
    with session_scope(db_url) as s:
        assert ingest_file(s, tmp_path / "star_survey_x.csv", "star_survey", "2026Q1", config).accepted == 60
        assert ingest_file(s, tmp_path / "contact_center_x.csv", "contact_center", "2026Q1", config).accepted == 40
    with session_scope(db_url) as s:
        result = quarter_metrics(s, "2026Q1")
        by_office = quarter_metrics(s, "2026Q1", level="office")
        with pytest.raises(ValueError, match="level"):
            quarter_metrics(s, "2026Q1", level="galaxy")
    assert list(result["units"]) == ["ALL", "52", "66"]
    truth = pd.DataFrame(expected)
    for code, part in (
        ("ALL", truth),
        ("52", truth[truth.region_code == "52"]),
        ("66", truth[truth.region_code == "66"]),
    ):
        direct = survey_metrics(part).set_index("client_type")
        for ct in ("citizen", "employer", "all"):
            got = result["units"][code]["survey"][ct]
            for col in SURVEY_COLUMNS:
                want = direct.loc[ct, col]
                assert (got[col] is None) if pd.isna(want) else got[col] == pytest.approx(want, abs=1e-9), (
                    code,
                    ct,
                    col,
                )
    # Calls: ratings cycle 5,4,2,5,1,3 -> 3 of 6 satisfied; 52-01 gets even i, 66-01 odd i.
    country_cc = result["units"]["ALL"]["csat"]["contact_center"]
    assert country_cc["n"] == 40 and country_cc["satisfied"] == sum((5, 4, 2, 5, 1, 3)[i % 6] >= 4 for i in range(40))
    assert result["units"]["52"]["csat"]["review_book"] == {
        "n": 0,
        "satisfied": 0,
        "csat": None,
        "csat_ci_low": None,
        "csat_ci_high": None,
        "sufficient_sample": False,
    }
    assert by_office["units"]["66-01"]["region_code"] == "66" and set(by_office["units"]) == {
        "ALL",
        "52-01",
        "52-02",
        "66-01",
    }
    assert by_office["units"]["52-02"]["csat"]["all"]["n"] == 0  # surveyed, no calls
    assert json.loads(json.dumps(result)) == result  # plain values: the dict round-trips through JSON

    # A report reads one region in SQL (load_metric_inputs(region=...)) and computes that
    # unit only: it must give exactly the entry the all-units computation gives it.
    with session_scope(db_url) as s:
        for code in ("52", "66"):
            answers, feedback = load_metric_inputs(s, "2026Q1", region=code)
            assert set(answers["region_code"]) == {code} and set(feedback["region_code"]) == {code}
            assert scope_metrics(answers, feedback) == result["units"][code], code
        answers, feedback = load_metric_inputs(s, "2026Q1")
        assert len(answers) == 60 and len(feedback) == 40
        assert scope_metrics(answers, feedback) == result["units"]["ALL"]
        none, _ = load_metric_inputs(s, "2026Q1", region="77")
        assert none.empty and list(none.columns) == list(answers.columns)


# ---------------------------------------------------------------- demo data


def _demo_answers(root, manifest, config) -> pd.DataFrame:
    from tasks.collect.readers import read_channel_file
    from tasks.collect.staging import stage_rows

    registry = {o.office_code: o.region_code for o in config.offices}
    frames = []
    for f in manifest.files:
        if f["channel"] == "star_survey":
            staged = stage_rows(read_channel_file(root / f["path"], "star_survey", config), registry)
            frames.append(staged)
    return pd.concat(frames, ignore_index=True)


def test_demo_overall_questions_follow_the_planted_drivers(tmp_path, config):
    from cxloop.quarters import Quarter
    from demo.generate import generate_demo_data
    from demo.survey import OVERALL_DRIVERS
    from tasks.insight.index import respondent_rays

    manifest = generate_demo_data(tmp_path, [Quarter.parse("2026Q1")], seed=7, offices=config.offices)
    staged = _demo_answers(tmp_path, manifest, config)
    clean = staged[staged[list(ITEMS)].isin([1, 2, 3, 4, 5]).any(axis=1)]  # answered rows, broken ones left out
    answered = clean[["overall", "nps", "ces"]].notna().mean()
    assert answered["overall"] == pytest.approx(0.85, abs=0.04)
    assert answered["nps"] == pytest.approx(0.80, abs=0.04)
    assert answered["ces"] == pytest.approx(0.75, abs=0.04)
    assert clean["overall"].dropna().between(1, 10).all() and clean["nps"].dropna().between(0, 10).all()
    assert clean["ces"].dropna().between(1, 7).all()
    # Recover the drivers: regress overall on the respondents' ray scores (0-100).
    rays = respondent_rays(clean)
    data = pd.concat([rays, clean["overall"]], axis=1).dropna()
    x = np.column_stack([np.ones(len(data)), data[list(RAYS)].to_numpy()])
    coef = dict(zip(RAYS, np.linalg.lstsq(x, data["overall"].to_numpy(), rcond=None)[0][1:], strict=True))
    top_two = sorted(OVERALL_DRIVERS, key=OVERALL_DRIVERS.get, reverse=True)[:2]
    assert set(sorted(coef, key=coef.get, reverse=True)[:2]) == set(top_two) == {"effort", "personalisation"}
    assert coef["comfort"] < min(coef["effort"], coef["personalisation"]) / 2
    metrics = _row(survey_metrics(clean), "all")
    assert 70 < metrics["acsi"] < 90 and -20 < metrics["nps"] < 30 and 5 < metrics["ces"] < 6.5


def test_demo_overall_stream_leaves_every_other_value_unchanged(tmp_path, config, monkeypatch):
    """With the overall questions switched off (all blank), every other file is byte-identical
    and every other survey cell equal: the questions draw from a stream of their own."""
    import demo.generate as demo
    import demo.survey as survey
    from cxloop.quarters import Quarter

    quarters = [Quarter.parse("2025Q4"), Quarter.parse("2026Q1")]
    with_overall = demo.generate_demo_data(tmp_path / "a", quarters, seed=5, offices=config.offices, scale=0.3)
    monkeypatch.setattr(
        survey, "overall_answers", lambda rng, answers: [[None, None, None] for _ in range(len(answers))]
    )
    demo.generate_demo_data(tmp_path / "b", quarters, seed=5, offices=config.offices, scale=0.3)
    registry = {o.office_code: o.region_code for o in config.offices}
    from tasks.collect.readers import read_channel_file
    from tasks.collect.staging import stage_rows

    for f in with_overall.files:
        a, b = tmp_path / "a" / f["path"], tmp_path / "b" / f["path"]
        if f["channel"] != "star_survey":
            assert a.read_bytes() == b.read_bytes(), f["path"]
            continue
        sa = stage_rows(read_channel_file(a, "star_survey", config), registry)
        sb = stage_rows(read_channel_file(b, "star_survey", config), registry)
        assert sb[["overall", "nps", "ces"]].isna().all().all() and sa["overall"].notna().mean() > 0.7
        same = [
            c
            for c in sa.columns
            if c not in {"source_file", "overall", "nps", "ces", "overall__raw", "nps__raw", "ces__raw"}
        ]
        pd.testing.assert_frame_equal(sa[same], sb[same])
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
