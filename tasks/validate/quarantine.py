"""Validate stage (loop step 2), the quarantine table: the analyst lists, counts and exports the
quarantined rows (CSV, formula text neutralised) and releases them for re-ingest.
Releasing (:func:`release_rows`) marks rows with ``released_at``; nothing is deleted.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session, col

from cxloop.export_safety import neutralise_formula as neutralise
from cxloop.files import file_sha256
from cxloop.quarters import Quarter
from models.tables import IngestedFile, Quarantine
from tasks.collect.discovery import InputError


def _path_variants(path: str | Path) -> list[str]:
    """How a file may have been recorded: as given, absolute, or relative to the working directory."""
    p = Path(path)
    variants = {str(path), str(p), str(p.resolve())}
    with contextlib.suppress(ValueError):
        variants.add(str(p.resolve().relative_to(Path.cwd())))
    return sorted(variants)


def _filtered(stmt, quarter: str | None, file: str | Path | None, channel: str | None, include_released: bool = False):
    if quarter:
        stmt = stmt.where(col(Quarantine.quarter) == str(Quarter.parse(quarter)))
    if file:
        stmt = stmt.where(col(Quarantine.source_file).in_(_path_variants(file)))
    if channel:
        stmt = stmt.where(col(Quarantine.channel) == channel)
    if not include_released:
        stmt = stmt.where(col(Quarantine.released_at).is_(None))
    return stmt


def count_quarantine(
    session: Session,
    quarter: str | None = None,
    file: str | Path | None = None,
    channel: str | None = None,
    include_released: bool = False,
) -> int:
    stmt = _filtered(select(func.count()).select_from(Quarantine), quarter, file, channel, include_released)
    return session.execute(stmt).scalar_one()


QUARANTINE_COLUMNS = ("id", "quarter", "channel", "file", "row", "field", "rule", "reason")


def list_quarantine(
    session: Session,
    quarter: str | None = None,
    file: str | Path | None = None,
    channel: str | None = None,
    limit: int | None = None,
    include_released: bool = False,
) -> list[dict]:
    """Open quarantined rows (all with ``include_released``), oldest ingest first, then by row:
    id, quarter, channel, file, row, field, rule, reason."""
    stmt = _filtered(select(Quarantine), quarter, file, channel, include_released).order_by(Quarantine.id)
    if limit:
        stmt = stmt.limit(limit)
    return [
        {
            "id": q.id,
            "quarter": q.quarter,
            "channel": q.channel,
            "file": q.source_file,
            "row": q.source_row,
            "field": q.field,
            "rule": q.rule,
            "reason": q.reason,
        }
        for q in session.execute(stmt).scalars()
    ]


def export_quarantine_csv(
    session: Session, path: Path, quarter: str | None = None, file: str | Path | None = None, channel: str | None = None
) -> int:
    """Write the (filtered) quarantine as CSV, UTF-8 with BOM so Excel reads Cyrillic; text that a
    spreadsheet would run as a formula (= + - @) gets a leading apostrophe. Returns rows written."""
    rows = list_quarantine(session, quarter, file, channel)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(QUARANTINE_COLUMNS)
        for row in rows:
            writer.writerow([neutralise(row[c]) for c in QUARANTINE_COLUMNS])
    return len(rows)


@dataclass
class ReleaseItem:
    path: str
    quarter: str
    channel: str
    ingested_file_id: int
    quarantined_rows: int
    status: str  # ready | unchanged | missing | superseded | released
    message: str


def release_plan(session: Session, file: str | Path | None = None, ids: Sequence[int] = ()) -> list[ReleaseItem]:
    """What releasing the quarantined rows of a file (or of the given quarantine ids) means now.

    Nothing is changed in the database (see :func:`release_rows`): per ingested
    file, ``ready`` = the file on disk differs from what was ingested, so
    ``cxloop ingest PATH`` accepts the fixed rows; ``unchanged`` = fix the source
    first; ``missing`` = the file is no longer there; ``superseded`` = a newer version
    of the file was ingested already (its quarantine is the one that counts)."""
    if file is None and not ids:
        raise InputError("name a file (--file PATH) or quarantine ids (--id N)")
    stmt = select(col(Quarantine.ingested_file_id), func.count()).group_by(col(Quarantine.ingested_file_id))
    if file is not None:
        stmt = stmt.where(col(Quarantine.source_file).in_(_path_variants(file)))
    if ids:
        stmt = stmt.where(col(Quarantine.id).in_(list(ids)))
    counts = dict(session.execute(stmt).all())
    items = []
    for file_id in sorted(counts):
        rec = session.get_one(IngestedFile, file_id)  # the quarantine's foreign key: the file exists
        newer = session.execute(
            select(func.count())
            .select_from(IngestedFile)
            .where(col(IngestedFile.path) == rec.path, col(IngestedFile.id) > file_id)
        ).scalar_one()
        disk = Path(rec.path)
        if newer:
            status, message = (
                "superseded",
                "a newer version of this file was ingested since; its quarantine is the current one",
            )
        elif not disk.is_file():
            status, message = (
                "missing",
                "the file is no longer at this path: put the fixed file there and run cxloop ingest on it",
            )
        elif file_sha256(disk) == rec.sha256:
            status, message = (
                "unchanged",
                "the file is unchanged since it was ingested: fix the source rows first "
                "(re-ingesting the same content is a no-op)",
            )
        else:
            status, message = (
                "ready",
                (
                    f"the file changed since it was ingested: `cxloop ingest {rec.path} --quarter {rec.quarter}` "
                    "accepts the fixed rows; rows accepted before count as duplicates"
                ),
            )
        items.append(ReleaseItem(rec.path, rec.quarter, rec.channel, file_id, counts[file_id], status, message))
    return items


def release_rows(
    session: Session, at: datetime, file: str | Path | None = None, ids: Sequence[int] = ()
) -> list[ReleaseItem]:
    """Release the open quarantined rows of a file (or the given ids) for re-ingest.

    A released row is no longer listed (``--all`` shows it). The next ingest of that
    path validates the file again, even when its content is unchanged (e.g. after the
    office registry was fixed): rows accepted before count as duplicates, fixed rows
    are accepted and whatever is still wrong is quarantined again, as open rows of the
    new ingest. :func:`release_plan` tells without changing anything whether the file
    on disk changed since its ingest.

    Returns, per ingested file, how many rows were released and what to do next."""
    plan = release_plan(session, file, ids)
    stmt = select(Quarantine).where(col(Quarantine.released_at).is_(None))
    if file is not None:
        stmt = stmt.where(col(Quarantine.source_file).in_(_path_variants(file)))
    if ids:
        stmt = stmt.where(col(Quarantine.id).in_(list(ids)))
    released: dict[int, int] = {}
    for row in session.execute(stmt).scalars():
        row.released_at = at
        released[row.ingested_file_id] = released.get(row.ingested_file_id, 0) + 1
    session.flush()
    out = []
    for item in plan:
        n = released.get(item.ingested_file_id, 0)
        if item.status == "superseded" or n == 0:
            out.append(item)
            continue
        how = "the changed file" if item.status == "ready" else "the same file (it is validated again)"
        out.append(
            ReleaseItem(
                item.path,
                item.quarter,
                item.channel,
                item.ingested_file_id,
                n,
                "released",
                f"{n} rows released: `cxloop ingest {item.path} --quarter {item.quarter}` takes {how}; "
                "rows accepted before count as duplicates",
            )
        )
    return out
