"""The measure register's core: every write goes through here and leaves its history.

A change of status (:func:`change_status`) or of any other field (:func:`update_fields`)
bumps ``Measure.version`` and leaves one ``MeasureHistory`` row per changed field
(who, when, from -> to, comment); measures are never deleted; a caller that read
version *n* and passes ``expected_version=n`` is refused (``VersionConflict``) when
someone else changed the measure in between.

Timestamps always come from the caller (or from the records' dates), never
from the wall clock, so a rerun writes the same register.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import update
from sqlmodel import Session, col, select

from cxloop.domain import JOURNEY_STAGES, MEASURE_TYPES
from cxloop.quarters import Quarter
from models.tables import EffectEvaluation, Measure, MeasureHistory
from tasks.measures.rollout import check_office_starts, normalise_office_starts
from tasks.measures.status import check_status_change, codesign_form_id, is_overdue, override_comment

SYSTEM_USER = "cxloop"

# Fields a person may change through update_fields; status has its own flow and
# code/id/version are identity and bookkeeping.
_EDITABLE_FIELDS: frozenset[str] = frozenset(
    {
        "title",
        "description",
        "theme",
        "journey_stage",
        "type",
        "region_code",
        "offices",
        "owner",
        "source_pain_point",
        "proposed_quarter",
        "codesign_date",
        "codesign_form",
        "codesign_clients",
        "planned_start",
        "due_date",
        "implemented_on",
        "office_starts",
        "kpi_metric",
        "kpi_baseline",
        "kpi_target",
        "effect_verdict",
    }
)
_DATE_FIELDS = frozenset({"codesign_date", "planned_start", "due_date", "implemented_on"})


class VersionConflict(RuntimeError):
    """Someone else changed the measure since the caller read it (optimistic locking)."""


class MeasureNotFound(LookupError):
    """No measure with that code in the register."""


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
    result = session.exec(
        update(Measure)
        .where(col(Measure.id) == measure.id, col(Measure.version) == current)
        .values(version=current + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise VersionConflict(f"measure {measure.code}: changed by someone else since version {current}; reload it")
    measure.version = current + 1


def as_utc(at: datetime) -> datetime:
    """History timestamps are stored in UTC; a naive moment (cycle dates) is taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _history(
    session: Session, measure: Measure, field: str, old: Any, new: Any, who: str, at: datetime, comment: str
) -> None:
    assert measure.id is not None  # the measure is flushed (create_measure, _claim_version) before its history
    session.add(
        MeasureHistory(
            measure_id=measure.id,
            at=as_utc(at),
            who=who,
            field=field,
            from_value=_as_text(old),
            to_value=_as_text(new),
            comment=comment,
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
    (:func:`tasks.measures.status.codesign_gaps`); without it the change is refused
    (:class:`CodesignMissing`) unless ``override_reason`` is given, and then the
    history row's comment is ``override: <reason>`` (:func:`tasks.measures.status.is_override`). A reason
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


# --------------------------------------------------------------------------- field values

_REQUIRED_TEXT = frozenset({"title", "owner", "type", "region_code", "theme", "proposed_quarter", "kpi_metric"})
OFFICE_SPLIT_RE = re.compile(r"[,;\s]+")


def normalise_offices(value: Any) -> str:
    """Office codes as the register stores them: sorted, unique, comma-separated."""
    if value is None:
        return ""
    items = value if isinstance(value, (list, tuple, set, frozenset)) else OFFICE_SPLIT_RE.split(str(value))
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
    if field == "office_starts":
        try:
            return normalise_office_starts(value)
        except ValueError as exc:
            raise ValueError(f"measure {code}: office_starts: {exc}") from None
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
        raise ValueError(
            f"measure {code}: unknown journey stage {str(value)[:40]!r}; expected one of {', '.join(JOURNEY_STAGES)}"
        )
    if field == "type" and value not in MEASURE_TYPES:
        raise ValueError(
            f"measure {code}: unknown measure type {str(value)[:40]!r}; expected one of {', '.join(MEASURE_TYPES)}"
        )
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
    if {"office_starts", "offices", "implemented_on"} & set(normalised):
        after = {f: normalised.get(f, getattr(measure, f)) for f in ("office_starts", "offices", "implemented_on")}
        implemented = after["implemented_on"]
        problems = check_office_starts(
            after["office_starts"] or "", after["offices"] or "", Quarter.of(implemented) if implemented else None
        )
        if problems:
            raise ValueError(f"measure {measure.code}: office_starts: {'; '.join(problems)}")
    return normalised


# --------------------------------------------------------------------------- reading and creating


def history_of(session: Session, measure: Measure) -> list[MeasureHistory]:
    """The measure's history, oldest first."""
    return list(
        session.exec(
            select(MeasureHistory)
            .where(col(MeasureHistory.measure_id) == measure.id)
            .order_by(col(MeasureHistory.at), col(MeasureHistory.id))
        )
    )


def get_measure(session: Session, code: str) -> Measure:
    """The measure with ``code``; :class:`MeasureNotFound` when the register has none."""
    measure = session.exec(select(Measure).where(Measure.code == code)).first()
    if measure is None:
        raise MeasureNotFound(f"no measure {code!r} in the register")
    return measure


def create_measure(session: Session, measure: Measure, who: str, at: datetime, comment: str) -> Measure:
    """Add ``measure`` to the register as ``proposed``, version 1, with its first history row."""
    measure.status = "proposed"
    measure.version = 1
    session.add(measure)
    session.flush()
    _history(session, measure, "status", None, "proposed", who, at, comment)
    session.flush()
    return measure


# --------------------------------------------------------------------------- register views

REGISTER_COLUMNS: tuple[str, ...] = (
    "code",
    "title",
    "status",
    "overdue",
    "region_code",
    "offices",
    "theme",
    "journey_stage",
    "type",
    "owner",
    "source_pain_point",
    "proposed_quarter",
    "codesign_date",
    "codesign_form",
    "codesign_clients",
    "planned_start",
    "due_date",
    "implemented_on",
    "office_starts",
    "kpi_metric",
    "kpi_baseline",
    "kpi_target",
    "effect_verdict",
    "effect_quarter",
    "effect_method",
    "effect_estimate",
    "effect_ci_low",
    "effect_ci_high",
    "effect_n_obs",
    "version",
    "description",
)


def register_frame(session: Session, as_of: date) -> pd.DataFrame:
    """The register, one row per measure sorted by code (``REGISTER_COLUMNS``).

    ``overdue`` is judged at ``as_of``; the ``effect_*`` columns come from the
    latest effect evaluation of the measure (empty when never evaluated).
    """
    measures = list(session.exec(select(Measure).order_by(col(Measure.code))))
    latest: dict[int, EffectEvaluation] = {}
    evaluations = select(EffectEvaluation).order_by(col(EffectEvaluation.measure_id), col(EffectEvaluation.quarter))
    for evaluation in session.exec(evaluations):
        latest[evaluation.measure_id] = evaluation  # ordered by quarter, so the last one wins
    rows = []
    for m in measures:
        ev = latest.get(m.id) if m.id is not None else None
        rows.append(
            {
                **{c: getattr(m, c) for c in REGISTER_COLUMNS if hasattr(Measure, c)},
                "offices": ", ".join(o for o in m.offices.split(",") if o),
                "office_starts": ", ".join(p for p in m.office_starts.split(",") if p),
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
