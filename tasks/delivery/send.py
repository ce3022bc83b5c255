"""Report stage of the loop (step 8, last half): e-mail the quarterly PDFs to management.

Who gets what
    National recipients get the national report only; each region's recipients get
    their own region's report only (``config/recipients.yaml``). Every message goes to
    one address (nobody sees the other recipients) and carries one PDF. Before anything
    is sent, every report is checked to belong to the scope it is filed under (the
    ``ReportFile.scope`` and the ``cx-report_<quarter>_<scope>_<lang>.pdf`` name), so a
    region's PDF cannot reach another region's list even through a caller's mistake.

How
    One message per recipient: plain text + HTML alternative with the key messages,
    the PDF attached. Sent over SMTP when a server is configured, either by the
    ``CXLOOP_SMTP_*`` settings or by a Prefect ``EmailServerCredentials`` block named
    in ``CXLOOP_SMTP_BLOCK`` (prefect-email); security ``ssl`` (implicit TLS),
    ``starttls`` or ``plain`` (local relays), certificates verified against the system
    CAs or ``CXLOOP_SMTP_CA_FILE``. Without a server the messages are written as
    ``.eml`` files to ``<out>/outbox/<quarter>/<scope>__<recipient>.eml``.

Retries
    A temporary failure (4xx reply, refused/reset/dropped connection, timeout, TLS
    connection cut) is retried up to ``CXLOOP_SMTP_ATTEMPTS`` tries per message, with
    exponential back-off: the pause before try *k+1* is ``retry_delay * 2**(k-1)``
    seconds (capped at :data:`MAX_RETRY_DELAY`). A permanent failure (5xx reply,
    rejected login or certificate, a server without STARTTLS) is not retried. No
    jitter: one process sends a handful of messages, there is no herd to spread.

The delivery log (table ``delivery``)
    One row per attempt outcome: a message sent on the third try leaves two ``failed``
    rows (each with the server's error text) and one ``sent`` row. :func:`delivery_log`
    folds the rows into one :class:`DeliveryState` per quarter x scope x recipient x
    report file, with the latest status and the number of attempts.
    A recipient who already has a ``sent`` row for the same quarter, scope and report
    content hash is skipped, so rerunning a quarter does not send the same report
    twice; a changed report (new hash) is sent again; ``force`` sends anyway.
    :func:`resend_deliveries` sends again what is still failed (or everything).

A failed send never touches the PDF: it stays in the archive and the summary lists
every recipient who did not get it. Message bodies and addresses are never logged;
summaries meant for display mask addresses (``d***@cx52.example``).

Key messages for re-sends
    The e-mail body quotes the report's key messages. When a report is delivered, its
    key messages are kept next to the PDF (``<pdf stem>.key-messages.json``, with the
    PDF's hash), so a later re-send quotes exactly what the PDF says; when that file is
    missing or the PDF changed since, they are rebuilt from the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import smtplib
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from sqlmodel import Session, func, select

from cxloop.config import AppConfig, Recipient
from cxloop.files import file_sha256
from cxloop.quarters import Quarter
from cxloop.settings import Settings
from models.tables import Delivery, Feedback
from tasks.reports.render import NATIONAL, ReportFile, render_email

log = logging.getLogger(__name__)

SENT, FAILED = "sent", "failed"
SECURITIES = ("ssl", "starttls", "plain")
SMTP_TIMEOUT = 30.0
#: longest pause between two tries of one message, whatever the back-off says
MAX_RETRY_DELAY = 300.0
_ERROR_MAX = 500
_REPORT_NAME = re.compile(r"^cx-report_(?P<quarter>\d{4}Q[1-4])_(?P<scope>.+)_(?P<lang>[a-z]{2})\.pdf$")
_ADDRESS = re.compile(r"([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*)")
_UNSET: Any = object()


class TemporaryDeliveryError(Exception):
    """The server or network may accept the message later (4xx, connection trouble)."""


class PermanentDeliveryError(Exception):
    """Retrying will not help (5xx reply, bad credentials, certificate problem)."""


class SmtpConfigError(ValueError):
    """The SMTP settings cannot be used (unknown Prefect block, missing CA file, prefect-email absent)."""


# ---------------------------------------------------------------------------
# Addresses in displays
# ---------------------------------------------------------------------------


def mask_address(address: str) -> str:
    """``director@cx52.example`` -> ``d***@cx52.example``: enough to tell recipients apart, not to mail them."""
    local, at, domain = address.strip().partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_addresses(text: str | None) -> str | None:
    """Every e-mail address in ``text`` masked (SMTP servers echo the address in their replies)."""
    if text is None:
        return None
    return _ADDRESS.sub(lambda m: mask_address(m.group(0)), text)


def display_error(text: str | None) -> str | None:
    """An error text fit to show (CLI, artifacts): addresses masked, any other personal data redacted."""
    from tasks.validate.redaction import redact

    return redact(mask_addresses(text))


# ---------------------------------------------------------------------------
# SMTP server: from the settings or a Prefect EmailServerCredentials block
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send: resolved once per run from the settings or a Prefect block."""

    host: str
    port: int
    security: str = "starttls"  # ssl | starttls | plain
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: bool = True
    ca_file: Path | None = None
    timeout: float = SMTP_TIMEOUT
    source: str = "settings"

    def describe(self) -> str:
        """For humans and logs: host, port, security and where it came from; never the credentials."""
        notes = [self.security]
        if self.security != "plain" and not self.verify:
            notes.append("certificate not verified")
        if self.security != "plain" and self.ca_file:
            notes.append(f"CA {self.ca_file}")
        return f"SMTP {self.host}:{self.port} ({', '.join(notes)}; from {self.source})"


