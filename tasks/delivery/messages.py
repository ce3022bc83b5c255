"""The delivery stage's messages: who receives which report, and what they receive.

Recipients per scope (one scope's list only, never another's), the check that a report
is filed under its own scope and quarter, the MIME message for one recipient (text +
HTML alternative, PDF attached), and the masking of addresses in anything displayed.
"""

# Who gets what
#     National recipients get the national report only; each region's recipients get
#     their own region's report only (``config/recipients.yaml``). Every message goes to
#     one address (nobody sees the other recipients) and carries one PDF. Before anything
#     is sent, every report is checked to belong to the scope it is filed under (the
#     ``ReportFile.scope`` and the ``cx-report_<quarter>_<scope>_<lang>.pdf`` name), so a
#     region's PDF cannot reach another region's list even through a caller's mistake.
#     Just before a message leaves (SMTP or outbox), :func:`check_envelope` checks it
#     again: the envelope (the RCPT TO list handed to smtplib, never derived from the
#     headers) is one plain address on the scope's own list, the To/Cc/Bcc/Resent-*
#     headers name exactly that address, the attached report is the scope's. A mismatch
#     refuses the message: recorded as failed, nothing sent. ``config/recipients.yaml``
#     holds one plain address per entry (``cxloop.addresses.address_problem``).
#
# Message bodies and addresses are never logged; summaries meant for display mask
# addresses (``d***@cx52.example``).

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from cxloop.addresses import address_problem
from cxloop.config import AppConfig, Recipient
from cxloop.domain import NATIONAL
from cxloop.settings import Settings
from tasks.delivery.smtp import header_recipients
from tasks.reports.message import render_email
from tasks.reports.render import ReportFile

_REPORT_NAME = re.compile(r"^cx-report_(?P<quarter>\d{4}Q[1-4])_(?P<scope>.+)_(?P<lang>[a-z]{2})\.pdf$")
_ADDRESS = re.compile(
    r"([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*)"
)


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


def check_scope(quarter: str, scope: str, report: ReportFile) -> None:
    """Refuse a report filed under the wrong scope or quarter: it would reach the wrong recipients."""
    if report.scope != scope:
        raise ValueError(f"report filed under scope {scope!r} is the report of {report.scope!r}: nothing sent")
    m = _REPORT_NAME.match(Path(report.path).name)
    if m and (m.group("scope") != scope or m.group("quarter") != quarter):
        raise ValueError(f"{Path(report.path).name} is not the {quarter} report of scope {scope!r}: nothing sent")


class MisdirectedMessageError(ValueError):
    """A message would reach an address outside its scope's recipients list: refused, nothing sent."""


def allowed_recipients(scope: str, config: AppConfig) -> set[str]:
    """The lower-case addresses ``scope``'s report may go to: its own list's entries that
    are exactly one plain address (:func:`cxloop.addresses.address_problem`); anything else
    in the list (a config built around the loader's checks) allows nobody."""
    return {p.email.strip().lower() for p in recipients_for(scope, config) if address_problem(p.email) is None}


def check_envelope(msg: EmailMessage, scope: str, to_addrs: Sequence[str], config: AppConfig) -> None:
    """The last check before a message leaves (SMTP or outbox): refuse it unless it goes to
    exactly one address of ``scope``'s own list.

    Checked: the envelope (the RCPT TO list handed to smtplib) is one address, a plain
    single address, on the scope's list; the To/Cc/Bcc/Resent-* headers name exactly
    that address (read by both standard-library parsers); every attached report is
    ``scope``'s. Raises :class:`MisdirectedMessageError` naming what is wrong, never the
    address.
    """
    allowed = allowed_recipients(scope, config)
    if len(to_addrs) != 1:
        raise MisdirectedMessageError(f"refused, nothing sent: {len(to_addrs)} envelope recipients, one expected")
    for address in to_addrs:
        problem = address_problem(address)
        if problem:
            raise MisdirectedMessageError(f"refused, nothing sent: the recipient is not one plain address ({problem})")
        if address.strip().lower() not in allowed:
            raise MisdirectedMessageError(f"refused, nothing sent: the recipient is not on the {scope!r} list")
    named = header_recipients(msg)
    if not named or {a.lower() for a in named} != {a.strip().lower() for a in to_addrs}:
        raise MisdirectedMessageError(
            "refused, nothing sent: the To/Cc/Bcc headers do not name exactly the envelope recipient"
        )
    for part in msg.iter_attachments():
        m = _REPORT_NAME.match(part.get_filename() or "")
        if m and m.group("scope") != scope:
            raise MisdirectedMessageError(
                f"refused, nothing sent: the attached report is of scope {m.group('scope')!r}, "
                f"the message is for scope {scope!r}"
            )


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


__all__ = [
    "MisdirectedMessageError",
    "allowed_recipients",
    "build_message",
    "check_envelope",
    "check_scope",
    "display_error",
    "mask_address",
    "mask_addresses",
    "recipients_for",
    "report_language",
]
