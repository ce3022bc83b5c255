"""Stage 6 of the loop: assign corrective measures and keep the register.

A corrective measure answers a prioritised pain point of a region. This module
owns the register's rules:

* the status flow (``TRANSITIONS``) — every change of status or of any other
  field bumps ``Measure.version`` and leaves one ``MeasureHistory`` row per
  changed field (who, when, from -> to, comment); measures are never deleted;
  a caller that read version *n* and passes ``expected_version=n`` is refused
  (``VersionConflict``) when someone else changed the measure in between;
* co-design evidence (date, form — ``CODESIGN_FORMS`` — and number of clients):
  a measure cannot start (``in_progress``) without it unless an approver gives
  an override reason, which the history keeps marked ``override:``;
* people's edits: one measure (``update_measure``), the working group's review
  of proposals (``review_proposals``), the register as a filtered list
  (``list_register``); the XLSX round trip lives in ``tasks.measures.register_io``;
* the quarterly proposal of measures for the top pain points from the playbook
  (``propose_measures``), which never gives a pain point a second open measure;
* loading the demo's seeded register (``seed_measures``) with a complete,
  deterministic history;
* the register as a table, XLSX and CSV for people and for the report
  (``register_frame``, ``export_register_xlsx``, ``export_register_csv``).

Timestamps always come from the caller (or from the records' dates), never
from the wall clock, so a rerun writes the same register.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
from sqlalchemy import update
from sqlmodel import Session, select

from cxloop.config import AppConfig
from cxloop.domain import EMPLOYER_STAGES, JOURNEY_STAGES, MEASURE_TYPES
from cxloop.i18n import LANGUAGES, NP_, Marked, gettext
from cxloop.quarters import Quarter
from models.tables import EffectEvaluation, Measure, MeasureHistory, Office
from cxloop.export_safety import neutralise_formula as neutralise  # one formula rule for every export

SYSTEM_USER = "cxloop"

STATUSES = ("proposed", "approved", "in_progress", "implemented", "evaluated", "closed", "rejected", "cancelled")

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

OPEN_STATUSES: frozenset[str] = frozenset({"proposed", "approved", "in_progress", "implemented"})
# Not implemented yet: these are the statuses a due date can be missed in.
_OVERDUE_STATUSES: frozenset[str] = frozenset({"proposed", "approved", "in_progress"})

# Fields a person may change through update_fields; status has its own flow and
# code/id/version are identity and bookkeeping.
_EDITABLE_FIELDS: frozenset[str] = frozenset(
    {
        "title", "description", "theme", "journey_stage", "type", "region_code", "offices", "owner",
        "source_pain_point", "proposed_quarter", "codesign_date", "codesign_form", "codesign_clients",
        "planned_start", "due_date", "implemented_on", "kpi_metric", "kpi_baseline", "kpi_target",
        "effect_verdict",
    }
)
_DATE_FIELDS = frozenset({"codesign_date", "planned_start", "due_date", "implemented_on"})


class InvalidTransition(ValueError):
    """A status change the flow does not allow."""

    def __init__(self, code: str, from_status: str, to_status: str) -> None:
        allowed = sorted(TRANSITIONS.get(from_status, set()))
        self.code, self.from_status, self.to_status, self.allowed = code, from_status, to_status, allowed
        super().__init__(
            f"measure {code}: cannot change status from {from_status!r} to {to_status!r}; "
            f"allowed from {from_status!r}: {', '.join(allowed) if allowed else 'none (final status)'}"
        )


class VersionConflict(RuntimeError):
    """Someone else changed the measure since the caller read it (optimistic locking)."""


class MeasureNotFound(LookupError):
    """No measure with that code in the register."""


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
_CODESIGN_FORM_MSGIDS: dict[str, str | Marked] = {
    # TRANSLATORS: how a measure was designed together with clients (register exports and imports).
    "workshop": NP_("co-design form", "workshop"),
    "observation": NP_("co-design form", "observation"),
    "client_test": NP_("co-design form", "testing with clients"),
}
#: lang -> form id -> label; imports accept the label of any language (``codesign_form_id``).
CODESIGN_FORM_LABELS: dict[str, dict[str, str]] = {
    lang: gettext(lang).labels(_CODESIGN_FORM_MSGIDS) for lang in LANGUAGES
}
# Other names people give the same forms (the demo's seed says ``usability_testing``).
_CODESIGN_ALIASES: dict[str, tuple[str, ...]] = {
    "workshop": ("мастерская", "семинар", "co-design workshop", "design workshop"),
    "observation": ("observations", "shadowing", "наблюдение за клиентами"),
    "client_test": ("usability testing", "user testing", "test with clients", "tests with clients",
                    "client test", "юзабилити тестирование", "тестирование", "тест с клиентами"),
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
        gaps.append(("codesign_date", f"co-design date {measure.codesign_date.isoformat()} is later than the change ({on.isoformat()})"))
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


# --------------------------------------------------------------------------- changes


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _claim_version(session: Session, measure: Measure, expected_version: int | None) -> None:
    """Bump the version, refusing if the caller's or the database's copy is stale.

    The conditional UPDATE makes the check hold across sessions and processes:
    two analysts editing the same measure cannot both win.
    """
    if expected_version is not None and expected_version != measure.version:
        raise VersionConflict(
            f"measure {measure.code}: expected version {expected_version}, the register has {measure.version}"
        )
    if measure.id is None:
        session.add(measure)
        session.flush()
    current = measure.version
    result = session.execute(
        update(Measure)
        .where(Measure.id == measure.id, Measure.version == current)
        .values(version=current + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise VersionConflict(f"measure {measure.code}: changed by someone else since version {current}; reload it")
    measure.version = current + 1


def as_utc(at: datetime) -> datetime:
    """History timestamps are stored in UTC; a naive moment (cycle dates) is taken as UTC."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _history(session: Session, measure: Measure, field: str, old: Any, new: Any, who: str, at: datetime,
             comment: str) -> None:
    session.add(
        MeasureHistory(
            measure_id=measure.id, at=as_utc(at), who=who, field=field,
            from_value=_as_text(old), to_value=_as_text(new), comment=comment,
        )
    )


