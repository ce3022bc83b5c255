"""The status machine of a measure: which status may follow which, and the co-design rule.

The statuses themselves are the domain's (:data:`cxloop.domain.MEASURE_STATUSES`);
this module holds the allowed moves (``TRANSITIONS``), the co-design evidence a
measure needs before it starts (``CODESIGN_FORMS``, :func:`codesign_gaps`) and
:func:`check_status_change`, which every writer of the register asks first.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from cxloop.i18n import LANGUAGES, NP_, Marked, gettext
from models.tables import Measure, MeasureHistory

TRANSITIONS: dict[str, set[str]] = {
    "proposed": {"approved", "rejected", "cancelled"},
    "approved": {"in_progress", "rejected", "cancelled"},
    "in_progress": {"implemented", "rejected", "cancelled"},
    "implemented": {"evaluated"},
    # An evaluated measure whose pain point recurs is reopened.
    "evaluated": {"closed", "in_progress"},
    "closed": set(),
    "rejected": set(),
    "cancelled": set(),
}

# Not implemented yet: these are the statuses a due date can be missed in.
_OVERDUE_STATUSES: frozenset[str] = frozenset({"proposed", "approved", "in_progress"})


class InvalidTransition(ValueError):
    """A status change the flow does not allow."""

    def __init__(self, code: str, from_status: str, to_status: str) -> None:
        allowed = sorted(TRANSITIONS.get(from_status, set()))
        self.code, self.from_status, self.to_status, self.allowed = code, from_status, to_status, allowed
        super().__init__(
            f"measure {code}: cannot change status from {from_status!r} to {to_status!r}; "
            f"allowed from {from_status!r}: {', '.join(allowed) if allowed else 'none (final status)'}"
        )


class CodesignMissing(ValueError):
    """A measure may not start (``in_progress``) without co-design evidence, unless overridden.

    ``gaps`` lists ``(field, problem)`` pairs, e.g. ``("codesign_clients", "number of
    clients involved (at least 1)")``.
    """

    def __init__(self, code: str, gaps: list[tuple[str, str]]) -> None:
        self.code, self.gaps = code, gaps
        super().__init__(
            f"measure {code}: cannot move to 'in_progress' without co-design evidence; missing: "
            + "; ".join(problem for _, problem in gaps)
            + ". Record the co-design (date, form, clients involved) or have the approver give an override reason"
        )


# --------------------------------------------------------------------------- co-design evidence

# How a measure was designed together with clients (domain: "workshops, observation,
# testing with clients"). The register stores the id; exports show the label.
CODESIGN_FORMS: tuple[str, ...] = ("workshop", "observation", "client_test")
# The labels are catalog entries (locale/, see cxloop/i18n.py), here in every report language.
CODESIGN_FORM_MSGIDS: dict[str, str | Marked] = {
    # TRANSLATORS: how a measure was designed together with clients (register exports and imports).
    "workshop": NP_("co-design form", "workshop"),
    "observation": NP_("co-design form", "observation"),
    "client_test": NP_("co-design form", "testing with clients"),
}
#: lang -> form id -> label; imports accept the label of any language (``codesign_form_id``).
CODESIGN_FORM_LABELS: dict[str, dict[str, str]] = {
    lang: gettext(lang).labels(CODESIGN_FORM_MSGIDS) for lang in LANGUAGES
}
# Other names people give the same forms (the demo's seed says ``usability_testing``).
_CODESIGN_ALIASES: dict[str, tuple[str, ...]] = {
    "workshop": ("мастерская", "семинар", "co-design workshop", "design workshop"),
    "observation": ("observations", "shadowing", "наблюдение за клиентами"),
    "client_test": (
        "usability testing",
        "user testing",
        "test with clients",
        "tests with clients",
        "client test",
        "юзабилити тестирование",
        "тестирование",
        "тест с клиентами",
    ),
}
# The history comment of a status change made without co-design evidence starts with this.
OVERRIDE_MARK = "override"


def _norm_word(value: object) -> str:
    text = str(value).strip().lower().replace("ё", "е")
    return " ".join(re.sub(r"[-_]+", " ", text).split())


_CODESIGN_LOOKUP: dict[str, str] = {
    _norm_word(name): form
    for form in CODESIGN_FORMS
    for name in (form, *(labels[form] for labels in CODESIGN_FORM_LABELS.values()), *_CODESIGN_ALIASES[form])
}


def codesign_form_id(value: object) -> str | None:
    """The stored id of a co-design form from its id, its ru/en/fi label or a common alias.

    Blank gives ``None``; anything else unknown raises ``ValueError`` naming the forms.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    form = _CODESIGN_LOOKUP.get(_norm_word(value))
    if form is None:
        raise ValueError(f"unknown co-design form {str(value)[:40]!r}; expected one of {', '.join(CODESIGN_FORMS)}")
    return form


def codesign_label(form: str | None, lang: str = "ru") -> str | None:
    """The label of a stored co-design form in ``lang`` (the id itself when unknown)."""
    if form is None:
        return None
    return CODESIGN_FORM_LABELS.get(lang, CODESIGN_FORM_LABELS["en"]).get(form, form)


def codesign_gaps(measure: Any, on: date) -> list[tuple[str, str]]:
    """What the co-design evidence of ``measure`` lacks for a start on day ``on``.

    Evidence is complete with a co-design date not later than ``on`` (it must have
    happened), a known form (``CODESIGN_FORMS``) and at least one client involved.
    """
    gaps: list[tuple[str, str]] = []
    if measure.codesign_date is None:
        gaps.append(("codesign_date", "co-design date"))
    elif measure.codesign_date > on:
        gaps.append(
            (
                "codesign_date",
                f"co-design date {measure.codesign_date.isoformat()} is later than the change ({on.isoformat()})",
            )
        )
    if measure.codesign_form not in CODESIGN_FORMS:
        gaps.append(("codesign_form", f"co-design form ({', '.join(CODESIGN_FORMS)})"))
    if not measure.codesign_clients or measure.codesign_clients < 1:
        gaps.append(("codesign_clients", "number of clients involved (at least 1)"))
    return gaps


def check_status_change(measure: Any, to: str, at: datetime, override_reason: str | None = None) -> bool:
    """Refuse a status change the register does not allow; True when it needs the override.

    Raises :class:`InvalidTransition` for a move outside ``TRANSITIONS`` and
    :class:`CodesignMissing` for a move to ``in_progress`` without complete co-design
    evidence (:func:`codesign_gaps`) and without a non-blank ``override_reason``.
    ``measure`` may be any object with the register's attributes (e.g. a preview of
    pending edits), so callers can check before they write anything.
    """
    if to not in TRANSITIONS.get(measure.status, set()):
        raise InvalidTransition(measure.code, measure.status, to)
    if to != "in_progress":
        return False
    gaps = codesign_gaps(measure, at.date())
    if not gaps:
        return False
    if override_reason is None or not override_reason.strip():
        raise CodesignMissing(measure.code, gaps)
    return True


def override_comment(reason: str, comment: str = "") -> str:
    """The history comment of an overridden start: ``override: <reason>`` (+ `` — <comment>``)."""
    text = f"{OVERRIDE_MARK}: {reason.strip()}"
    return f"{text} — {comment}" if comment else text


def is_override(entry: MeasureHistory) -> bool:
    """Whether a history row records a start the approver allowed without co-design evidence."""
    return entry.field == "status" and (entry.comment or "").startswith(f"{OVERRIDE_MARK}: ")


# --------------------------------------------------------------------------- due dates


def is_overdue(measure: Measure, as_of: date) -> bool:
    """Past its due date and not implemented (nor closed, rejected or cancelled)."""
    return measure.due_date is not None and measure.due_date < as_of and measure.status in _OVERDUE_STATUSES