def smtp_target(settings: Settings) -> SmtpTarget | None:
    """The configured SMTP server, or None when messages go to the outbox.

    ``CXLOOP_SMTP_BLOCK`` wins over ``CXLOOP_SMTP_HOST`` (the block is the whole server
    definition); the CA file and the timeout come from the settings in both cases.
    Raises :class:`SmtpConfigError` when the settings name something that does not exist.
    """
    if settings.smtp_block:
        if settings.smtp_host:
            log.warning("both CXLOOP_SMTP_BLOCK and CXLOOP_SMTP_HOST are set: using the block")
        return smtp_target_from_block(settings.smtp_block, settings)
    if not settings.smtp_host:
        return None
    target = SmtpTarget(
        host=settings.smtp_host,
        port=settings.effective_smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_user or None,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        verify=settings.smtp_verify,
        ca_file=settings.smtp_ca_file,
        timeout=settings.smtp_timeout,
        source="CXLOOP_SMTP_* settings",
    )
    _check_ca_file(target)
    return target


_BLOCK_SECURITY = {"SSL": "ssl", "STARTTLS": "starttls", "INSECURE": "plain"}


def smtp_target_from_block(block: Any, settings: Settings) -> SmtpTarget:
    """An SMTP target from a prefect-email ``EmailServerCredentials`` block (or its name).

    Mapping: ``smtp_server`` -> host (a well-known name such as ``gmail`` becomes its
    host), ``smtp_port`` or the ``smtp_type``'s default port -> port, ``smtp_type``
    SSL / STARTTLS / INSECURE -> ssl / starttls / plain, ``username``/``password`` -> the
    login (none when the username is empty), ``verify`` -> certificate verification.
    Loading by name needs the Prefect API (the server, or the embedded one).
    """
    if isinstance(block, str):
        try:
            from prefect_email import EmailServerCredentials
        except ImportError as exc:
            raise SmtpConfigError(
                f"CXLOOP_SMTP_BLOCK={block!r} needs the prefect-email package (pip install prefect-email)"
            ) from exc
        name = block
        try:
            block = EmailServerCredentials.load(name)
        except Exception as exc:  # noqa: BLE001 - ValueError for an unknown name, httpx errors for no API
            raise SmtpConfigError(f"cannot load the Prefect EmailServerCredentials block {name!r}: {exc}") from exc
        source = f"Prefect block {name!r}"
    else:
        source = f"Prefect block {getattr(block, '_block_document_name', None) or type(block).__name__}"
    server = getattr(block.smtp_server, "value", block.smtp_server)
    smtp_type = block.smtp_type
    type_name = getattr(smtp_type, "name", str(smtp_type)).upper()
    if type_name not in _BLOCK_SECURITY:
        raise SmtpConfigError(f"{source}: unknown smtp_type {smtp_type!r}")
    port = block.smtp_port or getattr(smtp_type, "value", None)
    if not isinstance(port, int):
        raise SmtpConfigError(f"{source}: no SMTP port")
    password = block.password.get_secret_value() if block.password is not None else None
    target = SmtpTarget(
        host=str(server),
        port=int(port),
        security=_BLOCK_SECURITY[type_name],
        username=block.username or None,
        password=password or None,
        verify=bool(block.verify) if block.verify is not None else True,
        ca_file=settings.smtp_ca_file,
        timeout=settings.smtp_timeout,
        source=source,
    )
    _check_ca_file(target)
    return target


