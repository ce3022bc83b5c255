"""Seeding the demo's measure register: the records of ``register_seed.json`` walked through
the status flow to their recorded status, with a complete, deterministic history.

Used by the demo (and benchmarks and tests that want a filled register); the
cycle itself never seeds. Every step goes through the register's own rules
(:mod:`tasks.measures.register`, :mod:`tasks.measures.status`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, select

from cxloop.config import AppConfig
from cxloop.quarters import Quarter
from models.tables import Measure
from tasks.measures.kpi import client_type_for_theme, kpi_baseline, kpi_target_for
from tasks.measures.register import SYSTEM_USER, change_status, create_measure
from tasks.measures.rollout import normalise_office_starts
from tasks.measures.status import codesign_form_id

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
    codesign, start, implemented = (
        _d(rec.get("codesign_date")),
        _d(rec.get("planned_start")),
        _d(rec.get("implemented_on")),
    )
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
        # The first cycle that can evaluate it (same moment tasks.effects.evaluate.evaluate_due_measures uses).
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
        baseline = (
            kpi_baseline(
                session,
                str(rec["kpi_metric"]),
                str(rec["proposed_quarter"]),
                offices,
                client_type_for_theme(theme, config),
            )
            if offices
            else None
        )
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
            office_starts=normalise_office_starts(rec.get("office_starts")),
            kpi_metric=str(rec["kpi_metric"]),
            kpi_baseline=baseline,
            kpi_target=kpi_target_for(baseline, float(change)) if change is not None else None,
            kpi_target_change=float(change) if change is not None else None,
        )
        times = _seed_times(rec, path)
        if as_of_by_status:
            times.update({k: v for k, v in as_of_by_status.items() if k in times})
        create_measure(session, measure, SYSTEM_USER, times["proposed"], "seeded from the register")
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
