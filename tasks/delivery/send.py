"""The delivery stage's run: each report to its own recipients, with retries, logged.

:func:`mail_reports` checks every report's scope, then builds, sends (SMTP, or an ``.eml``
in the outbox) and logs one message per recipient, retrying temporary failures;
:func:`resend_deliveries` sends again what the delivery log says was not delivered.
"""

# Retries
#     A temporary failure (4xx reply, refused/reset/dropped connection, timeout, TLS
#     connection cut) is retried up to ``CXLOOP_SMTP_ATTEMPTS`` tries per message, with
#     exponential back-off: the pause before try *k+1* is ``retry_delay * 2**(k-1)``
#     seconds (capped at :data:`MAX_RETRY_DELAY`). A permanent failure (5xx reply,
#     rejected login or certificate, a server without STARTTLS) is not retried. No
#     jitter: one process sends a handful of messages, there is no herd to spread.
#
# A failed send never touches the PDF: it stays in the archive and the summary lists
# every recipient who did not get it. Message bodies and addresses are never logged;
# summaries meant for display mask addresses (``d***@cx52.example``).

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from cxloop.config import AppConfig
from cxloop.domain import NATIONAL, report_scopes
from cxloop.quarters import Quarter
from cxloop.settings import Settings
from tasks.delivery.archive import archived_report, outbox_path, remember_report, write_outbox
from tasks.delivery.log import FAILED, SENT, DeliveryState, already_sent, delivery_log, record_attempt
from tasks.delivery.messages import (
    MisdirectedMessageError,
    build_message,
    check_envelope,
    check_scope,
    display_error,
    mask_address,
    recipients_for,
    report_language,
)
from tasks.delivery.smtp import (
    PermanentDeliveryError,
    SmtpConfigError,
    SmtpTarget,
    TemporaryDeliveryError,
    send_smtp,
    smtp_target,
)
from tasks.reports.render import ReportFile

log = logging.getLogger(__name__)

#: longest pause between two tries of one message, whatever the back-off says
MAX_RETRY_DELAY = 300.0
_UNSET: Any = object()


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryFailure:
    scope: str
    recipient: str
    report_path: str
    error: str
    quarter: str = ""


@dataclass
class DeliverySummary:
    """What one delivery run did. ``failures`` lists every recipient who did not get the report."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[DeliveryFailure] = field(default_factory=list)
    transport: str = "outbox"
    #: scopes with recipients but no report in this run (nothing to send them)
    scopes_without_report: list[str] = field(default_factory=list)
    #: scopes with a report but nobody configured to receive it
    scopes_without_recipients: list[str] = field(default_factory=list)
    #: how the messages went: "SMTP host:port (...)" or "outbox <folder>"
    via: str = ""
    #: scope -> {"recipients", "sent", "skipped", "failed"}
    per_scope: dict[str, dict[str, int]] = field(default_factory=dict)
    #: (quarter, scope, recipient) of logged deliveries a re-send left out: no longer configured for the scope
    not_recipients: list[tuple[str, str, str]] = field(default_factory=list)

    def _count(self, scope: str, key: str) -> None:
        row = self.per_scope.setdefault(scope, {"recipients": 0, "sent": 0, "skipped": 0, "failed": 0})
        row[key] += 1

    def merge(self, other: DeliverySummary) -> None:
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.failures.extend(other.failures)
        self.transport, self.via = other.transport, other.via or self.via
        self.scopes_without_report.extend(s for s in other.scopes_without_report if s not in self.scopes_without_report)
        self.scopes_without_recipients.extend(
            s for s in other.scopes_without_recipients if s not in self.scopes_without_recipients
        )
        self.not_recipients.extend(other.not_recipients)
        for scope, counts in other.per_scope.items():
            mine = self.per_scope.setdefault(scope, dict.fromkeys(counts, 0))
            for key, value in counts.items():
                mine[key] = mine.get(key, 0) + value

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able view for displays and artifacts: addresses masked, reports by file name."""
        return {
            "transport": self.transport,
            "via": self.via,
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "per_scope": {scope: dict(counts) for scope, counts in self.per_scope.items()},
            "failures": [
                {
                    "quarter": f.quarter,
                    "scope": f.scope,
                    "recipient": mask_address(f.recipient),
                    "report": Path(f.report_path).name,
                    "error": display_error(f.error),
                }
                for f in self.failures
            ],
            "scopes_without_report": list(self.scopes_without_report),
            "scopes_without_recipients": list(self.scopes_without_recipients),
            "not_recipients": [
                {"quarter": q, "scope": s, "recipient": mask_address(r)} for q, s, r in self.not_recipients
            ],
        }


# ---------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------