def _check_ca_file(target: SmtpTarget) -> None:
    if target.security != "plain" and target.ca_file is not None and not Path(target.ca_file).is_file():
        raise SmtpConfigError(f"CXLOOP_SMTP_CA_FILE: no such file {target.ca_file}")


def tls_context(target: SmtpTarget) -> ssl.SSLContext:
    """The client TLS context: system CAs (or ``ca_file``), host name checked, unless ``verify`` is off."""
    context = ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)
    if not target.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


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

    def merge(self, other: "DeliverySummary") -> None:
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.failures.extend(other.failures)
        self.transport, self.via = other.transport, other.via or self.via
        self.scopes_without_report.extend(s for s in other.scopes_without_report if s not in self.scopes_without_report)
        self.scopes_without_recipients.extend(s for s in other.scopes_without_recipients if s not in self.scopes_without_recipients)
        self.not_recipients.extend(other.not_recipients)
        for scope, counts in other.per_scope.items():
            mine = self.per_scope.setdefault(scope, {k: 0 for k in counts})
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
                {"quarter": f.quarter, "scope": f.scope, "recipient": mask_address(f.recipient),
                 "report": Path(f.report_path).name, "error": display_error(f.error)}
                for f in self.failures
            ],
            "scopes_without_report": list(self.scopes_without_report),
            "scopes_without_recipients": list(self.scopes_without_recipients),
            "not_recipients": [{"quarter": q, "scope": s, "recipient": mask_address(r)} for q, s, r in self.not_recipients],
        }


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


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


def report_language(path: Path | str) -> str | None:
    """The language in a report's file name (``cx-report_2026Q3_52_en.pdf`` -> ``en``), if it has that shape."""
    m = _REPORT_NAME.match(Path(path).name)
    return m.group("lang") if m else None


