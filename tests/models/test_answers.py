"""models.answers: the quarter's survey answers read ahead in a process of their own are
exactly those the stages would read themselves, and taking them reads nothing here; a
read-ahead that failed, is of another quarter or is never asked for costs nothing else."""

from __future__ import annotations

import pandas as pd

from tests.tasks.measures.test_kpi_held import Q, _store


def _count_reads(monkeypatch) -> list[tuple]:
    """The readings of answers from the database in this process (the process reading ahead
    has its own module), as (quarter, region)."""
    import models.answers as answers

    reads: list[tuple] = []
    real = answers._load_answers

    def counted(session, quarter, region):
        reads.append((quarter, region))
        return real(session, quarter, region)

    monkeypatch.setattr(answers, "_load_answers", counted)
    return reads


class _Given:
    """A read-ahead that hands over what it is given (or raises it), and notes a discard."""

    def __init__(self, outcome):
        self.outcome, self.discarded = outcome, False

    def result(self, timeout=None):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def discard(self):
        self.discarded = True


def test_answers_read_ahead_in_a_process_are_those_read_here_and_read_nothing_here(env, monkeypatch):
    from flows.background import BackgroundCall
    from models.answers import (
        _load_answers,
        answers_in_quarter,
        derived_from_answers,
        load_answers,
        read_answers_once,
        read_quarter_answers,
    )
    from models.db import one_transaction, session_scope

    with session_scope() as session:
        _store(session, n=400)
    with session_scope() as session:
        direct = _load_answers(session, Q, None)
        assert answers_in_quarter(session, Q) == len(direct) == 360  # one in ten is of 2026Q2
    ahead = BackgroundCall(read_quarter_answers, Q, {("respondents",): len})
    reads = _count_reads(monkeypatch)
    with one_transaction(), read_answers_once(ahead), session_scope() as session:
        got = load_answers(session, Q)
        again = load_answers(session, Q)
        assert reads == []  # neither came from the database here
        assert derived_from_answers(session, Q, ("respondents",), lambda a: -1) == 360  # made there
        load_answers(session, Q, region="52")
    assert reads == [(Q, "52")]  # a region's answers are read here, as without a read-ahead
    pd.testing.assert_frame_equal(got, direct)
    pd.testing.assert_frame_equal(again, direct)


def test_a_read_ahead_of_another_quarter_or_that_failed_is_read_here(env, monkeypatch):
    from models.answers import QuarterAnswers, _database, _load_answers, load_answers, read_answers_once
    from models.db import one_transaction, session_scope

    with session_scope() as session:
        _store(session, n=200)
    with session_scope() as session:
        direct = _load_answers(session, Q, None)
        other = QuarterAnswers(_database(session), "2026Q2", _load_answers(session, "2026Q2", None))
    reads = _count_reads(monkeypatch)
    for outcome in (other, RuntimeError("the process died")):
        pending = _Given(outcome)
        reads.clear()
        with one_transaction(), read_answers_once(pending), session_scope() as session:
            got = load_answers(session, Q)
        assert reads == [(Q, None)]  # read here instead
        pd.testing.assert_frame_equal(got, direct)
        assert not pending.discarded  # taken (and found wanting), not left over


def test_a_read_ahead_nobody_asks_for_is_discarded(env):
    from models.answers import load_answers, read_answers_once
    from models.db import session_scope

    with session_scope() as session:
        _store(session, n=50)
    pending = _Given(RuntimeError("never asked"))
    with read_answers_once(pending), session_scope() as session:
        load_answers(session, Q, region="52")  # a region's reading does not take the whole quarter's
    assert pending.discarded
