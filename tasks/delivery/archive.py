"""The delivery stage's files: the ``.eml`` outbox and the archive of report PDFs.

Messages go to ``<out>/outbox/<quarter>/`` when no SMTP server is configured; the PDFs
to send are taken from (or rendered into) ``<out>/reports/<quarter>/``, each with its key
messages kept next to it so that a later re-send quotes exactly what the PDF says.
"""

# Key messages for re-sends
#     The e-mail body quotes the report's key messages. When a report is delivered, its
#     key messages are kept next to the PDF (``<pdf stem>.key-messages.json``, with the
#     PDF's hash), so a later re-send quotes exactly what the PDF says; when that file is
#     missing or the PDF changed since, they are rebuilt from the database.
#
# A failed send never touches the PDF: it stays in the archive.

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import Session, func, select

from cxloop.config import AppConfig
from cxloop.domain import report_scopes
from cxloop.files import file_sha256
from cxloop.quarters import Quarter
from cxloop.settings import Settings
from models.tables import Feedback
from tasks.reports.context import build_report_context
from tasks.reports.render import ReportFile, report_path, write_reports

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# The outbox
# ---------------------------------------------------------------------------


def outbox_path(settings: Settings, quarter: str, scope: str, recipient: str) -> Path:
    """Where one recipient's message goes without SMTP: ``<out>/outbox/<quarter>/<scope>__<recipient>.eml``."""
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
    record = {
        "scope": report.scope,
        "file": path.name,
        "sha256": report.sha256 or file_sha256(path),
        "key_messages": list(report.key_messages),
    }
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
        try:
            messages = list(build_report_context(session, quarter, scope, config, lang)["key_messages"])
        except Exception as exc:  # noqa: BLE001 - the e-mail can go without its summary, not without the PDF
            log.warning(
                "key messages of %s could not be rebuilt (%s: %s); sending without them",
                path.name,
                type(exc).__name__,
                exc,
            )
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
    quarter = str(Quarter.parse(quarter))
    wanted = list(scopes) if scopes is not None else report_scopes(config.regions)
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


__all__ = [
    "archived_report",
    "feedback_count",
    "key_messages_path",
    "outbox_path",
    "prepare_reports",
    "remember_report",
    "write_outbox",
]
