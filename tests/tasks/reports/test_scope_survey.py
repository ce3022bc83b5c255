"""A scope's survey findings (metrics, key drivers) made from the whole quarter's answers a
cycle holds are those the report reads from the database, and a report given them reads
no answers and is the same PDF, byte for byte (tasks/reports/scope_survey.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import event

from cxloop.domain import NATIONAL, report_scopes
from models import answers as answers_store
from models.db import get_engine, session_scope
from tasks.reports.render import write_reports
from tasks.reports.scope_survey import held_scope_surveys, quarter_scope_surveys, scope_survey

pytestmark = pytest.mark.slow  # the session's demo run (tests/tasks/reports/conftest.py)


def _held(demo_reports):
    quarter = demo_reports["quarters"][-1]
    with session_scope(demo_reports["url"]) as session:
        return quarter, quarter_scope_surveys(answers_store.load_answers(session, quarter))


def test_every_scope_from_the_held_answers_equals_its_own_reading(demo_reports):
    quarter, held = _held(demo_reports)
    scopes = report_scopes(demo_reports["config"].regions)
    assert held.keys() == set(scopes)  # every demo region has respondents
    with session_scope(demo_reports["url"]) as session:
        for scope in scopes:
            own = scope_survey(session, quarter, scope)
            assert held[scope].metrics == own.metrics, scope  # plain values, None for NaN
            pd.testing.assert_frame_equal(held[scope].drivers, own.drivers, check_exact=True, obj=scope)
    regions = [s for s in scopes if s != NATIONAL]
    assert held[NATIONAL].metrics["all"]["n"] == sum(held[s].metrics["all"]["n"] for s in regions) > 0
    assert not held[NATIONAL].drivers.empty  # the comparison above saw real key drivers


def test_reports_given_the_held_findings_read_no_answers_and_are_the_same_pdfs(demo_reports, tmp_path):
    quarter, held = _held(demo_reports)
    scopes = report_scopes(demo_reports["config"].regions)
    queries: list[str] = []

    def trace(dbapi_conn, _record):
        dbapi_conn.set_trace_callback(lambda sql: queries.append(sql) if "survey_answer" in sql else None)

    engine = get_engine(demo_reports["url"])
    engine.dispose()
    event.listen(engine, "connect", trace)
    try:
        with session_scope(demo_reports["url"]) as session:
            own = write_reports(session, quarter, demo_reports["config"], tmp_path / "own")
        reading = len(queries)
        queries.clear()
        with session_scope(demo_reports["url"]) as session:
            given = write_reports(session, quarter, demo_reports["config"], tmp_path / "given", surveys=held)
    finally:
        event.remove(engine, "connect", trace)
        engine.dispose()
    assert reading == len(scopes) and queries == []
    assert list(given) == list(own) == scopes
    assert [r.sha256 for r in given.values()] == [r.sha256 for r in own.values()]


def test_findings_are_held_only_once_the_whole_quarter_was_read(demo_reports):
    quarter, held = _held(demo_reports)
    region = sorted(demo_reports["config"].regions)[0]
    with answers_store.read_answers_once(), session_scope(demo_reports["url"]) as session:
        assert held_scope_surveys(session, quarter) is None
        answers_store.load_answers(session, quarter, region=region)  # a region's rerun
        assert held_scope_surveys(session, quarter) is None
        answers_store.load_answers(session, quarter)
        got = held_scope_surveys(session, quarter)
        assert got is not None and got.keys() == held.keys()
        assert got[region].metrics == held[region].metrics
        assert held_scope_surveys(session, quarter) is got  # made once, then shared
