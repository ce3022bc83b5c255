"""Survey answers as the stages read them: the star survey's respondents of a quarter
(:func:`load_answers`), read once for all the stages of a cycle (:func:`read_answers_once`)
and, in a national cycle, ahead in a process of their own (:func:`read_quarter_answers`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sqlmodel import Session

from cxloop.domain import ITEMS, SURVEY_QUESTIONS
from models.db import driver_marks, driver_rows, session_scope
from models.store import frame_from_rows

logger = logging.getLogger(__name__)

# What read_answers_once() holds while it is open: (database, quarter, region) -> the answers
# read; ("derived", database, *key) -> what a stage made of them (derived_from_answers);
# ("ahead",) -> the reading started ahead, until it is taken.
_ANSWERS_READ: ContextVar[dict[tuple, Any] | None] = ContextVar("cxloop_answers_read", default=None)


@dataclass(frozen=True)
class QuarterAnswers:
    """A whole quarter's answers as :func:`read_quarter_answers` read them, and from where,
    with what was derived from them there (key -> value, as :func:`derived_from_answers`)."""

    database: str
    quarter: str
    answers: pd.DataFrame
    derived: dict[tuple, Any] = field(default_factory=dict)


class Pending(Protocol):
    """A reading under way elsewhere (``flows.background.BackgroundCall`` of
    :func:`read_quarter_answers`)."""

    def result(self, timeout: float | None = None) -> QuarterAnswers: ...

    def discard(self) -> None: ...


#: From how many respondents in a quarter reading them ahead pays for a process of its own
#: (~1.5 s of one core to start it; a national quarter's 884,000 take ~5 s to read).
READ_AHEAD_FROM = 100_000


def answers_in_quarter(session: Session, quarter: str) -> int:
    """How many star-survey respondents the quarter has (one indexed count)."""
    sql = "SELECT count(*) FROM survey_answer AS s JOIN feedback AS f ON f.id = s.feedback_id WHERE f.quarter = {}"
    conn = session.connection()
    return int(conn.exec_driver_sql(sql.format(driver_marks(conn, 1)[0]), (quarter,)).scalar_one())


def worth_reading_ahead(quarter: str) -> bool:
    """Whether the quarter has respondents enough (:data:`READ_AHEAD_FROM`) to read them ahead."""
    with session_scope() as session:
        return answers_in_quarter(session, quarter) >= READ_AHEAD_FROM


def read_quarter_answers(
    quarter: str, derive: dict[tuple, Callable[[pd.DataFrame], Any]] | None = None
) -> QuarterAnswers:
    """The whole quarter's answers, read in a session of their own (the database of this
    process's settings), and ``derive``'s ``key -> make(answers)`` made of them: what a
    process started ahead hands to :func:`read_answers_once`. ``make`` must be what the
    stage asking :func:`derived_from_answers` for ``key`` passes as its own ``make``."""
    with session_scope() as session:
        database, answers = _database(session), _load_answers(session, quarter, None)
    return QuarterAnswers(database, quarter, answers, {key: make(answers) for key, make in (derive or {}).items()})


@contextmanager
def read_answers_once(ahead: Pending | None = None) -> Iterator[None]:
    """Within the block (this thread, and the Prefect tasks it calls), :func:`load_answers`
    reads each quarter's answers from the database once and hands out copies: the cycle's
    star index and pain points both read the whole quarter's respondents (~7 s for 884,000
    of them). Only around stages that write no survey answer, office, region or client type
    of that quarter: the copies are of what was read first.

    ``ahead``: the whole quarter's answers being read meanwhile in another process
    (:func:`read_quarter_answers`), taken by the first :func:`load_answers` of that quarter
    and database instead of reading them here. Reading ~884,000 respondents costs ~5 s of
    one core that the sentiment model's learning, before the star index, leaves idle. They
    were committed before the block (the intake), and nothing in it writes them, so what
    the other process reads is what this one would. If that reading failed or is of
    another database or quarter, the answers are read here as without it."""
    read: dict[tuple, Any] = {} if ahead is None else {("ahead",): ahead}
    token = _ANSWERS_READ.set(read)
    try:
        yield
    finally:
        _ANSWERS_READ.reset(token)
        if ("ahead",) in read:  # never asked for (no stage read that quarter)
            read.pop(("ahead",)).discard()


def load_answers(session: Session, quarter: str, region: str | None = None) -> pd.DataFrame:
    """Star-survey respondents of a quarter: office_code, region_code, client_type, F1..C4
    and the optional overall (1-10), nps (0-10), ces (1-7); answers float64, NaN = not answered.

    ``region``: only that region's respondents (read in SQL, not filtered afterwards:
    a region's report reads ~1/85 of a national quarter). Rows are in respondent order.
    Inside :func:`read_answers_once`, a copy of the first reading (copy-on-write: what a
    caller changes in it stays its own).
    """
    read = _ANSWERS_READ.get()
    if read is None:
        return _load_answers(session, quarter, region)
    key = (_database(session), quarter, region)
    if key not in read:
        ahead = _take_ahead(read, key) if region is None else None
        if ahead is None:
            read[key] = _load_answers(session, quarter, region)
        else:
            read[key] = ahead.answers
            read.update({("derived", key[0], quarter, *k): v for k, v in ahead.derived.items()})
    # pandas >= 3 copies on write (constraints.txt pins 3.1): a shallow copy is the caller's
    # own all the same, and costs nothing where a deep one cost ~0.4 s per national reading.
    return read[key].copy(deep=False)


def _take_ahead(read: dict[tuple, Any], key: tuple) -> QuarterAnswers | None:
    """The answers read ahead (``read_answers_once(ahead=...)``) when they are those of
    ``key`` (database, quarter, whole country); the reading is taken once, whatever it is."""
    pending = read.pop(("ahead",), None)
    if pending is None:
        return None
    try:
        got = pending.result()
    except Exception:  # noqa: BLE001 - a failed read-ahead only costs the time of reading here
        logger.warning("the survey answers read ahead failed; reading them here", exc_info=True)
        return None
    if (got.database, got.quarter, None) != key:
        logger.warning("the survey answers read ahead are of %s in %s; reading %s here", got.quarter, got.database, key)
        return None
    return got


def derived_from_answers(session: Session, quarter: str, key: tuple, make: Callable[[pd.DataFrame], Any]) -> Any | None:
    """``make(answers)`` of the whole quarter's answers as :func:`read_answers_once` holds
    them, made once per ``key`` within the block and then shared (callers only read it).
    None outside the block, or when the whole quarter has not been read in it (a region's
    rerun reads its region only): the caller then reads the database as it would anyway."""
    read = _ANSWERS_READ.get()
    url = _database(session)
    if read is None or (url, quarter, None) not in read:
        return None
    derived = ("derived", url, quarter, *key)
    if derived not in read:
        read[derived] = make(read[(url, quarter, None)])
    return read[derived]


def _database(session: Session) -> str:
    """The session's database, as the keys of :func:`read_answers_once`'s readings name it."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def _load_answers(session: Session, quarter: str, region: str | None) -> pd.DataFrame:
    answer_cols = [*ITEMS, *SURVEY_QUESTIONS]
    columns = ["office_code", "region_code", "client_type", *answer_cols]
    names = (
        ", ".join(f'f."{c}"' for c in ("office_code", "region_code", "client_type"))
        + ", "
        + ", ".join(f's."{c}"' for c in answer_cols)
    )
    session.flush()
    conn = session.connection()
    marks = driver_marks(conn, 2)
    params: tuple[str, ...] = (quarter,)
    if region is None and conn.dialect.name == "sqlite":
        # SQLite would walk feedback through its (quarter, office) index in random page
        # order (4.3 s for 400k respondents); survey_answer driving the join in storage
        # order with primary-key lookups into feedback takes ~1 s. CROSS JOIN fixes the
        # loop order in SQLite (and only there).
        sql = (
            f"SELECT {names} FROM survey_answer AS s CROSS JOIN feedback AS f ON f.id = s.feedback_id "
            f"WHERE f.quarter = {marks[0]} ORDER BY s.feedback_id"
        )
    else:
        # One region (or PostgreSQL): the feedback rows through their index, then the
        # answers by primary key.
        where = f"f.quarter = {marks[0]}"
        if region is not None:
            where += f" AND f.region_code = {marks[1]}"
            params = (quarter, region)
        sql = (
            f"SELECT {names} FROM feedback AS f JOIN survey_answer AS s ON s.feedback_id = f.id "
            f"WHERE {where} ORDER BY s.feedback_id"
        )
    # Through the driver's own cursor, in the session's transaction, into one object array:
    # SQLAlchemy's row objects and a column-by-column transposition took 5 of the 8 s that
    # a national quarter's 884,000 respondents cost (now ~4.5 s, most of it sqlite3's fetch).
    rows = driver_rows(conn, sql, params)
    if not rows:
        return frame_from_rows([], columns, answer_cols)
    table = np.array(rows, dtype=object)
    answers = table[:, 3:].astype(np.float64)  # None reads as NaN
    data: dict[str, Any] = {c: table[:, k] for k, c in enumerate(columns[:3])}
    data.update({c: answers[:, k] for k, c in enumerate(answer_cols)})
    return pd.DataFrame(data, columns=columns)
