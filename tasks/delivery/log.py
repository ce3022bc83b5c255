"""The delivery log (table ``delivery``): one row per attempt, folded into deliveries.

:func:`record_attempt` writes a row (committed at once), :func:`already_sent` tells whether
a recipient already has this exact report, :func:`delivery_log` folds the rows into one
:class:`DeliveryState` per delivery; send.py sends, and re-sends what the log says failed.
"""

# The delivery log (table ``delivery``)
#     One row per attempt outcome: a message sent on the third try leaves two ``failed``
#     rows (each with the server's error text) and one ``sent`` row. :func:`delivery_log`
#     folds the rows into one :class:`DeliveryState` per quarter x scope x recipient x
#     report file, with the latest status and the number of attempts.
#     A recipient who already has a ``sent`` row for the same quarter, scope and report
#     content hash is skipped, so rerunning a quarter does not send the same report
#     twice; a changed report (new hash) is sent again; ``force`` sends anyway.
#     ``resend_deliveries`` (send.py) sends again what is still failed (or everything).

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from cxloop.domain import NATIONAL
from cxloop.quarters import Quarter
from models.tables import Delivery
from tasks.delivery.messages import display_error, mask_address, report_language
from tasks.reports.render import ReportFile

SENT, FAILED = "sent", "failed"
_ERROR_MAX = 500


# ---------------------------------------------------------------------------
# Writing the log
# ---------------------------------------------------------------------------


def already_sent(session: Session, quarter: str, scope: str, recipient: str, sha256: str) -> int:
    """How many ``sent`` rows the recipient has for this quarter, scope and report content (0: not sent yet)."""
    stmt = (
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.quarter == quarter,
            Delivery.scope == scope,
            Delivery.recipient == recipient,
            Delivery.report_sha256 == sha256,
            Delivery.status == SENT,
        )
    )
    return int(session.exec(stmt).one())


def record_attempt(
    session: Session, quarter: str, report: ReportFile, recipient: str, transport: str, status: str, error: str | None
) -> None:
    """Log one attempt's outcome (the error text cut to 500 characters), committed at once."""
    session.add(
        Delivery(
            quarter=quarter,
            scope=report.scope,
            recipient=recipient,
            report_path=str(report.path),
            report_sha256=report.sha256,
            transport=transport,
            status=status,
            at=datetime.now(UTC),
            error=error[:_ERROR_MAX] if error else None,
        )
    )
    # Committed per attempt: if the run dies after a message left, the record of it must
    # survive, or the rerun would send it again.
    session.commit()


# ---------------------------------------------------------------------------
# Reading the log
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryState:
    """One delivery (quarter x scope x recipient x report file) as the log leaves it.

    ``status`` is the latest attempt's; ``attempts`` counts the tries of the latest
    sending of this report content (back to, not including, the previous ``sent``);
    ``error`` is the latest error when the status is ``failed``.
    """

    quarter: str
    scope: str
    recipient: str
    report_path: str
    report_sha256: str
    transport: str
    status: str
    attempts: int
    first_at: datetime
    last_at: datetime
    error: str | None

    @property
    def report_file(self) -> str:
        return Path(self.report_path).name

    @property
    def lang(self) -> str | None:
        return report_language(self.report_path)

    def as_dict(self, show_address: bool = False) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "scope": self.scope,
            "recipient": self.recipient if show_address else mask_address(self.recipient),
            "report": self.report_file,
            "report_sha256": self.report_sha256,
            "transport": self.transport,
            "status": self.status,
            "attempts": self.attempts,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "error": self.error if show_address else display_error(self.error),
        }


def delivery_log(
    session: Session, quarter: str | None = None, status: str | None = None, scopes: Iterable[str] | None = None
) -> list[DeliveryState]:
    """The log folded into one :class:`DeliveryState` per delivery, ordered by quarter, scope, recipient."""
    stmt = select(Delivery).order_by(col(Delivery.id))
    if quarter is not None:
        stmt = stmt.where(Delivery.quarter == str(Quarter.parse(quarter)))
    scope_set = set(scopes) if scopes is not None else None
    if scope_set is not None:
        stmt = stmt.where(col(Delivery.scope).in_(sorted(scope_set)))
    groups: dict[tuple[str, str, str, str], list[Delivery]] = defaultdict(list)
    for row in session.exec(stmt):
        groups[(row.quarter, row.scope, row.recipient.lower(), Path(row.report_path).name)].append(row)
    states = []
    for rows in groups.values():
        last = rows[-1]
        tries = 0
        for row in reversed(rows):
            if row is not last and row.status == SENT:
                break
            if row.report_sha256 == last.report_sha256:
                tries += 1
        states.append(
            DeliveryState(
                quarter=last.quarter,
                scope=last.scope,
                recipient=last.recipient,
                report_path=last.report_path,
                report_sha256=last.report_sha256,
                transport=last.transport,
                status=last.status,
                attempts=tries,
                first_at=rows[0].at,
                last_at=last.at,
                error=last.error if last.status == FAILED else None,
            )
        )
    if status is not None:
        states = [s for s in states if s.status == status]
    states.sort(key=lambda s: (s.quarter, s.scope != NATIONAL, s.scope, s.report_file, s.recipient.lower()))
    return states


__all__ = [
    "FAILED",
    "SENT",
    "DeliveryState",
    "already_sent",
    "delivery_log",
    "record_attempt",
]