def _check_scope(quarter: str, scope: str, report: ReportFile) -> None:
    """Refuse a report filed under the wrong scope or quarter: it would reach the wrong recipients."""
    if report.scope != scope:
        raise ValueError(f"report filed under scope {scope!r} is the report of {report.scope!r}: nothing sent")
    m = _REPORT_NAME.match(Path(report.path).name)
    if m and (m.group("scope") != scope or m.group("quarter") != quarter):
        raise ValueError(f"{Path(report.path).name} is not the {quarter} report of scope {scope!r}: nothing sent")


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
    # Stable id (report content + recipient): an MTA can recognise a duplicate (a retry after a
    # timeout that the server had in fact accepted); a forced resend gets a new one.
    token = hashlib.sha256(f"{report.sha256}|{recipient.lower()}|{resend}".encode()).hexdigest()[:20]
    msg["Message-ID"] = f"<cxloop.{quarter}.{report.scope}.{token}@{_mail_domain(settings.mail_from)}>"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=Path(report.path).name)
    return msg


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _classify(exc: BaseException) -> Exception:
    """Map an SMTP/network exception onto temporary (retry) or permanent (give up).

    Replies: 4xx temporary, 5xx permanent (whatever the command: MAIL, RCPT, DATA, AUTH).
    Network: refused, reset, dropped connections, timeouts and DNS trouble are temporary.
    TLS: a rejected certificate or a failed handshake is a configuration problem
    (permanent); a connection cut during TLS is temporary. A server that does not offer
    STARTTLS or an authentication method we speak is permanent.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
        cls = TemporaryDeliveryError if codes and all(400 <= c < 500 for c in codes) else PermanentDeliveryError
        return cls(f"recipient refused: {text}")
    if isinstance(exc, smtplib.SMTPResponseException):
        cls = TemporaryDeliveryError if 400 <= exc.smtp_code < 500 else PermanentDeliveryError
        return cls(f"{exc.smtp_code} {_text(exc.smtp_error)}".strip())
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryDeliveryError(f"server disconnected: {exc}")
    if isinstance(exc, smtplib.SMTPException):  # SMTPNotSupportedError, no auth method, ... (an OSError subclass)
        return PermanentDeliveryError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(f"TLS certificate rejected: {exc.verify_message or exc}")
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return TemporaryDeliveryError(f"TLS connection cut: {exc}")
    if isinstance(exc, ssl.SSLError):
        return PermanentDeliveryError(f"TLS handshake failed (wrong port or security setting?): {exc}")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return TemporaryDeliveryError(f"{type(exc).__name__}: {exc}")
    return PermanentDeliveryError(f"{type(exc).__name__}: {exc}")


def send_smtp(msg: EmailMessage, target: SmtpTarget) -> None:
    """One SMTP session for one message; raises Temporary/PermanentDeliveryError."""
    try:
        context = tls_context(target) if target.security != "plain" else None
    except (OSError, ssl.SSLError) as exc:
        raise PermanentDeliveryError(f"TLS settings unusable: {exc}") from exc
    try:
        if target.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
        with client:
            if target.security == "starttls":
                client.starttls(context=context)
            if target.username:
                client.login(target.username, target.password or "")
            client.send_message(msg)
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


# ---------------------------------------------------------------------------
# Report files in the archive
# ---------------------------------------------------------------------------


def key_messages_path(pdf: Path | str) -> Path:
    """Where the key messages of a delivered PDF are kept: next to it, ``<stem>.key-messages.json``."""
    pdf = Path(pdf)
    return pdf.with_name(pdf.stem + ".key-messages.json")


def remember_report(report: ReportFile) -> None:
    """Keep the report's key messages next to its PDF (with the PDF's hash) for later re-sends."""
    path = Path(report.path)
    if not path.is_file():
        return
    record = {"scope": report.scope, "file": path.name, "sha256": report.sha256 or file_sha256(path),
              "key_messages": list(report.key_messages)}
    target = key_messages_path(path)
    try:
        if target.is_file() and json.loads(target.read_text(encoding="utf-8")) == record:
            return
        tmp = target.with_suffix(".json.part")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(target)
    except (OSError, ValueError) as exc:  # a read-only archive must not stop the delivery
        log.warning("could not keep the key messages of %s: %s", path.name, exc)


def archived_report(
    session: Session, quarter: str, scope: str, config: AppConfig, path: Path | str, lang: str = "ru"
) -> ReportFile | None:
    """A report already in the archive as a :class:`ReportFile`, or None when the PDF is not there.

    The key messages come from the file :func:`remember_report` wrote when its hash
    matches the PDF's; otherwise they are rebuilt from the database (the report's
    ``build_report_context``), and an empty list if even that fails: the PDF still goes.
    """
    path = Path(path)
    if not path.is_file():
        return None
    sha = file_sha256(path)
    messages: list[str] | None = None
    kept = key_messages_path(path)
    if kept.is_file():
        try:
            record = json.loads(kept.read_text(encoding="utf-8"))
            if record.get("sha256") == sha and record.get("scope") == scope:
                messages = [str(m) for m in record.get("key_messages", [])]
        except (OSError, ValueError):
            messages = None
    if messages is None:
        from tasks.reports.render import build_report_context

        try:
            messages = list(build_report_context(session, quarter, scope, config, lang)["key_messages"])
        except Exception as exc:  # noqa: BLE001 - the e-mail can go without its summary, not without the PDF
            log.warning("key messages of %s could not be rebuilt (%s: %s); sending without them",
                        path.name, type(exc).__name__, exc)
            messages = []
    return ReportFile(scope=scope, path=path, key_messages=messages, sha256=sha)


def feedback_count(session: Session, quarter: str, region: str | None = None) -> int:
    """Feedback rows stored for the quarter (and region): 0 means there is nothing to report on."""
    stmt = select(func.count()).select_from(Feedback).where(Feedback.quarter == quarter)
    if region is not None:
        stmt = stmt.where(Feedback.region_code == region)
    return int(session.exec(stmt).one())


def prepare_reports(
    session: Session,
    quarter: str,
    config: AppConfig,
    out_dir: Path,
    scopes: Iterable[str] | None = None,
    lang: str = "ru",
    reuse: bool = False,
) -> dict[str, ReportFile]:
    """The quarter's PDFs for ``scopes`` (default: national + every region) in ``out_dir/reports/<quarter>/``.

    ``reuse``: a PDF already in the archive is taken as it is (the archive is what was
    approved and what re-sends send); only missing ones are rendered. Otherwise every
    PDF is rendered again (``tasks.reports.render.write_reports``). Key messages are kept next
    to each PDF (:func:`remember_report`).
    """
    from tasks.reports.render import report_path, write_reports

    quarter = str(Quarter.parse(quarter))
    wanted = list(scopes) if scopes is not None else [NATIONAL, *config.regions]
    found: dict[str, ReportFile] = {}
    if reuse:
        for scope in wanted:
            report = archived_report(session, quarter, scope, config, report_path(out_dir, quarter, scope, lang), lang)
            if report is not None:
                found[scope] = report
    missing = [s for s in wanted if s not in found]
    if missing:
        written = write_reports(session, quarter, config, out_dir, scopes=missing, lang=lang)
        for report in written.values():
            remember_report(report)
        found.update(written)
    log.info("reports %s (%s): %d reused, %d written", quarter, lang, len(wanted) - len(missing), len(missing))
    return {scope: found[scope] for scope in wanted}


# ---------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------


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
        _check_scope(quarter, scope, report)
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
    summary.via = target.describe() if target else (setup_error or f"outbox {Path(settings.out_dir) / 'outbox' / quarter}")
    if target is not None and target.username and target.security == "plain":
        log.warning("SMTP login over an unencrypted connection (%s): the password crosses the network in clear", target.describe())
    wanted = None if only is None else {(s, r.lower()) for s, r in only}
    if wanted is None:
        configured = [NATIONAL, *sorted(config.recipients.regions)]
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
            previous = _already_sent(session, quarter, scope, who, report.sha256)
            if previous and not force:
                summary.skipped += 1
                summary._count(scope, "skipped")
                log.info("delivery %s %s recipient %d: already sent, skipped", quarter, scope, number)
                continue
            if setup_error:
                error = setup_error
                _record(session, quarter, report, who, transport, FAILED, error)
            else:
                email_lang = lang or report_language(report.path) or "ru"
                error = _deliver_one(session, quarter, report, who, config, settings, target, email_lang, previous,
                                     attempts, retry_delay, sleep, number)
            if error is None:
                summary.sent += 1
                summary._count(scope, "sent")
            else:
                summary.failed += 1
                summary._count(scope, "failed")
                summary.failures.append(DeliveryFailure(scope=scope, recipient=who, report_path=str(report.path),
                                                        error=error, quarter=quarter))
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

    if target is None:
        try:
            write_outbox(msg, _outbox_path(settings, quarter, report.scope, recipient))
        except OSError as exc:
            error = f"outbox write failed: {exc}"
            _record(session, quarter, report, recipient, transport, FAILED, error)
            return error
        _record(session, quarter, report, recipient, transport, SENT, None)
        return None

    error = None
    for attempt in range(1, attempts + 1):
        try:
            send_smtp(msg, target)
        except TemporaryDeliveryError as exc:
            error = f"temporary: {exc}"
            _record(session, quarter, report, recipient, transport, FAILED, error)
            log.warning("delivery %s %s recipient %d: attempt %d of %d failed (temporary)",
                        quarter, report.scope, number, attempt, attempts)
            if attempt < attempts:
                sleep(min(MAX_RETRY_DELAY, retry_delay * 2 ** (attempt - 1)))
            continue
        except PermanentDeliveryError as exc:
            error = f"permanent: {exc}"
            _record(session, quarter, report, recipient, transport, FAILED, error)
            log.warning("delivery %s %s recipient %d: attempt %d failed (permanent, not retried)",
                        quarter, report.scope, number, attempt)
            return error
        _record(session, quarter, report, recipient, transport, SENT, None)
        log.info("delivery %s %s recipient %d: sent on attempt %d", quarter, report.scope, number, attempt)
        return None
    return error


# ---------------------------------------------------------------------------
# The delivery log: list and re-send
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
            "quarter": self.quarter, "scope": self.scope,
            "recipient": self.recipient if show_address else mask_address(self.recipient),
            "report": self.report_file, "report_sha256": self.report_sha256, "transport": self.transport,
            "status": self.status, "attempts": self.attempts,
            "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat(),
            "error": self.error if show_address else display_error(self.error),
        }


def delivery_log(
    session: Session, quarter: str | None = None, status: str | None = None, scopes: Iterable[str] | None = None
) -> list[DeliveryState]:
    """The log folded into one :class:`DeliveryState` per delivery, ordered by quarter, scope, recipient."""
    stmt = select(Delivery).order_by(Delivery.id)
    if quarter is not None:
        stmt = stmt.where(Delivery.quarter == str(Quarter.parse(quarter)))
    scope_set = set(scopes) if scopes is not None else None
    if scope_set is not None:
        stmt = stmt.where(Delivery.scope.in_(sorted(scope_set)))
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
        states.append(DeliveryState(
            quarter=last.quarter, scope=last.scope, recipient=last.recipient, report_path=last.report_path,
            report_sha256=last.report_sha256, transport=last.transport, status=last.status, attempts=tries,
            first_at=rows[0].at, last_at=last.at, error=last.error if last.status == FAILED else None,
        ))
    if status is not None:
        states = [s for s in states if s.status == status]
    states.sort(key=lambda s: (s.quarter, s.scope != NATIONAL, s.scope, s.report_file, s.recipient.lower()))
    return states


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
            target = _UNSET  # deliver_reports records the reason per recipient
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
            scope=scope, path=Path(latest.report_path), key_messages=[], sha256=latest.report_sha256)
        part = deliver_reports(session, q, {scope: report}, config, settings, force=True, lang=lang,
                               attempts=attempts, retry_delay=retry_delay, sleep=sleep,
                               only={(scope, s.recipient.lower()) for s in keep}, target=target)
        summary.merge(part)
    if summary.not_recipients:
        log.warning("re-send: %d logged deliveries left out, their recipients are no longer configured for the scope",
                    len(summary.not_recipients))
    return summary


__all__ = [
    "DeliveryFailure",
    "DeliveryState",
    "DeliverySummary",
    "MAX_RETRY_DELAY",
    "PermanentDeliveryError",
    "SmtpConfigError",
    "SmtpTarget",
    "TemporaryDeliveryError",
    "archived_report",
    "build_message",
    "deliver_reports",
    "delivery_log",
    "display_error",
    "feedback_count",
    "key_messages_path",
    "mask_address",
    "mask_addresses",
    "prepare_reports",
    "recipients_for",
    "remember_report",
    "report_language",
    "resend_deliveries",
    "send_smtp",
    "smtp_target",
    "smtp_target_from_block",
    "tls_context",
    "write_outbox",
]
