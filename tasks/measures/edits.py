"""People's edits of the register: one measure at a time, the working group's review of
proposals, and the register as a filtered list.

Every edit is checked whole before anything is written and then goes through the
register's core (:mod:`tasks.measures.register`); the XLSX round trip of the same
edits is :mod:`tasks.measures.register_io`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from cxloop.domain import MEASURE_STATUSES
from cxloop.quarters import Quarter
from models.tables import Measure, MeasureHistory
from tasks.collect.offices import office_regions
from tasks.measures.register import (
    OFFICE_SPLIT_RE,
    VersionConflict,
    change_status,
    get_measure,
    normalise_changes,
    register_frame,
    update_fields,
)
from tasks.measures.status import check_status_change

REVIEW_ACTIONS: tuple[str, ...] = ("approve", "reject", "reassign")


# --------------------------------------------------------------------------- one measure


def _last_history_id(session: Session, measure: Measure) -> int:
    ids = session.exec(select(col(MeasureHistory.id)).where(col(MeasureHistory.measure_id) == measure.id)).all()
    return max((i for i in ids if i is not None), default=0)


def _history_since(session: Session, measure: Measure, last_id: int) -> list[MeasureHistory]:
    session.flush()
    return list(
        session.exec(
            select(MeasureHistory)
            .where(col(MeasureHistory.measure_id) == measure.id, col(MeasureHistory.id) > last_id)
            .order_by(col(MeasureHistory.id))
        )
    )


def preview(measure: Measure, changes: Mapping[str, Any]) -> SimpleNamespace:
    """The measure as it would be after ``changes`` (normalised), without touching it:
    what :func:`check_status_change` judges when fields and status change together."""
    values = {name: getattr(measure, name) for name in Measure.model_fields}
    values.update(changes)
    return SimpleNamespace(**values)


def edit_measure(
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
    if status is not None and status not in MEASURE_STATUSES:
        raise ValueError(f"measure {code}: unknown status {status!r}; statuses: {', '.join(MEASURE_STATUSES)}")
    normalised = normalise_changes(measure, changes or {})
    move = status is not None and status != measure.status
    overridden = (
        check_status_change(preview(measure, normalised), status, at, override_reason)
        if move and status is not None
        else False
    )
    last_id = _last_history_id(session, measure)
    if normalised:
        update_fields(session, measure, normalised, who, at, comment, expected_version)
    if move:
        change_status(
            session,
            measure,
            status or "",
            who,
            at,
            comment,
            expected_version=None if normalised else expected_version,
            override_reason=override_reason if overridden else None,
        )
    written = _history_since(session, measure, last_id)
    return {
        "code": measure.code,
        "status": measure.status,
        "version": measure.version,
        "changes": [{"field": h.field, "from": h.from_value, "to": h.to_value} for h in written],
        "override": overridden,
    }


# --------------------------------------------------------------------------- the review of proposals


def _value(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def in_region(region_code: str, offices: str, region: str, regions_of: Mapping[str, str]) -> bool:
    """Whether a measure belongs to ``region``: its own region, or (a measure rolled out
    across regions) one of its offices is there."""
    if region_code == region:
        return True
    return any(regions_of.get(o) == region for o in OFFICE_SPLIT_RE.split(offices or "") if o)


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
                result = edit_measure(
                    session,
                    code,
                    reviewer,
                    at,
                    status=status,
                    changes={"owner": owner} if owner else {},
                    comment=comment,
                    expected_version=measure.version,
                )
            except (ValueError, VersionConflict, LookupError) as exc:
                reason = str(exc)
            else:
                applied.append({"code": code, "action": action, "status": result["status"], "owner": measure.owner})
        if reason is not None:
            refused.append({"code": code, "action": action, "reason": reason})
    left = sorted(
        m.code for m in session.exec(select(Measure).where(Measure.status == "proposed")) if in_scope(m) is None
    )
    return {"applied": applied, "refused": refused, "left_proposed": left}


# --------------------------------------------------------------------------- the register as a list


def list_register(
    session: Session,
    as_of: date,
    region: str | None = None,
    statuses: list[str] | None = None,
    overdue: bool | None = None,
) -> pd.DataFrame:
    """The register (:func:`register_frame`) filtered by region (:func:`in_region`),
    statuses and overdue at ``as_of``; unknown statuses raise ``ValueError``."""
    unknown = sorted(set(statuses or ()) - set(MEASURE_STATUSES))
    if unknown:
        raise ValueError(f"unknown status {', '.join(map(repr, unknown))}; statuses: {', '.join(MEASURE_STATUSES)}")
    frame = register_frame(session, as_of)
    keep = pd.Series(True, index=frame.index)
    if region:
        regions_of = office_regions(session)
        keep &= pd.Series(
            [in_region(r, o, region, regions_of) for r, o in zip(frame["region_code"], frame["offices"], strict=True)],
            index=frame.index,
            dtype=bool,
        )
    if statuses:
        keep &= frame["status"].isin(statuses)
    if overdue is not None:
        keep &= frame["overdue"] == overdue
    return frame[keep].reset_index(drop=True)