def mail_reports(
    session: Session,
    quarter: str,
    reports: dict[str, ReportFile],
    config: AppConfig,
    settings: Settings,
    force: bool = False,
    *,
    lang: str | None = None,
    attempts: int | None = None,
    retry_delay: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    only: Collection[tuple[str, str]] | None = None,
    target: SmtpTarget | None = _UNSET,
) -> DeliverySummary:
    """Send each report to its own recipients; returns what was sent, skipped and what failed.

    Args:
        reports: scope -> report; each must be filed under its own scope (checked first,
            before anything is sent: ``ValueError`` otherwise).
        force: send even to recipients who already got this exact report.
        lang: language of the e-mail; default the report file's (``..._en.pdf``), else ``ru``.
        attempts, retry_delay: tries per message and the first back-off pause (then
            doubled); default ``CXLOOP_SMTP_ATTEMPTS`` / ``CXLOOP_SMTP_RETRY_DELAY``.
        sleep: how to pause (tests pass a recorder).
        only: restrict to these (scope, lower-case address) pairs (re-sends).
        target: the SMTP server, ``None`` for the outbox; default from ``settings``.
            When the settings cannot be resolved (unknown block...), every recipient
            gets a ``failed`` row with the reason, so a later re-send picks them up.
    """
    quarter = str(Quarter.parse(quarter))
    for scope, report in reports.items():
        check_scope(quarter, scope, report)
    attempts = max(1, settings.smtp_attempts if attempts is None else attempts)
    retry_delay = settings.smtp_retry_delay if retry_delay is None else retry_delay
    setup_error = None
    if target is _UNSET:
        try:
            target = smtp_target(settings)
        except SmtpConfigError as exc:
            target, setup_error = None, f"SMTP settings unusable: {exc}"
    transport = "smtp" if (target is not None or setup_error) else "outbox"
    summary = DeliverySummary(transport=transport)
    summary.via = (
        target.describe() if target else (setup_error or f"outbox {Path(settings.out_dir) / 'outbox' / quarter}")
    )
    if target is not None and target.username and target.security == "plain":
        log.warning(
            "SMTP login over an unencrypted connection (%s): the password crosses the network in clear",
            target.describe(),
        )
    wanted = None if only is None else {(s, r.lower()) for s, r in only}
    if wanted is None:
        configured = report_scopes(sorted(config.recipients.regions))
        summary.scopes_without_report = [s for s in configured if s not in reports and recipients_for(s, config)]

    for scope in sorted(reports, key=lambda s: (s != NATIONAL, s)):
        report = reports[scope]
        people = recipients_for(scope, config)
        if wanted is not None:
            people = [p for p in people if (scope, p.email.lower()) in wanted]
        elif not people:
            summary.scopes_without_recipients.append(scope)
            log.warning("delivery %s %s: no recipients configured", quarter, scope)
            continue
        if people:
            remember_report(report)
        for number, person in enumerate(people, start=1):
            who = person.email
            summary._count(scope, "recipients")
            previous = already_sent(session, quarter, scope, who, report.sha256)
            if previous and not force:
                summary.skipped += 1
                summary._count(scope, "skipped")
                log.info("delivery %s %s recipient %d: already sent, skipped", quarter, scope, number)
                continue
            error: str | None
            if setup_error:
                error = setup_error
                record_attempt(session, quarter, report, who, transport, FAILED, error)
            else:
                email_lang = lang or report_language(report.path) or "ru"
                error = _deliver_one(
                    session,
                    quarter,
                    report,
                    who,
                    config,
                    settings,
                    target,
                    email_lang,
                    previous,
                    attempts,
                    retry_delay,
                    sleep,
                    number,
                )
            if error is None:
                summary.sent += 1
                summary._count(scope, "sent")
            else:
                summary.failed += 1
                summary._count(scope, "failed")
                summary.failures.append(
                    DeliveryFailure(
                        scope=scope, recipient=who, report_path=str(report.path), error=error, quarter=quarter
                    )
                )
    log.info(
        "delivery %s via %s: %d sent, %d skipped, %d failed",
        quarter,
        transport,
        summary.sent,
        summary.skipped,
        summary.failed,
    )
    return summary


