"""Report stage of the loop (step 8, last half): e-mail the quarterly PDFs to management.

National recipients get the national report only; each region's recipients get
their own region's report only. One message per recipient (plain text + HTML
with the key messages, the PDF attached), sent over SMTP when a host is
configured, otherwise written as ``.eml`` files to the outbox folder.

Every attempt is recorded as a ``Delivery`` row. A recipient who already has a
``sent`` row for the same quarter, scope and report content hash is skipped, so
rerunning a quarter does not send the same report twice; a changed report (new
hash) is sent again. Temporary SMTP failures (4xx replies, dropped or refused
connections) are retried with exponential backoff. A failed send never touches
the PDF. Message bodies and addresses are never logged.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Callable

from sqlmodel import Session, func, select

from cxloop.config import AppConfig, Recipient
from cxloop.settings import Settings
from models.tables import Delivery
from tasks.reporting import NATIONAL, ReportFile, render_email

log = logging.getLogger(__name__)

SENT, FAILED = "sent", "failed"
SMTP_TIMEOUT = 30.0
_ERROR_MAX = 500


class TemporaryDeliveryError(Exception):
    """The server or network may accept the message later (4xx, connection trouble)."""


class PermanentDeliveryError(Exception):
    """Retrying will not help (5xx reply, bad credentials, certificate problem)."""


@dataclass(frozen=True)
class DeliveryFailure:
    scope: str
    recipient: str
    report_path: str
    error: str


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


def recipients_for(scope: str, config: AppConfig) -> list[Recipient]:
    """Who receives ``scope``'s report: the national list, or that region's list, never another's."""
    people = config.recipients.national if scope == NATIONAL else config.recipients.regions.get(scope, [])
    seen: set[str] = set()
    unique = []
    for person in people:
        key = person.email.lower()
        if key not in seen:  # one message per address even if the YAML lists it twice
            seen.add(key)
            unique.append(person)
    return unique


def _mail_domain(mail_from: str) -> str:
    return mail_from.rpartition("@")[2].strip(" >") or "localhost"


def build_message(
    quarter: str,
    report: ReportFile,
    recipient: str,
    config: AppConfig,
    settings: Settings,
    lang: str = "ru",
    resend: int = 0,
) -> EmailMessage:
    """The message for one recipient: text + HTML alternative, PDF attached."""
    pdf = Path(report.path).read_bytes()
    rendered = render_email(quarter, report.scope, config, report.key_messages, Path(report.path).name, lang)
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = settings.mail_from
    # Address only: a display name from the YAML may be a person's name.
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False)
    # Stable id (report content + recipient): an MTA can recognise a duplicate; a forced resend gets a new one.
    token = hashlib.sha256(f"{report.sha256}|{recipient.lower()}|{resend}".encode()).hexdigest()[:20]
    msg["Message-ID"] = f"<cxloop.{quarter}.{report.scope}.{token}@{_mail_domain(settings.mail_from)}>"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=Path(report.path).name)
    return msg


def _classify(exc: BaseException) -> Exception:
    """Map an SMTP/network exception onto temporary (retry) or permanent (give up)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(f"TLS certificate rejected: {exc}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}" for code, msg in exc.recipients.values())
        cls = TemporaryDeliveryError if codes and all(400 <= c < 500 for c in codes) else PermanentDeliveryError
        return cls(f"recipient refused: {text}")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        cls = TemporaryDeliveryError if 400 <= exc.smtp_code < 500 else PermanentDeliveryError
        return cls(f"{exc.smtp_code} {reply}".strip())
    if isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, OSError)):
        return TemporaryDeliveryError(f"{type(exc).__name__}: {exc}")
    return PermanentDeliveryError(f"{type(exc).__name__}: {exc}")


def send_smtp(msg: EmailMessage, settings: Settings, timeout: float = SMTP_TIMEOUT) -> None:
    """One SMTP session for one message; raises Temporary/PermanentDeliveryError."""
    host, port = settings.smtp_host, settings.effective_smtp_port
    try:
        if settings.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                client.login(settings.smtp_user, password)
            client.send_message(msg)
    except (TemporaryDeliveryError, PermanentDeliveryError):
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes unrecorded
        raise _classify(exc) from exc


def _outbox_path(settings: Settings, quarter: str, scope: str, recipient: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)
    return Path(settings.out_dir) / "outbox" / quarter / f"{scope}__{safe}.eml"


def write_outbox(msg: EmailMessage, path: Path) -> Path:
    """Write the message as an .eml file (atomically: a reader never sees half a message)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".eml.part")
    tmp.write_bytes(msg.as_bytes())
    tmp.replace(path)
    return path


