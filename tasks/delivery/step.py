"""The delivery stage's step: e-mail the quarter's PDFs to their recipients.

What the quarterly cycle wraps as its ``deliver-reports`` task; the work itself is
:func:`tasks.delivery.send.mail_reports`, in one database session.
"""

from __future__ import annotations

from cxloop.config import AppConfig
from cxloop.settings import Settings
from models.db import session_scope


def deliver_reports(quarter: str, reports: dict, config: AppConfig, settings: Settings, force: bool = False):
    """Send each report to its scope's recipients (SMTP, or ``.eml`` files in the outbox); the delivery summary."""
    from tasks.delivery.send import mail_reports

    with session_scope() as session:
        return mail_reports(session, quarter, reports, config, settings, force=force)