def _deliver_one(
    session: Session,
    quarter: str,
    report: ReportFile,
    recipient: str,
    config: AppConfig,
    settings: Settings,
    target: SmtpTarget | None,
    lang: str,
    resend: int,
    attempts: int,
    retry_delay: float,
    sleep: Callable[[float], None],
    number: int,
) -> str | None:
    """Deliver one message with retries; returns None when sent, else the last error."""
    transport = "smtp" if target is not None else "outbox"
    error: str | None
    if not Path(report.path).is_file():
        error = f"report file not found: {report.path}"
        record_attempt(session, quarter, report, recipient, transport, FAILED, error)
        return error
    try:
        msg = build_message(quarter, report, recipient, config, settings, lang, resend)
    except Exception as exc:  # noqa: BLE001 - a broken template must not stop the other recipients
        error = f"could not build the message: {type(exc).__name__}: {exc}"
        record_attempt(session, quarter, report, recipient, transport, FAILED, error)
        return error
    envelope = [recipient]
    try:
        # The last gate, for the outbox and SMTP alike: one address of this scope's own list.
        check_envelope(msg, report.scope, envelope, config)
    except MisdirectedMessageError as exc:
        error = str(exc)
        record_attempt(session, quarter, report, recipient, transport, FAILED, error)
        log.warning("delivery %s %s recipient %d: %s", quarter, report.scope, number, error)
        return error

    if target is None:
        try:
            write_outbox(msg, outbox_path(settings, quarter, report.scope, recipient))
        except OSError as exc:
            error = f"outbox write failed: {exc}"
            record_attempt(session, quarter, report, recipient, transport, FAILED, error)
            return error
        record_attempt(session, quarter, report, recipient, transport, SENT, None)
        return None

    error = None
    for attempt in range(1, attempts + 1):
        try:
            send_smtp(msg, target, envelope)
        except TemporaryDeliveryError as exc:
            error = f"temporary: {exc}"
            record_attempt(session, quarter, report, recipient, transport, FAILED, error)
            log.warning(
                "delivery %s %s recipient %d: attempt %d of %d failed (temporary)",
                quarter,
                report.scope,
                number,
                attempt,
                attempts,
            )
            if attempt < attempts:
                sleep(min(MAX_RETRY_DELAY, retry_delay * 2 ** (attempt - 1)))
            continue
        except PermanentDeliveryError as exc:
            error = f"permanent: {exc}"
            record_attempt(session, quarter, report, recipient, transport, FAILED, error)
            log.warning(
                "delivery %s %s recipient %d: attempt %d failed (permanent, not retried)",
                quarter,
                report.scope,
                number,
                attempt,
            )
            return error
        record_attempt(session, quarter, report, recipient, transport, SENT, None)
        log.info("delivery %s %s recipient %d: sent on attempt %d", quarter, report.scope, number, attempt)
        return None
    return error


# ---------------------------------------------------------------------------
# Re-sending what the log says failed
# ---------------------------------------------------------------------------


def resend_deliveries(
    session: Session,
    config: AppConfig,
    settings: Settings,
    quarter: str | None = None,
    *,
    failed_only: bool = True,
    scopes: Iterable[str] | None = None,
    lang: str | None = None,
    attempts: int | None = None,
    retry_delay: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    target: SmtpTarget | None = _UNSET,
) -> DeliverySummary:
    """Send again the logged deliveries whose latest attempt failed (``failed_only``), or all of them.

    Each goes to the same recipient with the report file of its latest attempt, as it is
    in the archive now (its key messages from :func:`archived_report`); a PDF no longer
    there is recorded as a failure again. A recipient no longer configured for the scope
    is left out (``summary.not_recipients``): re-sends follow the current recipients
    list, so a region's report never goes to someone taken off that region's list.
    ``scopes`` and ``lang`` narrow the selection (``lang`` by the report file's language).
    """
    states = delivery_log(session, quarter=quarter, status=FAILED if failed_only else None, scopes=scopes)
    if lang is not None:
        states = [s for s in states if (s.lang or "ru") == lang]
    if target is _UNSET:
        try:
            target = smtp_target(settings)
        except SmtpConfigError:
            target = _UNSET  # mail_reports records the reason per recipient
    summary = DeliverySummary(transport="outbox" if target is None else "smtp")
    batches: dict[tuple[str, str, str], list[DeliveryState]] = defaultdict(list)
    for state in states:
        batches[(state.quarter, state.scope, state.report_file)].append(state)
    for (q, scope, _name), items in batches.items():
        allowed = {p.email.lower() for p in recipients_for(scope, config)}
        keep = [s for s in items if s.recipient.lower() in allowed]
        summary.not_recipients.extend((q, scope, s.recipient) for s in items if s.recipient.lower() not in allowed)
        if not keep:
            continue
        latest = max(keep, key=lambda s: s.last_at)
        lang = latest.lang or "ru"
        report = archived_report(session, q, scope, config, latest.report_path, lang) or ReportFile(
            scope=scope, path=Path(latest.report_path), key_messages=[], sha256=latest.report_sha256
        )
        part = mail_reports(
            session,
            q,
            {scope: report},
            config,
            settings,
            force=True,
            lang=lang,
            attempts=attempts,
            retry_delay=retry_delay,
            sleep=sleep,
            only={(scope, s.recipient.lower()) for s in keep},
            target=target,
        )
        summary.merge(part)
    if summary.not_recipients:
        log.warning(
            "re-send: %d logged deliveries left out, their recipients are no longer configured for the scope",
            len(summary.not_recipients),
        )
    return summary


__all__ = [
    "DeliveryFailure",
    "DeliverySummary",
    "MAX_RETRY_DELAY",
    "mail_reports",
    "resend_deliveries",
]
