"""The product's vocabulary, in one place: what the loop talks about.

Every stage, flow and command takes these names from here (``shared/domain.md``
defines them). Nothing here reads files or the database; configuration that a
region changes (offices, themes, thresholds) lives in ``config/`` and
:mod:`cxloop.config`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import overload

import numpy as np

# --------------------------------------------------------------------------- the star and the survey

#: The five rays of the client-centricity star, in the order the report shows them.
RAYS = ("friendliness", "usefulness", "effort", "personalisation", "comfort")
#: The star survey's items (answers 1-5), four per ray.
RAY_ITEMS: dict[str, tuple[str, ...]] = {
    "friendliness": ("F1", "F2", "F3", "F4"),
    "usefulness": ("U1", "U2", "U3", "U4"),
    "effort": ("E1", "E2", "E3", "E4"),
    "personalisation": ("P1", "P2", "P3", "P4"),
    "comfort": ("C1", "C2", "C3", "C4"),
}
ITEMS: tuple[str, ...] = tuple(i for items in RAY_ITEMS.values() for i in items)
#: The star survey's optional overall questions and their answer scales (inclusive).
#: Typed like the items (blank / "не знаю" = not answered, text = -1); the suite
#: expectations/star_survey.json holds the range rules, SurveyAnswer stores them.
SURVEY_QUESTIONS: dict[str, tuple[int, int]] = {
    "overall": (1, 10),  # overall satisfaction, ACSI-style
    "nps": (0, 10),  # likelihood to recommend
    "ces": (1, 7),  # customer effort: "it was easy to get the service"
}

# --------------------------------------------------------------------------- clients, journeys, channels

CLIENT_TYPES = ("citizen", "employer")
CITIZEN_STAGES = (
    "first_contact",
    "profiling_plan",
    "benefits",
    "job_matching",
    "periodic_meetings",
    "training",
    "exit",
)
EMPLOYER_STAGES = ("employer_onboarding", "vacancy_posting", "candidate_selection", "hiring_support")
JOURNEY_STAGES = CITIZEN_STAGES + EMPLOYER_STAGES
#: Feedback channels; a file's name starts with its channel id.
CHANNELS = ("star_survey", "review_book", "pos", "social", "contact_center", "interview_followup")
#: Languages of feedback texts and of reports, e-mails and the register export.
LANGUAGES = ("ru", "en", "fi")

# --------------------------------------------------------------------------- units of the country

#: The country as a unit of the result tables (``unit_code`` / ``region_code`` of
#: country-level index rows and pain points, a measure's region when it is national).
COUNTRY_CODE = "ALL"
#: The country as a *scope* of reports, recipients and parameters: file names
#: ``cx-report_<q>_national_<lang>.pdf``, ``national:`` in recipients.yaml, ``region="national"``.
NATIONAL = "national"
#: The levels of result rows, smallest first.
LEVELS = ("office", "region", "country")


def report_scopes(regions: Iterable[str]) -> list[str]:
    """The scopes reports are made and sent for: the country first, then each region."""
    return [NATIONAL, *regions]


def check_region(code: str, regions: Iterable[str]) -> str:
    """``code`` when it is one of ``regions`` (the configured office registry's), else a
    ValueError naming the choices. The one region check of the CLI, the flows' parameters
    and the register flows."""
    regions = list(regions)
    if code not in regions:
        raise ValueError(f"unknown region {code!r}; configured regions: {', '.join(regions)}")
    return code


# --------------------------------------------------------------------------- measures

MEASURE_TYPES = ("process_optimisation", "new_experience")
#: A measure's statuses, in the order of its life.
MEASURE_STATUSES = (
    "proposed",
    "approved",
    "in_progress",
    "implemented",
    "evaluated",
    "closed",
    "rejected",
    "cancelled",
)
#: Statuses of a measure still working on its pain point (it covers the pain point).
OPEN_STATUSES: frozenset[str] = frozenset({"proposed", "approved", "in_progress", "implemented"})

# --------------------------------------------------------------------------- statistics

Z95 = 1.959963984540054  # the 97.5 % normal quantile; the domain's "1.96"


@overload
def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]: ...
@overload
def wilson_interval(successes: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]: ...
def wilson_interval(successes, n, z=Z95):
    """The Wilson score interval of a proportion (0-1), for numbers or arrays; NaN where n = 0.

    low, high = (p + z²/2n ∓ z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), clipped to [0, 1].
    Numbers are computed as centre = (p + z²/2n) / (1 + z²/n) ∓ z / (1 + z²/n) · √(…),
    arrays as written above; the two orders can differ in the last bit, and each is
    kept as the results computed so far (CSAT intervals, pain-point reach) had it.
    """
    if np.ndim(successes) == 0 and np.ndim(n) == 0:
        if n == 0:
            return math.nan, math.nan
        p = successes / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return max(0.0, centre - half), min(1.0, centre + half)
    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, 0.0)
        centre = p + z * z / (2 * n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        denom = 1 + z * z / n
        low = np.where(n > 0, np.clip((centre - half) / denom, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip((centre + half) / denom, 0.0, 1.0), np.nan)
    return low, high


def check_language(lang: str) -> str:
    """``lang`` when it is one of :data:`LANGUAGES`, else a ValueError naming the choices."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; one of {', '.join(LANGUAGES)}")
    return lang
