"""What a report shows of its scope's star-survey respondents: the survey metrics (ACSI,
NPS, CES) and the key drivers, as a :class:`ScopeSurvey`.

Made one of two ways, to the same values:

* :func:`scope_survey`: one scope from the database (the scope's respondents read in SQL),
  what a report does on its own;
* :func:`quarter_scope_surveys`: every scope at once from the whole quarter's answers
  that a cycle already holds (``models.answers.read_answers_once``; in a national
  quarter, read ahead in a process of their own). A national report then needs not read
  ~884,000 respondents again (~7 s of its ~10), nor a region's report its ~10,000.

Both give each scope the same rows in the same order (respondent order, as
``models.answers.load_answers`` reads them) through the same functions, so the values
are equal to the last bit and the PDFs byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlmodel import Session

from cxloop.domain import NATIONAL
from models import answers as answers_store
from tasks.insight.drivers import RESULT_COLUMNS, key_drivers
from tasks.insight.metrics import survey_entry

#: The key under which a cycle derives :func:`quarter_scope_surveys` from the answers it
#: holds (``models.answers.derived_from_answers``).
SCOPE_SURVEYS = ("report_scope_surveys",)


@dataclass(frozen=True)
class ScopeSurvey:
    """One scope's survey findings: ``metrics`` client type -> ACSI/NPS/CES figures
    (``tasks.insight.metrics.survey_entry``) and ``drivers``, the ``key_drivers`` rows
    of its respondents (none without respondents or without the overall question)."""

    metrics: dict[str, dict]
    drivers: pd.DataFrame


def survey_of(answers: pd.DataFrame) -> ScopeSurvey:
    """The survey findings of exactly these respondents."""
    if answers.empty or "overall" not in answers.columns:
        drivers = pd.DataFrame(columns=RESULT_COLUMNS)
    else:
        drivers = key_drivers(answers)
    return ScopeSurvey(metrics=survey_entry(answers), drivers=drivers)


def scope_survey(session: Session, quarter: str, scope: str) -> ScopeSurvey:
    """One scope's findings ("national" or a region code) from the database; a region's
    report reads only that region's respondents (in SQL)."""
    region = None if scope == NATIONAL else scope
    return survey_of(answers_store.load_answers(session, quarter, region=region))


def quarter_scope_surveys(answers: pd.DataFrame) -> dict[str, ScopeSurvey]:
    """Every scope's findings from a whole quarter's answers: "national", then each region
    that has respondents (a region without any is absent: its report reads the database
    and finds none)."""
    surveys = {NATIONAL: survey_of(answers)}
    for region, part in answers.groupby("region_code", sort=True):
        surveys[str(region)] = survey_of(part.reset_index(drop=True))
    return surveys


def answers_derivations() -> dict[tuple, Callable[[pd.DataFrame], Any]]:
    """``key -> make`` of what the reports derive from a whole quarter's answers, for
    ``models.answers.read_quarter_answers`` to make where it reads them."""
    return {SCOPE_SURVEYS: quarter_scope_surveys}


def held_scope_surveys(session: Session, quarter: str) -> dict[str, ScopeSurvey] | None:
    """Every scope's findings from the quarter's answers as ``read_answers_once`` holds them
    (made once, or taken from the read-ahead); None when the block has not read the whole
    quarter (a region's rerun): each report then reads its own from the database."""
    return answers_store.derived_from_answers(session, quarter, SCOPE_SURVEYS, quarter_scope_surveys)


__all__ = [
    "SCOPE_SURVEYS",
    "ScopeSurvey",
    "answers_derivations",
    "held_scope_surveys",
    "quarter_scope_surveys",
    "scope_survey",
    "survey_of",
]
