"""The office registry: which offices exist and which region each belongs to.
Feedback naming an office that is not here is quarantined."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from cxloop import config as cfg
from models.tables import Office


def merge_offices(session: Session, offices: list[cfg.Office]) -> dict[str, int]:
    """Insert new offices and update changed ones; offices absent from the file are kept."""
    existing = {o.office_code: o for o in session.execute(select(Office)).scalars()}
    added = updated = 0
    for item in offices:
        row = existing.get(item.office_code)
        if row is None:
            session.add(Office(**item.model_dump()))
            added += 1
        elif (row.office_name, row.region_code, row.region_name) != (
            item.office_name,
            item.region_code,
            item.region_name,
        ):
            row.office_name, row.region_code, row.region_name = item.office_name, item.region_code, item.region_name
            updated += 1
    session.flush()
    return {"added": added, "updated": updated, "unchanged": len(offices) - added - updated}


def office_regions(session: Session) -> dict[str, str]:
    """Office code -> region code, from the office registry in the database."""
    return dict(session.execute(select(col(Office.office_code), col(Office.region_code))).all())