def change_status(
    session: Session,
    measure: Measure,
    to: str,
    who: str,
    at: datetime,
    comment: str = "",
    expected_version: int | None = None,
    override_reason: str | None = None,
) -> Measure:
    """Move ``measure`` along the status flow; one history row, version + 1.

    Moving to ``in_progress`` needs complete co-design evidence
    (:func:`codesign_gaps`); without it the change is refused
    (:class:`CodesignMissing`) unless ``override_reason`` is given, and then the
    history row's comment is ``override: <reason>`` (:func:`is_override`). A reason
    given when the evidence is complete is not needed and not recorded.
    Reaching ``implemented`` fills ``implemented_on`` with ``at.date()`` when the
    owner did not give the actual date.
    """
    overridden = check_status_change(measure, to, at, override_reason)
    _claim_version(session, measure, expected_version)
    old = measure.status
    measure.status = to
    if overridden:
        comment = override_comment(override_reason or "", comment)
    _history(session, measure, "status", old, to, who, at, comment)
    if to == "implemented" and measure.implemented_on is None:
        measure.implemented_on = at.date()
        _history(session, measure, "implemented_on", None, measure.implemented_on, who, at, comment)
    session.add(measure)
    session.flush()
    return measure


def update_fields(
    session: Session,
    measure: Measure,
    changes: Mapping[str, Any],
    who: str,
    at: datetime,
    comment: str = "",
    expected_version: int | None = None,
) -> Measure:
    """Change register fields other than the status; one history row per changed field.

    Values are checked and normalised by :func:`normalise_changes` (ISO date
    strings, office lists, co-design form labels...). Unchanged values leave no
    trace and do not bump the version, so reapplying the same edit is harmless.
    """
    normalised = normalise_changes(measure, changes)
    if not normalised:
        if expected_version is not None and expected_version != measure.version:
            raise VersionConflict(
                f"measure {measure.code}: expected version {expected_version}, the register has {measure.version}"
            )
        return measure
    _claim_version(session, measure, expected_version)
    for field in sorted(normalised):
        _history(session, measure, field, getattr(measure, field), normalised[field], who, at, comment)
        setattr(measure, field, normalised[field])
    session.add(measure)
    session.flush()
    return measure


_REQUIRED_TEXT = frozenset({"title", "owner", "type", "region_code", "theme", "proposed_quarter", "kpi_metric"})
_OFFICE_SPLIT = re.compile(r"[,;\s]+")


def normalise_offices(value: Any) -> str:
    """Office codes as the register stores them: sorted, unique, comma-separated."""
    if value is None:
        return ""
    items = value if isinstance(value, (list, tuple, set, frozenset)) else _OFFICE_SPLIT.split(str(value))
    return ",".join(sorted({str(o).strip() for o in items if str(o).strip()}))


def _normalise_value(code: str, field: str, value: Any) -> Any:
    if isinstance(value, str) and field not in ("description",):
        value = value.strip()
    if field in _DATE_FIELDS:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str):
            try:
                return date.fromisoformat(value) if value else None
            except ValueError:
                raise ValueError(f"measure {code}: {field} {value[:20]!r} is not a date (YYYY-MM-DD)") from None
        return value
    if field == "offices":
        return normalise_offices(value)
    if field == "codesign_form":
        try:
            return codesign_form_id(value)
        except ValueError as exc:
            raise ValueError(f"measure {code}: {exc}") from None
    if field == "codesign_clients":
        if value is None or value == "":
            return None
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ValueError(f"measure {code}: codesign_clients {str(value)[:20]!r} is not a whole number") from None
        if isinstance(value, bool) or number < 1:
            raise ValueError(f"measure {code}: codesign_clients must be at least 1 (clients involved), got {value!r}")
        return number
    if field in ("kpi_baseline", "kpi_target"):
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"measure {code}: {field} {str(value)[:20]!r} is not a number") from None
    if field == "journey_stage" and value not in (None, "") and value not in JOURNEY_STAGES:
        raise ValueError(f"measure {code}: unknown journey stage {str(value)[:40]!r}; expected one of {', '.join(JOURNEY_STAGES)}")
    if field == "type" and value not in MEASURE_TYPES:
        raise ValueError(f"measure {code}: unknown measure type {str(value)[:40]!r}; expected one of {', '.join(MEASURE_TYPES)}")
    if field in _REQUIRED_TEXT and (value is None or value == ""):
        raise ValueError(f"measure {code}: {field} cannot be empty")
    if field == "journey_stage" and value == "":
        return None
    return value


