"""The e-mail that carries a report: its subject, plain-text and HTML body.

Rendered here from ``templates/email.*.j2`` because ``templates/`` is read only by
the reporting stage; delivery (``tasks.delivery.send``) just sends what it gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxloop.config import AppConfig
from cxloop.i18n import format_quarter, gettext
from cxloop.quarters import Quarter
from tasks.reports.render import template_environment
from tasks.reports.strings import report_texts, scope_display_name


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(
    quarter: str, scope: str, config: AppConfig, key_messages: list[str], filename: str, lang: str = "ru"
) -> RenderedEmail:
    """Subject, plain-text and HTML body of the message that carries a report (templates/email.*.j2).

    Lives here because ``templates/`` is read only by the reporting stage; delivery just sends.
    """
    _ = gettext(lang)
    quarter = str(Quarter.parse(quarter))
    quarter_label = format_quarter(quarter, lang)
    scope_name = scope_display_name(scope, config, lang)
    # The quarter's code stays in the subject too: it is what the attachment is named by and what mail is searched for.
    subject = _(
        "Client experience: report for %(quarter)s (%(code)s) — %(scope_name)s",
        quarter=quarter_label,
        code=quarter,
        scope_name=scope_name,
    )
    values = {
        "t": report_texts(lang)["email"],
        "lang": lang,
        "quarter": quarter,
        "quarter_label": quarter_label,
        "scope": scope,
        "scope_name": scope_name,
        "key_messages": list(key_messages),
        "filename": filename,
        "subject": subject,
    }
    env = template_environment(lang)
    return RenderedEmail(
        subject=subject,
        text=env.get_template("email.txt.j2").render(**values).strip() + "\n",
        html=env.get_template("email.html.j2").render(**values),
    )
