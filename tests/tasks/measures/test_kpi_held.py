"""tasks.measures.kpi: inside the cycle's read_answers_once, item and ray observations of a
quarter come from the answers already read, with the same rows, order and floats as the
query, and without querying the answers again."""

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import insert

from cxloop.domain import ITEMS, RAY_ITEMS

Q = "2026Q3"
OFFICES = ["52-03", "52-01", "52-02", "77-01"]


def _store(session, n=300, seed=3):
    """Respondents in several offices (ids not in office order), both client types, unanswered
    items, values outside 1-5, a respondent without an office, another quarter."""
    from models.tables import Feedback, SurveyAnswer

    rng = np.random.default_rng(seed)
    feedback, answers = [], []
    for i in range(n):
        office = None if i == 7 else OFFICES[int(rng.integers(0, len(OFFICES)))]
        feedback.append(
            {
                "id": 500_000 + i * 3,
                "dedup_key": f"k{i}",
                "channel": "star_survey",
                "source_file": "s.csv",
                "source_row": i + 2,
                "received_at": date(2026, 8, 1),
                "quarter": Q if i % 10 else "2026Q2",
                "office_code": office,
                "region_code": office[:2] if office else "52",
                "client_type": "employer" if i % 4 == 0 else "citizen",
                "themes": "",
                "negative_themes": "",
                "flags": "",
            }
        )
        values = rng.integers(0, 7, len(ITEMS))  # 0 and 6: outside the scale
        answers.append(
            {
                "feedback_id": feedback[-1]["id"],
                **{item: (None if v == 0 and i % 2 else int(v)) for item, v in zip(ITEMS, values, strict=True)},
            }
        )
    session.execute(insert(Feedback.__table__), feedback)
    session.execute(insert(SurveyAnswer.__table__), answers)


def test_held_observations_equal_the_query_and_read_nothing(env):
    from models import answers as answers_store
    from models.db import one_transaction, session_scope
    from tasks.measures.kpi import kpi_baseline, kpi_observations

    with session_scope() as session:
        _store(session)
    metrics = [f"ray:{r}" for r in RAY_ITEMS] + [f"item:{i}" for i in ITEMS]
    selections = [None, ["52-01", "52-03"], ["77-01"], ["99-99"], []]
    cases = [(m, ct, sel) for m in metrics for ct in ("citizen", "employer") for sel in selections]
    mixed = [(m, sel) for m in metrics[:3] for sel in selections]  # the held quarter and one that is not

    with session_scope() as session:
        queried = [kpi_observations(session, m, [Q], ct, sel) for m, ct, sel in cases]
        baselines = [kpi_baseline(session, m, Q, sel or [], ct) for m, ct, sel in cases]
        mixed_queried = [kpi_observations(session, m, [Q, "2026Q2"], "citizen", sel) for m, sel in mixed]

    statements: list[str] = []

    # Seen by SQLite itself, with the values bound (the answers are read through the
    # driver's own cursor, past SQLAlchemy's events).
    def seen(statement: str) -> None:
        if "survey_answer" in statement:
            statements.append(statement)

    with one_transaction(), answers_store.read_answers_once(), session_scope() as session:
        answers_store.load_answers(session, Q)  # as the star index reads them in the cycle
        driver = session.connection().connection.dbapi_connection
        driver.set_trace_callback(seen)
        try:
            held = [kpi_observations(session, m, [Q], ct, sel) for m, ct, sel in cases]
            held_baselines = [kpi_baseline(session, m, Q, sel or [], ct) for m, ct, sel in cases]
            one_quarter_statements = len(statements)
            mixed_held = [kpi_observations(session, m, [Q, "2026Q2"], "citizen", sel) for m, sel in mixed]
        finally:
            driver.set_trace_callback(None)

    assert one_quarter_statements == 0
    # The mixed calls query 2026Q2 only (none when the offices are an empty list).
    assert len(statements) == 3 * (len(selections) - 1)
    assert all("2026Q2" in s and Q not in s for s in statements)
    assert sum(not f.empty for f in queried) > len(cases) // 2  # the comparison is not of empty frames
    for (m, ct, sel), a, b in zip(cases, queried, held, strict=True):
        pd.testing.assert_frame_equal(b, a, check_exact=True, obj=f"{m} {ct} {sel}")
    assert held_baselines == baselines and any(v is not None for v in baselines)
    for (m, sel), a, b in zip(mixed, mixed_queried, mixed_held, strict=True):
        pd.testing.assert_frame_equal(b, a, check_exact=True, obj=f"{m} {sel} over two quarters")
    assert set(mixed_held[0]["quarter"]) == {Q, "2026Q2"}


def test_a_region_rerun_that_read_one_region_queries_as_before(env):
    from models import answers as answers_store
    from models.db import one_transaction, session_scope
    from tasks.measures.kpi import kpi_observations

    with session_scope() as session:
        _store(session)
        queried = kpi_observations(session, "ray:effort", [Q], "citizen", ["52-01"])
    with one_transaction(), answers_store.read_answers_once(), session_scope() as session:
        answers_store.load_answers(session, Q, region="52")  # only the region's: nothing whole to use
        assert answers_store.derived_from_answers(session, Q, ("x",), lambda a: a) is None
        pd.testing.assert_frame_equal(kpi_observations(session, "ray:effort", [Q], "citizen", ["52-01"]), queried)


def test_the_drivers_query_of_answers_equals_the_orm_query(env):
    """kpi._queried_answers (through the driver's cursor) gives the frame the ORM select it
    replaced gives through models.store.query_frame: same rows, order, values and dtypes."""
    from sqlmodel import col, select

    from models.db import session_scope
    from models.store import query_frame
    from models.tables import Feedback, SurveyAnswer
    from tasks.measures.kpi import _queried_answers

    with session_scope() as session:
        _store(session)
    compared = 0
    with session_scope() as session:
        for items in (["F1"], list(RAY_ITEMS["effort"]), list(ITEMS)):
            for quarters in ([Q], [Q, "2026Q2"], ["2026Q2"], ["2025Q1"]):
                for offices in (None, ["52-01", "52-03"], ["77-01"], ["99-99"]):
                    for client_type in ("citizen", "employer"):
                        placed = [col(Feedback.office_code).is_not(None)]
                        if offices is not None:
                            placed.append(col(Feedback.office_code).in_(offices))
                        stmt = (
                            select(
                                col(Feedback.office_code),
                                col(Feedback.quarter),
                                *[getattr(SurveyAnswer, i) for i in items],
                            )
                            .join(SurveyAnswer, col(SurveyAnswer.feedback_id) == col(Feedback.id))
                            .where(
                                col(Feedback.quarter).in_(quarters),
                                *placed,
                                col(Feedback.channel) == "star_survey",
                                col(Feedback.client_type) == client_type,
                            )
                            .order_by(col(Feedback.office_code), col(Feedback.quarter), col(Feedback.id))
                        )
                        orm = query_frame(session, stmt, ["office_code", "quarter", *items])
                        driver = _queried_answers(session, quarters, client_type, items, offices)
                        pd.testing.assert_frame_equal(driver, orm, check_exact=True)
                        compared += not orm.empty
    assert compared > 20
