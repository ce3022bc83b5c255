"""GE's expectation configurations built once per validation (tasks.validate.ge_memo): the
same verdicts as GE's own property, a fraction of the serialisations, nothing kept outside."""

import contextlib
import threading
from datetime import date

import pandas as pd
from great_expectations.expectations.expectation import Expectation

import tasks.validate.suites as suites
from tasks.validate.ge_memo import _memo, memoised_configurations
from tasks.validate.suites import run_suite

PARAMS = {"known_offices": ["52-01", "52-02"], "known_regions": ["52"], "journey_stages": ["periodic_meetings"]}


def _frame():
    return pd.DataFrame(
        {
            "external_id": ["a", "b", "c", None],
            "received_at": [date(2026, 1, 1), date(2026, 1, 2), None, date(2026, 1, 3)],
            "office_code": ["52-01", "99-99", "52-02", "52-01"],
            "client_type": ["citizen", "citizen", "alien", "employer"],
            "rating": [2.0, 9.0, 4.0, 0.0],
        }
    )


def _comparable(results):
    return [{**r, "rows": r["rows"].tolist()} for r in results]


def _count_dicts(monkeypatch):
    """Count the serialisations GE's ``configuration`` property makes (one ``.dict()`` each)."""
    calls = {"n": 0}
    original = Expectation.dict

    def counting(self, *args, **kwargs):
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Expectation, "dict", counting)
    return calls


def test_same_verdicts_with_far_fewer_serialisations(monkeypatch):
    calls = _count_dicts(monkeypatch)
    memoised = run_suite(_frame(), "contact_center", PARAMS, distinct=False)
    with_memo = calls["n"]
    monkeypatch.setattr(suites, "memoised_configurations", contextlib.nullcontext)
    calls["n"] = 0
    plain = run_suite(_frame(), "contact_center", PARAMS, distinct=False)
    without = calls["n"]
    assert _comparable(memoised) == _comparable(plain)
    failing = {r["column"] for r in plain if not r["success"]}
    assert {"office_code", "rating", "external_id", "received_at"} <= failing  # failures to agree on
    assert with_memo * 3 < without, (with_memo, without)  # 305 vs 1,368 when written


def test_the_memo_lives_in_the_block_and_its_thread_only():
    seen = {}
    with memoised_configurations():
        assert _memo.get() == {}
        thread = threading.Thread(target=lambda: seen.setdefault("other", _memo.get()))
        thread.start()
        thread.join()
    assert seen["other"] is None
    assert _memo.get() is None


def test_the_first_read_is_never_shared():
    """GE substitutes suite parameters into the object of the first read; later reads
    get one kept object, built fresh, not that one."""
    from great_expectations.expectations.core import ExpectColumnValuesToBeInSet

    exp = ExpectColumnValuesToBeInSet(column="office_code", value_set={"$PARAMETER": "known_offices"})
    with memoised_configurations():
        first = exp.configuration
        first.kwargs["value_set"] = ["changed"]
        second, third = exp.configuration, exp.configuration
    assert second is third
    assert second is not first and second.kwargs["value_set"] == {"$PARAMETER": "known_offices"}
    assert exp.configuration is not exp.configuration  # outside the block: GE's own, built each time