def normalise_changes(measure: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The edits of ``changes`` that really change ``measure``, checked and normalised.

    Dates accept ``date``/``datetime`` or ISO text; offices a list or a comma-separated
    text (stored sorted); the co-design form an id, label or alias
    (:func:`codesign_form_id`); clients involved a whole number >= 1; journey stage and
    type their configured ids; required text fields (title, owner...) cannot be blanked.
    Raises ``ValueError`` naming the measure and the field; the status is refused here
    (it has its own flow, :func:`change_status`).
    """
    unknown = sorted(set(changes) - _EDITABLE_FIELDS)
    if unknown:
        hint = " (use change_status for the status)" if "status" in unknown else ""
        raise ValueError(f"measure {measure.code}: fields {unknown} cannot be edited{hint}")
    normalised: dict[str, Any] = {}
    for field, value in changes.items():
        value = _normalise_value(measure.code, field, value)
        if getattr(measure, field) != value:
            normalised[field] = value
    return normalised


def is_overdue(measure: Measure, as_of: date) -> bool:
    """Past its due date and not implemented (nor closed, rejected or cancelled)."""
    return measure.due_date is not None and measure.due_date < as_of and measure.status in _OVERDUE_STATUSES


def history_of(session: Session, measure: Measure) -> list[MeasureHistory]:
    """The measure's history, oldest first."""
    return list(
        session.exec(
            select(MeasureHistory)
            .where(MeasureHistory.measure_id == measure.id)
            .order_by(MeasureHistory.at, MeasureHistory.id)
        )
    )


# --------------------------------------------------------------------------- people's edits

REVIEW_ACTIONS: tuple[str, ...] = ("approve", "reject", "reassign")


def get_measure(session: Session, code: str) -> Measure:
    """The measure with ``code``; :class:`MeasureNotFound` when the register has none."""
    measure = session.exec(select(Measure).where(Measure.code == code)).first()
    if measure is None:
        raise MeasureNotFound(f"no measure {code!r} in the register")
    return measure


def _last_history_id(session: Session, measure: Measure) -> int:
    ids = session.exec(select(MeasureHistory.id).where(MeasureHistory.measure_id == measure.id)).all()
    return max((i for i in ids if i is not None), default=0)


def _history_since(session: Session, measure: Measure, last_id: int) -> list[MeasureHistory]:
    session.flush()
    return list(session.exec(
        select(MeasureHistory).where(MeasureHistory.measure_id == measure.id, MeasureHistory.id > last_id)
        .order_by(MeasureHistory.id)
    ))


def preview(measure: Measure, changes: Mapping[str, Any]) -> SimpleNamespace:
    """The measure as it would be after ``changes`` (normalised), without touching it:
    what :func:`check_status_change` judges when fields and status change together."""
    values = {name: getattr(measure, name) for name in Measure.model_fields}
    values.update(changes)
    return SimpleNamespace(**values)


def update_measure(
    session: Session,
    code: str,
    who: str,
    at: datetime,
    *,
    status: str | None = None,
    changes: Mapping[str, Any] | None = None,
    comment: str = "",
    override_reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """One person's edit of one measure: fields first, then the status, all or nothing.

    Everything is checked before anything is written: the version (when
    ``expected_version`` is given), every field value (:func:`normalise_changes`),
    the status move on the measure *as it will be* after the field edits (so
    recording the co-design and starting the measure can be one edit) and the
    co-design rule (:func:`check_status_change`). Then :func:`update_fields` and
    :func:`change_status` write one history row per changed field.

    Returns ``{"code", "status", "version", "changes": [{"field", "from", "to"}],
    "override": bool}``; ``changes`` is empty when the edit changed nothing.
    Raises :class:`MeasureNotFound`, :class:`VersionConflict`,
    :class:`InvalidTransition`, :class:`CodesignMissing` or ``ValueError``.
    """
    if not who or not who.strip():
        raise ValueError("who made the change is required")
    measure = get_measure(session, code)
    if expected_version is not None and expected_version != measure.version:
        raise VersionConflict(
            f"measure {code}: changed by someone else since version {expected_version} "
            f"(the register has version {measure.version}); reload it and redo the edit"
        )
    if status is not None and status not in STATUSES:
        raise ValueError(f"measure {code}: unknown status {status!r}; statuses: {', '.join(STATUSES)}")
    normalised = normalise_changes(measure, changes or {})
    move = status is not None and status != measure.status
    overridden = check_status_change(preview(measure, normalised), status, at, override_reason) if move else False
    last_id = _last_history_id(session, measure)
    if normalised:
        update_fields(session, measure, normalised, who, at, comment, expected_version)
    if move:
        change_status(session, measure, status or "", who, at, comment,
                      expected_version=None if normalised else expected_version,
                      override_reason=override_reason if overridden else None)
    written = _history_since(session, measure, last_id)
    return {
        "code": measure.code,
        "status": measure.status,
        "version": measure.version,
        "changes": [{"field": h.field, "from": h.from_value, "to": h.to_value} for h in written],
        "override": overridden,
    }


def _value(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def office_regions(session: Session) -> dict[str, str]:
    """Office code -> region code, from the office registry in the database."""
    return {code: region for code, region in session.exec(select(Office.office_code, Office.region_code))}


def in_region(region_code: str, offices: str, region: str, regions_of: Mapping[str, str]) -> bool:
    """Whether a measure belongs to ``region``: its own region, or (a measure rolled out
    across regions) one of its offices is there."""
    if region_code == region:
        return True
    return any(regions_of.get(o) == region for o in _OFFICE_SPLIT.split(offices or "") if o)


def review_proposals(
    session: Session,
    decisions: list[Any],
    reviewer: str,
    at: datetime,
    *,
    quarter: str | None = None,
    region: str | None = None,
    codes: list[str] | None = None,
) -> dict[str, Any]:
    """Apply the working group's decisions on proposed measures.

    A decision (a mapping or an object) has ``code``, ``action`` — ``approve``
    (optionally with a new ``owner``), ``reject`` (a ``comment`` saying why is
    required) or ``reassign`` (``owner`` required; the measure stays ``proposed``)
    — and ``comment``, kept in the history with ``reviewer`` as who.

    Only proposals in scope can be decided: still ``proposed``, of ``quarter`` (their
    proposing quarter), of ``region`` (:func:`in_region`) and among ``codes`` when
    given. A decision is applied whole or not at all; a refused one (out of scope,
    unknown code, decided twice, changed meanwhile) is listed with its reason and
    does not stop the others.

    Returns ``{"applied": [{"code", "action", "status", "owner"}], "refused": [{"code",
    "action", "reason"}], "left_proposed": [codes in scope still proposed]}``.
    """
    if not reviewer or not reviewer.strip():
        raise ValueError("the reviewer's name is required")
    quarter = str(Quarter.parse(quarter)) if quarter else None
    regions_of = office_regions(session) if region else {}
    allowed = set(codes) if codes is not None else None

    def in_scope(m: Measure) -> str | None:
        if allowed is not None and m.code not in allowed:
            return "not among the proposals put to this review"
        if quarter and m.proposed_quarter != quarter:
            return f"proposed in {m.proposed_quarter}, not in {quarter}"
        if region and not in_region(m.region_code, m.offices, region, regions_of):
            return f"belongs to region {m.region_code}, not {region}"
        return None

    applied: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    seen: set[str] = set()
    for decision in decisions:
        code = str(_value(decision, "code") or "").strip()
        action = str(_value(decision, "action") or "").strip()
        owner = (_value(decision, "owner") or "").strip() or None
        comment = (_value(decision, "comment") or "").strip()
        measure = session.exec(select(Measure).where(Measure.code == code)).first()
        if action not in REVIEW_ACTIONS:
            reason = f"unknown action {action!r}; expected one of {', '.join(REVIEW_ACTIONS)}"
        elif code in seen:
            reason = "decided twice in this review; the first decision counts"
        elif measure is None:
            reason = f"no measure {code!r} in the register"
        elif (problem := in_scope(measure)) is not None:
            reason = problem
        elif measure.status != "proposed":
            reason = f"not a proposal any more (status {measure.status!r})"
        elif action == "reassign" and not owner:
            reason = "reassign needs the new owner"
        elif action == "reject" and not comment:
            reason = "reject needs a comment saying why"
        else:
            reason = None
        seen.add(code)
        if reason is None and measure is not None:
            status = {"approve": "approved", "reject": "rejected", "reassign": None}[action]
            try:
                result = update_measure(session, code, reviewer, at, status=status,
                                        changes={"owner": owner} if owner else {}, comment=comment,
                                        expected_version=measure.version)
            except (ValueError, VersionConflict, LookupError) as exc:
                reason = str(exc)
            else:
                applied.append({"code": code, "action": action, "status": result["status"], "owner": measure.owner})
        if reason is not None:
            refused.append({"code": code, "action": action, "reason": reason})
    left = sorted(m.code for m in session.exec(select(Measure).where(Measure.status == "proposed")) if in_scope(m) is None)
    return {"applied": applied, "refused": refused, "left_proposed": left}


def list_register(
    session: Session,
    as_of: date,
    region: str | None = None,
    statuses: list[str] | None = None,
    overdue: bool | None = None,
) -> pd.DataFrame:
    """The register (:func:`register_frame`) filtered by region (:func:`in_region`),
    statuses and overdue at ``as_of``; unknown statuses raise ``ValueError``."""
    unknown = sorted(set(statuses or ()) - set(STATUSES))
    if unknown:
        raise ValueError(f"unknown status {', '.join(map(repr, unknown))}; statuses: {', '.join(STATUSES)}")
    frame = register_frame(session, as_of)
    keep = pd.Series(True, index=frame.index)
    if region:
        regions_of = office_regions(session)
        keep &= pd.Series([in_region(r, o, region, regions_of) for r, o in zip(frame["region_code"], frame["offices"])],
                          index=frame.index, dtype=bool)
    if statuses:
        keep &= frame["status"].isin(statuses)
    if overdue is not None:
        keep &= frame["overdue"] == overdue
    return frame[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- creation


def _create(session: Session, measure: Measure, who: str, at: datetime, comment: str) -> Measure:
    measure.status = "proposed"
    measure.version = 1
    session.add(measure)
    session.flush()
    _history(session, measure, "status", None, "proposed", who, at, comment)
    session.flush()
    return measure


def client_type_for_theme(theme: str, config: AppConfig | None) -> str:
    """Employer-only themes (an employer journey stage) are measured on employers' answers."""
    if config is not None and theme in config.themes and config.themes[theme].stage in EMPLOYER_STAGES:
        return "employer"
    return "citizen"


def kpi_baseline(session: Session, kpi_metric: str, quarter: str, offices: list[str], client_type: str) -> float | None:
    """The KPI over ``offices`` in ``quarter`` (None when the data has none)."""
    from tasks.effects.estimators import kpi_observations  # effects builds on the register; import late to avoid a cycle

    obs = kpi_observations(session, kpi_metric, [quarter], client_type=client_type, offices=offices)
    if obs.empty or float(obs["weight"].sum()) <= 0:
        return None
    return round(float((obs["value"] * obs["weight"]).sum() / obs["weight"].sum()), 2)


def _target(baseline: float | None, change: float) -> float | None:
    if baseline is None:
        return None
    # KPIs are 0-100 scales; a target outside them cannot be reached.
    return round(min(100.0, max(0.0, baseline + change)), 2)


def _open_scopes(session: Session) -> tuple[set[tuple[str, str]], dict[str, set[str]]]:
    """(region, theme) pairs with an open measure, and per theme the offices open measures reach."""
    rows = session.exec(select(Measure.region_code, Measure.theme, Measure.offices).where(Measure.status.in_(OPEN_STATUSES)))
    scopes: set[tuple[str, str]] = set()
    offices: dict[str, set[str]] = {}
    for region, theme, office_list in rows:
        scopes.add((region, theme))
        offices.setdefault(theme, set()).update(o for o in (office_list or "").split(",") if o)
    return scopes, offices


def propose_measures(
    session: Session,
    quarter: str,
    pain_points: pd.DataFrame,
    config: AppConfig,
    as_of: datetime,
) -> list[Measure]:
    """Propose measures from the playbook for each region's top pain points of ``quarter``.

    In: pain points (quarter, level, region_code, theme, journey_stage, priority,
    rank, negative_mentions); only the region rows (``level == "region"``) are used,
    or, in a frame without ``level``, the rows other than 'ALL'. Per region the pain points
    with priority >= ``min_priority_for_measures`` whose theme has a playbook
    template are ranked (a theme counts once, at its best rank) and the top
    ``top_n_for_measures`` are considered; one already covered by an open measure
    of the same region and theme is skipped, and an open measure of the theme that
    reaches some of the region's offices (e.g. one rolled out across regions) leaves
    the proposal only the other offices (none left: skipped). The top N is taken *before* the
    coverage check, so a rerun proposes nothing new instead of reaching down to
    lower-ranked pain points. A code that already exists (e.g. the measure was
    rejected) is not proposed again for the same quarter.

    Out: the new measures (status ``proposed``), sorted by code.
    """
    q = Quarter.parse(quarter)
    thresholds = config.thresholds.pain_points
    if pain_points.empty:
        return []
    if "level" in pain_points.columns:  # pain points per unit: only the region rows propose measures
        pp = pain_points[pain_points["level"].astype(str) == "region"].copy()
    else:  # a frame of region rows only (region_code, 'ALL' = the country)
        pp = pain_points[pain_points["region_code"].astype(str) != "ALL"].copy()
    if "quarter" in pp.columns:
        pp = pp[pp["quarter"].astype(str) == str(q)]
    pp = pp[(pp["priority"] >= thresholds.min_priority_for_measures) & pp["theme"].isin(list(config.playbook.measures))]
    pp = pp[pp["theme"].map(lambda t: bool(config.playbook.measures.get(t)))]
    if pp.empty:
        return []
    pp["region_code"] = pp["region_code"].astype(str)
    pp = pp.sort_values(["region_code", "rank", "priority", "theme", "journey_stage"],
                        ascending=[True, True, False, True, True], kind="mergesort")
    pp = pp.drop_duplicates(["region_code", "theme"], keep="first")

    covered, covered_offices = _open_scopes(session)
    existing_codes = set(session.exec(select(Measure.code)))
    created: list[Measure] = []
    for region_code, group in pp.groupby("region_code", sort=True):
        region_name = config.regions.get(region_code, region_code)
        offices = sorted(o.office_code for o in config.offices if o.region_code == region_code)
        for row in group.head(thresholds.top_n_for_measures).itertuples(index=False):
            theme = str(row.theme)
            code = f"M-{q}-{region_code}-{theme}"
            if (region_code, theme) in covered or code in existing_codes:
                continue
            scope = [o for o in offices if o not in covered_offices.get(theme, set())]
            if not scope:
                continue
            template = config.playbook.measures[theme][0]
            baseline = kpi_baseline(session, template.kpi.metric, str(q), scope, client_type_for_theme(theme, config))
            planned_start = q.cycle_date
            measure = Measure(
                code=code,
                title=template.title,
                description=template.description,
                theme=theme,
                journey_stage=str(row.journey_stage),
                type=template.type,
                region_code=region_code,
                offices=",".join(scope),
                owner=config.playbook.owners.owner_for(region_code, region_name, theme),
                status="proposed",
                source_pain_point=f"{q}:{region_code}:{theme}:{row.journey_stage}",
                proposed_quarter=str(q),
                planned_start=planned_start,
                due_date=planned_start + timedelta(days=template.duration_days),
                kpi_metric=template.kpi.metric,
                kpi_baseline=baseline,
                kpi_target=_target(baseline, template.kpi.target_change),
                kpi_target_change=template.kpi.target_change,
            )
            comment = f"proposed for pain point rank {int(row.rank)}, priority {float(row.priority):.1f}"
            created.append(_create(session, measure, SYSTEM_USER, as_of, comment))
            covered.add((region_code, theme))
            covered_offices.setdefault(theme, set()).update(scope)
            existing_codes.add(code)
    return sorted(created, key=lambda m: m.code)


# --------------------------------------------------------------------------- seeding

# The path a seeded measure walks to reach its recorded status.
_SEED_PATHS: dict[str, tuple[str, ...]] = {
    "proposed": (),
    "approved": ("approved",),
    "in_progress": ("approved", "in_progress"),
    "implemented": ("approved", "in_progress", "implemented"),
    "evaluated": ("approved", "in_progress", "implemented", "evaluated"),
    "closed": ("approved", "in_progress", "implemented", "evaluated", "closed"),
    "rejected": ("rejected",),
    "cancelled": ("approved", "in_progress", "cancelled"),
}


def _d(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _seed_times(rec: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, datetime]:
    """Deterministic moments for each step, derived from the record's own dates."""
    proposed_q = Quarter.parse(str(rec["proposed_quarter"]))
    codesign, start, implemented = _d(rec.get("codesign_date")), _d(rec.get("planned_start")), _d(rec.get("implemented_on"))
    # Proposed at the quarter's cycle date, unless the record shows work began earlier in the quarter.
    earliest = [d - timedelta(days=1) for d in (codesign, start, implemented) if d is not None]
    created_on = max(proposed_q.start, min([proposed_q.cycle_date, *earliest]))
    created = datetime.combine(created_on, time(9))
    guesses: dict[str, datetime] = {
        "approved": datetime.combine(codesign or start or proposed_q.cycle_date + timedelta(days=14), time(10)),
        "in_progress": datetime.combine(start or codesign or proposed_q.cycle_date + timedelta(days=21), time(9)),
        "rejected": datetime.combine(codesign or proposed_q.cycle_date + timedelta(days=14), time(10)),
    }
    if implemented:
        guesses["implemented"] = datetime.combine(implemented, time(17))
        # The first cycle that can evaluate it (same moment evaluate_measures uses).
        guesses["evaluated"] = datetime.combine(Quarter.of(implemented).next().cycle_date, time(6))
        guesses["closed"] = guesses["evaluated"] + timedelta(days=7)
    due = _d(rec.get("due_date"))
    guesses["cancelled"] = datetime.combine(due or (start or proposed_q.cycle_date) + timedelta(days=30), time(12))
    times = {"proposed": created}
    previous = created
    for step in path:
        at = guesses.get(step) or previous + timedelta(days=1)
        if at <= previous:  # keep the history in order even when the record's dates are not
            at = previous + timedelta(hours=1)
        times[step] = previous = at
    return times


def _seed_codesign_form(code: str, value: Any) -> str | None:
    try:
        return codesign_form_id(value)
    except ValueError as exc:
        raise ValueError(f"seed record {code}: {exc}") from None


def seed_measures(
    session: Session,
    records: list[dict[str, Any]],
    as_of_by_status: Mapping[str, datetime] | None = None,
    config: AppConfig | None = None,
) -> list[Measure]:
    """Create measures from the demo's ``register_seed.json`` records.

    Each record is created as ``proposed`` and walked through the status flow to
    its recorded status (``_SEED_PATHS``; a record may give its own ``path``
    list), one history row per step, at moments derived from its dates:
    proposed at the proposing quarter's cycle date (or the day before the
    first recorded date when that is earlier), approved at co-design,
    in progress at the planned start, implemented on ``implemented_on``,
    evaluated at the next quarter's cycle date. ``as_of_by_status`` overrides
    the moment of reaching a status for every record. The KPI baseline is the
    proposing quarter's value in the measure's offices when the data has it.
    Records whose code is already registered are skipped (idempotent).

    The co-design form is stored as its id (labels and aliases such as
    ``usability_testing`` are mapped, :func:`codesign_form_id`). A record that
    walks through ``in_progress`` needs its co-design evidence like any measure:
    without it seeding stops with :class:`CodesignMissing` naming the record.

    Out: the newly created measures, sorted by code.
    """
    existing = set(session.exec(select(Measure.code)))
    created: list[Measure] = []
    for rec in sorted(records, key=lambda r: str(r["code"])):
        code = str(rec["code"])
        if code in existing:
            continue
        status = str(rec.get("status") or "proposed")
        if status not in _SEED_PATHS:
            raise ValueError(f"seed record {code}: unknown status {status!r}")
        path = tuple(rec.get("path") or _SEED_PATHS[status])
        offices = rec.get("offices") or []
        if isinstance(offices, str):
            offices = [o for o in offices.split(",") if o]
        offices = sorted(str(o) for o in offices)
        theme = str(rec["theme"])
        baseline = kpi_baseline(session, str(rec["kpi_metric"]), str(rec["proposed_quarter"]), offices,
                                client_type_for_theme(theme, config)) if offices else None
        change = rec.get("kpi_target_change")
        measure = Measure(
            code=code,
            title=str(rec["title"]),
            description=str(rec.get("description") or ""),
            theme=theme,
            journey_stage=rec.get("journey_stage"),
            type=str(rec["type"]),
            region_code=str(rec["region_code"]),
            offices=",".join(offices),
            owner=str(rec["owner"]),
            status="proposed",
            source_pain_point=rec.get("source_pain_point"),
            proposed_quarter=str(rec["proposed_quarter"]),
            codesign_date=_d(rec.get("codesign_date")),
            codesign_form=_seed_codesign_form(code, rec.get("codesign_form")),
            codesign_clients=rec.get("codesign_clients"),
            planned_start=_d(rec.get("planned_start")),
            due_date=_d(rec.get("due_date")),
            kpi_metric=str(rec["kpi_metric"]),
            kpi_baseline=baseline,
            kpi_target=_target(baseline, float(change)) if change is not None else None,
            kpi_target_change=float(change) if change is not None else None,
        )
        times = _seed_times(rec, path)
        if as_of_by_status:
            times.update({k: v for k, v in as_of_by_status.items() if k in times})
        _create(session, measure, SYSTEM_USER, times["proposed"], "seeded from the register")
        implemented_on = _d(rec.get("implemented_on"))
        for step in path:
            if step == "implemented" and implemented_on is not None:
                measure.implemented_on = implemented_on  # the actual date, not the moment it was recorded
            change_status(session, measure, step, SYSTEM_USER, times[step], comment="seeded from the register")
        if rec.get("effect_verdict"):
            measure.effect_verdict = str(rec["effect_verdict"])
            session.add(measure)
        existing.add(code)
        created.append(measure)
    session.flush()
    return sorted(created, key=lambda m: m.code)


# --------------------------------------------------------------------------- register views

REGISTER_COLUMNS: tuple[str, ...] = (
    "code", "title", "status", "overdue", "region_code", "offices", "theme", "journey_stage", "type", "owner",
    "source_pain_point", "proposed_quarter", "codesign_date", "codesign_form", "codesign_clients",
    "planned_start", "due_date", "implemented_on", "kpi_metric", "kpi_baseline", "kpi_target",
    "effect_verdict", "effect_quarter", "effect_method", "effect_estimate", "effect_ci_low", "effect_ci_high",
    "effect_n_obs", "version", "description",
)

# Column headers of the register exports, catalog entries (locale/, see cxloop/i18n.py).
# Imports recognise the headers of every language, so a changed translation should keep
# the old header readable (tasks.measures.register_io reads files exported before the change).
_REGISTER_COLUMN_MSGIDS: dict[str, str | Marked] = {
    "code": NP_("register column", "Code"),
    "title": NP_("register column", "Measure"),
    "status": NP_("register column", "Status"),
    "overdue": NP_("register column", "Overdue"),
    "region_code": NP_("register column", "Region"),
    "offices": NP_("register column", "Offices"),
    "theme": NP_("register column", "Theme"),
    "journey_stage": NP_("register column", "Journey stage"),
    "type": NP_("register column", "Type"),
    "owner": NP_("register column", "Owner"),
    "source_pain_point": NP_("register column", "Pain point"),
    # TRANSLATORS: the quarter a measure was proposed in (the cells hold quarters such as 2026Q3).
    "proposed_quarter": NP_("register column", "Proposed in"),
    "codesign_date": NP_("register column", "Co-design date"),
    "codesign_form": NP_("register column", "Co-design form"),
    "codesign_clients": NP_("register column", "Clients involved"),
    "planned_start": NP_("register column", "Planned start"),
    "due_date": NP_("register column", "Due date"),
    "implemented_on": NP_("register column", "Implemented on"),
    "kpi_metric": NP_("register column", "KPI"),
    "kpi_baseline": NP_("register column", "Baseline"),
    "kpi_target": NP_("register column", "Target"),
    "effect_verdict": NP_("register column", "Effect verdict"),
    # TRANSLATORS: the quarter a measure's effect was evaluated in.
    "effect_quarter": NP_("register column", "Evaluated in"),
    "effect_method": NP_("register column", "Method"),
    "effect_estimate": NP_("register column", "Effect"),
    # TRANSLATORS: lower end of the effect's 95 % confidence interval ("%%" is a percent sign).
    "effect_ci_low": NP_("register column", "95%% CI low"),
    "effect_ci_high": NP_("register column", "95%% CI high"),
    "effect_n_obs": NP_("register column", "Observations"),
    "version": NP_("register column", "Version"),
    "description": NP_("register column", "Description"),
    "change_comment": NP_("register column", "Change comment"),
}
#: lang -> column id -> header, for every report language (ru, en, fi).
REGISTER_LABELS: dict[str, dict[str, str]] = {
    lang: gettext(lang).labels(_REGISTER_COLUMN_MSGIDS) for lang in LANGUAGES
}


def register_frame(session: Session, as_of: date) -> pd.DataFrame:
    """The register, one row per measure sorted by code (``REGISTER_COLUMNS``).

    ``overdue`` is judged at ``as_of``; the ``effect_*`` columns come from the
    latest effect evaluation of the measure (empty when never evaluated).
    """
    measures = list(session.exec(select(Measure).order_by(Measure.code)))
    latest: dict[int, EffectEvaluation] = {}
    for ev in session.exec(select(EffectEvaluation).order_by(EffectEvaluation.measure_id, EffectEvaluation.quarter)):
        latest[ev.measure_id] = ev  # ordered by quarter, so the last one wins
    rows = []
    for m in measures:
        ev = latest.get(m.id)  # type: ignore[arg-type]
        rows.append(
            {
                **{c: getattr(m, c) for c in REGISTER_COLUMNS if hasattr(Measure, c)},
                "offices": ", ".join(o for o in m.offices.split(",") if o),
                "overdue": is_overdue(m, as_of),
                "effect_verdict": m.effect_verdict or (ev.verdict if ev else None),
                "effect_quarter": ev.quarter if ev else None,
                "effect_method": ev.method if ev else None,
                "effect_estimate": ev.estimate if ev else None,
                "effect_ci_low": ev.ci_low if ev else None,
                "effect_ci_high": ev.ci_high if ev else None,
                "effect_n_obs": ev.n_obs if ev else None,
            }
        )
    return pd.DataFrame(rows, columns=list(REGISTER_COLUMNS))


# The exported files end with an empty column where a person explains an edit; the
# import (tasks.measures.register_io) keeps it as the history comment of that row's changes.
EXPORT_COLUMNS: tuple[str, ...] = (*REGISTER_COLUMNS, "change_comment")


def export_frame(session: Session, as_of: date, lang: str = "ru") -> pd.DataFrame:
    """The register as exported (``EXPORT_COLUMNS``): co-design forms as labels in
    ``lang``, the comment column empty. What the import compares a file against."""
    frame = register_frame(session, as_of)
    frame["codesign_form"] = [codesign_label(f, lang) for f in frame["codesign_form"]]
    # Counts stay whole numbers in the file (a column with blanks would be float: "12.00").
    for name in ("codesign_clients", "effect_n_obs", "version"):
        frame[name] = pd.Series([None if v is None or v != v else int(v) for v in frame[name]], index=frame.index, dtype=object)
    frame["change_comment"] = None
    return frame[list(EXPORT_COLUMNS)]


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars -> Python
        value = value.item()
    return neutralise(value)


STATUS_FILLS: dict[str, str] = {
    "proposed": "DDEBF7",
    "approved": "BDD7EE",
    "in_progress": "FFF2CC",
    "implemented": "E2EFDA",
    "evaluated": "C6EFCE",
    "closed": "D9D9D9",
    "rejected": "EDEDED",
    "cancelled": "EDEDED",
}
OVERDUE_FILL = "FFC7CE"
_WIDTHS = {"title": 48, "description": 60, "owner": 36, "offices": 30, "source_pain_point": 36}


def _deterministic_zip(path: Path, fixed: datetime) -> None:
    """Rewrite an XLSX with fixed member timestamps and a fixed 'modified'
    property (openpyxl stamps the wall clock), so the same register gives the same file."""
    stamp = fixed.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            zout.writestr(member, data)
    path.write_bytes(out.getvalue())


def export_register_xlsx(session: Session, path: Path, as_of: date, lang: str = "ru") -> Path:
    """Write the register as an XLSX workbook for the working group.

    Header row frozen with an autofilter, status cells coloured, overdue rows
    highlighted, text that could run as a formula neutralised with ``'``; the
    status and co-design form cells offer their allowed values as a drop-down.
    ``code`` and ``version`` let ``tasks.measures.register_io`` apply an edited copy back.
    Properties and timestamps are fixed from ``as_of``: the same register gives
    the same file.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    frame = export_frame(session, as_of, lang)
    labels = REGISTER_LABELS.get(lang, REGISTER_LABELS["en"])
    wb = Workbook()
    ws = wb.active
    sheet_lang = lang if lang in LANGUAGES else "en"
    ws.title = gettext(sheet_lang).pgettext("register sheet title", "Measure register")
    columns = list(frame.columns)
    ws.append([labels.get(c, c) for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    status_col = columns.index("status") + 1
    for values in frame.itertuples(index=False):
        record = dict(zip(columns, values))
        ws.append([_cell_value(record[c]) for c in columns])
        row = ws.max_row
        for col, name in enumerate(columns, start=1):
            cell = ws.cell(row=row, column=col)
            if isinstance(cell.value, (date, datetime)):
                cell.number_format = "YYYY-MM-DD"
            if record["overdue"]:
                cell.fill = PatternFill("solid", fgColor=OVERDUE_FILL)
        fill = STATUS_FILLS.get(str(record["status"]))
        if fill:
            ws.cell(row=row, column=status_col).fill = PatternFill("solid", fgColor=fill)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(ws.max_row, 1)}"
    if ws.max_row > 1:
        forms = CODESIGN_FORM_LABELS.get(lang, CODESIGN_FORM_LABELS["en"])
        for name, allowed in (("status", STATUSES), ("codesign_form", tuple(forms[f] for f in CODESIGN_FORMS))):
            letter = get_column_letter(columns.index(name) + 1)
            dv = DataValidation(type="list", formula1='"' + ",".join(allowed) + '"', allow_blank=True,
                                showErrorMessage=True, errorTitle=labels.get(name, name),
                                error=", ".join(allowed))
            dv.add(f"{letter}2:{letter}{ws.max_row}")
            ws.add_data_validation(dv)
    for col, name in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = _WIDTHS.get(name, max(12, min(24, len(labels.get(name, name)) + 2)))

    fixed = datetime.combine(as_of, time(0))
    wb.properties.creator = SYSTEM_USER
    wb.properties.lastModifiedBy = SYSTEM_USER
    wb.properties.title = ws.title
    wb.properties.created = fixed
    wb.properties.modified = fixed
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    _deterministic_zip(path, fixed)
    return path


def export_register_csv(session: Session, path: Path, as_of: date, lang: str = "ru") -> Path:
    """The register as CSV (UTF-8 with BOM so Excel reads Cyrillic), formula text neutralised;
    the same columns as the XLSX (``EXPORT_COLUMNS``)."""
    frame = export_frame(session, as_of, lang)
    labels = REGISTER_LABELS.get(lang, REGISTER_LABELS["en"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([labels.get(c, c) for c in frame.columns])
        for values in frame.itertuples(index=False):
            out = []
            for v in values:
                v = _cell_value(v)
                if v is None:
                    out.append("")
                elif isinstance(v, (date, datetime)):
                    out.append(v.isoformat())
                elif isinstance(v, float):
                    out.append(f"{v:.2f}")
                else:
                    out.append(v)
            writer.writerow(out)
    return path