def _already_sent(session: Session, quarter: str, scope: str, recipient: str, sha256: str) -> int:
    stmt = select(func.count()).select_from(Delivery).where(
        Delivery.quarter == quarter,
        Delivery.scope == scope,
        Delivery.recipient == recipient,
        Delivery.report_sha256 == sha256,
        Delivery.status == SENT,
    )
    return int(session.exec(stmt).one())


def _record(session: Session, quarter: str, report: ReportFile, recipient: str, transport: str, status: str, error: str | None) -> None:
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


def deliver_reports(
    session: Session,
    quarter: str,
    reports: dict[str, ReportFile],
    config: AppConfig,
    settings: Settings,
    force: bool = False,
    *,
    lang: str = "ru",
    attempts: int = 3,
    retry_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliverySummary:
    """Send each report to its own recipients; returns what was sent, skipped and what failed.

    ``retry_delay`` is the first back-off pause (then doubled) between SMTP attempts on a
    temporary failure; ``force`` re-sends even to recipients who already got this exact report.
    """
    transport = "smtp" if settings.smtp_host else "outbox"
    summary = DeliverySummary(transport=transport)
    configured = [NATIONAL, *sorted(config.recipients.regions)]
    summary.scopes_without_report = [s for s in configured if s not in reports and recipients_for(s, config)]
    for scope in sorted(reports, key=lambda s: (s != NATIONAL, s)):
        report = reports[scope]
        people = recipients_for(scope, config)
        if not people:
            summary.scopes_without_recipients.append(scope)
            log.warning("delivery %s %s: no recipients configured", quarter, scope)
            continue
        for number, person in enumerate(people, start=1):
            who = person.email
            previous = _already_sent(session, quarter, scope, who, report.sha256)
            if previous and not force:
                summary.skipped += 1
                log.info("delivery %s %s recipient %d: already sent, skipped", quarter, scope, number)
                continue
            error = _deliver_one(session, quarter, report, who, config, settings, transport, lang, previous, attempts, retry_delay, sleep, number)
            if error is None:
                summary.sent += 1
            else:
                summary.failed += 1
                summary.failures.append(DeliveryFailure(scope=scope, recipient=who, report_path=str(report.path), error=error))
    log.info(
        "delivery %s via %s: %d sent, %d skipped, %d failed", quarter, transport, summary.sent, summary.skipped, summary.failed
    )
    return summary


def _deliver_one(
    session: Session,
    quarter: str,
    report: ReportFile,
    recipient: str,
    config: AppConfig,
    settings: Settings,
    transport: str,
    lang: str,
    resend: int,
    attempts: int,
    retry_delay: float,
    sleep: Callable[[float], None],
    number: int,
) -> str | None:
    """Deliver one message with retries; returns None when sent, else the last error."""
    if not Path(report.path).is_file():
        error = f"report file not found: {report.path}"
        _record(session, quarter, report, recipient, transport, FAILED, error)
        return error
    try:
        msg = build_message(quarter, report, recipient, config, settings, lang, resend)
    except Exception as exc:  # noqa: BLE001 - a broken template must not stop the other recipients
        error = f"could not build the message: {type(exc).__name__}: {exc}"
        _record(session, quarter, report, recipient, transport, FAILED, error)
        return error

    if transport == "outbox":
        try:
            write_outbox(msg, _outbox_path(settings, quarter, report.scope, recipient))
        except OSError as exc:
            error = f"outbox write failed: {exc}"
            _record(session, quarter, report, recipient, transport, FAILED, error)
            return error
        _record(session, quarter, report, recipient, transport, SENT, None)
        return None

    error = None
    for attempt in range(1, max(1, attempts) + 1):
        try:
            send_smtp(msg, settings)
        except TemporaryDeliveryError as exc:
            error = f"temporary: {exc}"
            _record(session, quarter, report, recipient, transport, FAILED, error)
            log.warning("delivery %s %s recipient %d: attempt %d failed (temporary)", quarter, report.scope, number, attempt)
            if attempt < attempts:
                sleep(retry_delay * 2 ** (attempt - 1))
            continue
        except PermanentDeliveryError as exc:
            error = f"permanent: {exc}"
            _record(session, quarter, report, recipient, transport, FAILED, error)
            log.warning("delivery %s %s recipient %d: attempt %d failed (permanent)", quarter, report.scope, number, attempt)
            return error
        _record(session, quarter, report, recipient, transport, SENT, None)
        log.info("delivery %s %s recipient %d: sent on attempt %d", quarter, report.scope, number, attempt)
        return None
    return error


__all__ = [
    "DeliveryFailure",
    "DeliverySummary",
    "PermanentDeliveryError",
    "TemporaryDeliveryError",
    "build_message",
    "deliver_reports",
    "recipients_for",
    "send_smtp",
    "write_outbox",
]
