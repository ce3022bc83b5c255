"""Real Great Expectations validation of the JSON suites, row-level quarantine."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from cxloop.domain import ITEMS
from cxloop.paths import EXPECTATIONS_DIR
from tasks.validate.dedup import dedup_keys, split_duplicates
from tasks.validate.suites import apply_suite, run_suite

PARAMS = {"known_offices": ["52-01", "52-02"], "known_regions": ["52"], "journey_stages": ["periodic_meetings"]}


def _survey(n=4):
    frame = pd.DataFrame(
        {
            "source_file": "star_survey_52.csv",
            "source_row": np.arange(2, n + 2),
            "channel": "star_survey",
            "external_id": [f"r{i}" for i in range(n)],
            "received_at": [date(2026, 2, 1)] * n,
            "received_at__raw": ["01.02.2026"] * n,
            "office_code": ["52-01"] * n,
            "region_code": ["52"] * n,
            "client_type": ["citizen"] * n,
            "client_type__raw": ["гражданин"] * n,
        }
    )
    for item in ITEMS:
        frame[item] = 4.0
        frame[f"{item}__raw"] = "4"
    for question in ("overall", "nps", "ces"):  # optional questions, typed as blank when absent
        frame[question] = np.nan
        frame[f"{question}__raw"] = None
    return frame


def test_every_suite_is_valid_json_with_severity_and_reason():
    for path in sorted(EXPECTATIONS_DIR.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        assert spec["expectations"], path
        for exp in spec["expectations"]:
            assert exp["severity"] in {"critical", "warning"}, (path, exp)
            assert exp["meta"]["reason"], (path, exp)


def test_clean_rows_all_accepted():
    out = apply_suite(_survey(), "star_survey", PARAMS)
    assert len(out.accepted) == 4 and out.quarantine.empty


def test_critical_failures_quarantine_with_file_row_field_reason():
    frame = _survey()
    frame.loc[1, "office_code"] = "52-99"
    frame.loc[2, "received_at"] = None
    frame.loc[2, "received_at__raw"] = "32.13.2026"
    frame.loc[3, "E2"] = 6.0
    frame.loc[3, "E2__raw"] = "6"
    out = apply_suite(frame, "star_survey", PARAMS)
    assert out.accepted["external_id"].tolist() == ["r0"]
    q = out.quarantine.set_index("source_row")
    assert q.loc[3, "field"] == "office_code" and "52-99" in q.loc[3, "reason"]
    assert q.loc[4, "field"] == "received_at" and "32.13.2026" in q.loc[4, "reason"]
    assert q.loc[5, "field"] == "E2" and "«6»" in q.loc[5, "reason"]
    assert (out.quarantine["source_file"] == "star_survey_52.csv").all()


def test_warning_keeps_row_discards_field_and_flags():
    frame = pd.DataFrame(
        {
            "source_file": "review_book_52.csv",
            "source_row": [2, 3],
            "channel": "review_book",
            "external_id": None,
            "received_at": [date(2026, 2, 1)] * 2,
            "received_at__raw": ["x"] * 2,
            "office_code": ["52-01"] * 2,
            "region_code": ["52"] * 2,
            "client_type": ["citizen"] * 2,
            "client_type__raw": [None] * 2,
            "text": ["Очередь", "Спасибо"],
            "rating": [-1.0, 5.0],
            "rating__raw": ["отлично!!", "5"],
        }
    )
    out = apply_suite(frame, "review_book", PARAMS)
    assert len(out.accepted) == 2 and out.quarantine.empty and out.warnings == 1
    assert pd.isna(out.accepted.loc[0, "rating"]) and out.accepted.loc[1, "rating"] == 5.0
    assert "rating" in out.accepted.loc[0, "flags"] and out.accepted.loc[1, "flags"] == ""


def test_suite_edit_changes_behaviour(tmp_path):
    """The JSON is the contract: tightening a bound in the file changes what is quarantined."""
    spec = json.loads((EXPECTATIONS_DIR / "contact_center.json").read_text(encoding="utf-8"))
    for exp in spec["expectations"]:
        if exp["type"] == "expect_column_values_to_be_between":
            exp["kwargs"]["min_value"] = 3
    (tmp_path / "contact_center.json").write_text(json.dumps(spec), encoding="utf-8")
    frame = pd.DataFrame(
        {
            "external_id": ["a", "b"],
            "received_at": [date(2026, 1, 1)] * 2,
            "office_code": ["52-01"] * 2,
            "client_type": ["citizen"] * 2,
            "rating": [2.0, 4.0],
        }
    )
    shipped = run_suite(frame, "contact_center", PARAMS)
    edited = run_suite(frame, "contact_center", PARAMS, directory=tmp_path)
    assert all(r["success"] for r in shipped)
    failing = [r for r in edited if not r["success"]]
    assert len(failing) == 1 and failing[0]["rows"].tolist() == [0]


def test_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="no column"):
        run_suite(pd.DataFrame({"x": [1]}), "pos", PARAMS)


def test_dedup_keys_and_split():
    frame = pd.DataFrame(
        {
            "channel": ["pos", "pos", "review_book", "review_book"],
            "external_id": ["1", "1", None, None],
            "text": ["a", "a", "Очередь  большая", "очередь большая"],
            "office_code": ["52-01"] * 4,
            "region_code": ["52"] * 4,
            "received_at": [date(2026, 1, 1)] * 4,
        }
    )
    frame["dedup_key"] = dedup_keys(frame)
    assert frame["dedup_key"].iloc[0] == "pos:1"
    assert frame["dedup_key"].iloc[2] == frame["dedup_key"].iloc[3]  # case and spacing do not matter
    new, dupes = split_duplicates(frame, existing_keys={"pos:1"})
    assert dupes == 3 and len(new) == 1


def test_personal_data_typed_into_a_field_is_redacted_in_the_reason():
    frame = _survey(1)
    frame.loc[0, "received_at"] = None
    frame.loc[0, "received_at__raw"] = "+7 912 345-67-89"
    out = apply_suite(frame, "star_survey", PARAMS)
    reason = out.quarantine.loc[0, "reason"]
    assert "345-67-89" not in reason and "[PHONE]" in reason


def _equivalence_suite(tmp_path):
    spec = {
        "name": "eq",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "severity": "critical",
                "meta": {"reason": "a"},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "min_value": 1, "max_value": 5},
                "severity": "critical",
                "meta": {"reason": "b"},
            },
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "b", "value_set": ["x", "y"]},
                "severity": "warning",
                "meta": {"reason": "c"},
            },
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "c", "regex": "^[0-9]{2}-[0-9]{2}$"},
                "severity": "critical",
                "meta": {"reason": "d"},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "d"},
                "severity": "critical",
                "meta": {"reason": "e"},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "min_value": 2, "max_value": 4, "mostly": 0.5},
                "severity": "warning",
                "meta": {"reason": "f"},
            },
            {
                "type": "expect_column_value_lengths_to_be_between",
                "kwargs": {"column": "d", "min_value": 1, "max_value": 4},
                "severity": "warning",
                "meta": {"reason": "g"},
            },
        ],
    }
    (tmp_path / "eq.json").write_text(json.dumps(spec), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("split", [False, True], ids=["one-run", "few-and-many-apart"])
def test_distinct_value_validation_equals_row_by_row(tmp_path, monkeypatch, split):
    """Judging distinct values and mapping back gives exactly GE's row-by-row answer, also when
    the columns of few distinct values are judged apart from the others (made to happen here
    at this size: column d has up to one value per row)."""
    import tasks.validate.suites as suites

    if split:
        monkeypatch.setattr(suites, "FEW_DISTINCT", 12)
        monkeypatch.setattr(suites, "SPLIT_SAVES", 0)
    runs: list[int] = []
    validate = suites._validate
    monkeypatch.setattr(suites, "_validate", lambda *a: runs.append(len(a[3])) or validate(*a))
    directory = _equivalence_suite(tmp_path)
    rng = np.random.default_rng(5)
    for trial in range(15):
        n = int(rng.integers(1, 400))
        a = rng.choice([np.nan, 0, 1, 2, 3, 4, 5, 6, 2.5], n)
        frame = pd.DataFrame(
            {
                "a": a,
                "b": pd.Series(rng.choice(["x", "y", "z", None], n), dtype=object),
                "c": pd.Series(rng.choice(["52-01", "5201", "66-02", None, "xx-yy"], n), dtype=object),
                "d": pd.Series([f"id{i}" if rng.random() > 0.1 else None for i in range(n)], dtype=object),
            }
        )
        runs.clear()
        fast = run_suite(frame, "eq", directory=directory, distinct=True)
        fast_runs = list(runs)
        slow = run_suite(frame, "eq", directory=directory, distinct=False)
        # Each result belongs to its own expectation (GE does not keep the suite's order).
        assert slow[2]["rows"].tolist() == np.flatnonzero(frame["b"].eq("z").to_numpy()).tolist()
        assert slow[4]["rows"].tolist() == np.flatnonzero(frame["d"].isna().to_numpy()).tolist()
        for f, s in zip(fast, slow, strict=True):
            assert f["success"] == s["success"], (trial, f["type"])
            assert f["rows"].tolist() == s["rows"].tolist(), (trial, f["type"], f["column"])
        # The aggregate ("mostly") expectation on the rows, the six row-wise ones in one run on
        # distinct values, or in two when d's two (up to one value per row) are judged apart.
        many = frame["d"].nunique() + frame["d"].isna().any() > 12
        assert sorted(fast_runs) == ([1, 2, 4] if split and many else [1, 6]), (trial, fast_runs)


def test_near_duplicates_across_channels_within_seven_days():
    from datetime import timedelta

    from tasks.validate.dedup import split_near_duplicates, text_keys

    long = "Третий раз прихожу и никто не может объяснить что делать дальше с пособием"
    d0 = date(2026, 3, 1)
    frame = pd.DataFrame(
        {
            "channel": ["social", "review_book", "social", "pos", "pos", "pos"],
            "office_code": ["52-01", "52-01", "52-02", "52-01", "52-01", "52-01"],
            "received_at": [d0 + timedelta(days=2), d0 + timedelta(days=20), d0, d0, d0, d0 + timedelta(days=1)],
            "text": [long.upper() + "!!!", long, long, long, "Всё хорошо, спасибо", "Всё хорошо, спасибо"],
        }
    )
    frame["text_key"] = text_keys(frame)
    assert frame["text_key"].iloc[4] is None  # too short to judge
    kept, near = split_near_duplicates(
        frame, earlier=pd.DataFrame(columns=["office_code", "received_at", "channel", "text_key"])
    )
    # social on day 2 repeats the pos message of day 0 (same office, other channel, 2 days);
    # the review book 20 days later and the other office are different voices.
    assert near == 1
    assert sorted(kept["channel"] + "@" + kept["office_code"]) == [
        "pos@52-01",
        "pos@52-01",
        "pos@52-01",
        "review_book@52-01",
        "social@52-02",
    ]
    stored = pd.DataFrame(
        {
            "office_code": ["52-02"],
            "received_at": [d0 + timedelta(days=5)],
            "channel": ["pos"],
            "text_key": [frame["text_key"].iloc[2]],
        }
    )
    kept2, near2 = split_near_duplicates(frame.iloc[[2]], earlier=stored)
    assert near2 == 1 and kept2.empty


def test_answers_are_judged_apart_from_ids_only_where_it_saves_work():
    from tasks.validate.suites import _distinct_groups

    def exp(column):
        return {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": column}}

    survey = [exp(f"A{i}") for i in range(20)] + [exp("respondent")]
    distinct = {**{f"A{i}": 6 for i in range(20)}, "respondent": 40_000}
    assert [len(g) for g in _distinct_groups(survey, distinct)] == [20, 1]  # 840,000 values judged -> 40,120
    small_file = {**{f"A{i}": 6 for i in range(20)}, "respondent": 2_000}
    assert [len(g) for g in _distinct_groups(survey, small_file)] == [21]  # a second GE run would cost more
    assert [len(g) for g in _distinct_groups(survey[:3], {"A0": 6, "A1": 6, "A2": 6})] == [3]
