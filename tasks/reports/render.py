"""The quarterly PDF (step 8 of the loop): Jinja2 + WeasyPrint, archive-ready PDF/A-3u.

``render_report_pdf`` lays out a report context (context.py, layout.py) and writes it as
an A4 PDF with its CSV attachments; ``write_reports`` does so for every scope and returns
the files with their content hash, which delivery uses to avoid re-sending. The renderer
fetches nothing but ``templates/`` files and ``data:`` URIs (``TemplatesOnlyFetcher``).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from sqlmodel import Session
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from cxloop.config import AppConfig
from cxloop.domain import report_scopes
from cxloop.files import file_sha256
from cxloop.i18n import translations
from cxloop.paths import TEMPLATES_DIR
from cxloop.quarters import Quarter
from tasks.reports.attachments import (
    REGISTER_CSV_KEY,
    archive_timestamp,
    csv_attachment,
    league_csv_bytes,
    register_attachment,
    register_csv_bytes,
    unique_associated_files,
)
from tasks.reports.context import build_report_context
from tasks.reports.layout import report_layout
from tasks.reports.scope_survey import ScopeSurvey
from tasks.reports.strings import fmt_num, star_text

log = logging.getLogger(__name__)

#: ISO 19005-3, conformance level U: every font embedded and every glyph mapped to
#: Unicode (the text can still be searched and copied when the report is pulled from
#: the archive), an sRGB output intent, XMP metadata declaring the conformance, and —
#: what part 3 adds — embedded files of any type, each declared with its relationship
#: to the document.
PDF_VARIANT = "pdf/a-3u"


@dataclass(frozen=True)
class ReportFile:
    """One rendered report: what it covers, where it is, what it says first, and its content hash."""

    scope: str
    path: Path
    key_messages: list[str] = field(default_factory=list)
    sha256: str = ""


class TemplatesOnlyFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves files under one folder and ``data:`` URIs, nothing else.

    Every URL asked for is recorded in ``requested`` and every refusal in
    ``refused``, so a test can prove that rendering fetched nothing it should not.
    """

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        super().__init__(timeout=1, allowed_protocols={"data", "file"}, allow_redirects=False)
        self.root = Path(root).resolve()
        self.requested: list[str] = []
        self.refused: list[str] = []

    def _refuse(self, url: str, why: str) -> None:
        self.refused.append(url)
        raise ValueError(f"refused to fetch {url[:80]!r}: {why}")

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        self.requested.append(url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file" or parts.netloc not in ("", "localhost"):
            self._refuse(url, "only files in templates/ and data: URIs may be read")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            self._refuse(url, "outside the templates folder")
        # WeasyPrint ignores a stylesheet that is not served as text/css.
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), headers={"Content-Type": mime})


def breakable(value: object) -> Markup:
    """``value`` escaped, with a line-break opportunity (``<wbr>``) after each "-" and "_":
    a measure code such as ``M-2025Q4-52-candidate_quality`` wraps in a narrow column
    instead of widening its table past the page."""
    return Markup(re.sub(r"([-_])", r"\1<wbr>", str(escape(value))))


@cache
def template_environment(lang: str = "ru") -> Environment:
    """The templates' environment for one language: autoescaped HTML, Jinja2's i18n
    extension with the language's catalog ("newstyle": ``{{ _("Text %(x)s", x=v) }}``,
    values escaped, ``%%`` for a percent sign), and number filters in the language
    (``num``: ``fmt_num``; ``count``: a whole number with the locale's grouping), and
    ``breakable`` (``breakable``: codes that may wrap).

    One per language and process, like the catalog it holds (``cxloop.i18n.translations``):
    a template is compiled once, not once per report (~0.1 s of a regional report's ~2 s);
    Jinja2 still recompiles a template whose file changed."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # The i18n extension adds install_gettext_translations at runtime (Environment.extend).
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]  # see above
    env.filters["num"] = lambda value, digits=1, sign=False: fmt_num(value, lang, digits, sign)
    env.filters["count"] = lambda value: fmt_num(value, lang, 0)
    env.filters["stars"] = star_text
    env.filters["breakable"] = breakable
    return env


def render_report_html(context: dict) -> str:
    """The report as HTML (autoescaped), in ``context["lang"]``; charts are the only markup marked safe."""
    return template_environment(context.get("lang", "ru")).get_template("report.html.j2").render(**context)


def render_report_pdf(context: dict, out_path: Path, *, url_fetcher: TemplatesOnlyFetcher | None = None) -> Path:
    """Render ``context`` to an archive-ready A4 PDF at ``out_path`` (folders created); returns the path.

    * Layout: ``report_layout`` moves long lists to appendices; the stylesheet gives
      every page the running header (scope, quarter) and "page X of Y", and repeats a
      table's header row on each page it runs over.
    * PDF/A-3u (``PDF_VARIANT``): WeasyPrint embeds the fonts, adds the sRGB output
      intent and writes the XMP metadata (``pdfaid:part=3``, ``conformance=U``).
    * The measure register (``context[REGISTER_CSV_KEY]``, CSV bytes) is embedded as
      ``measures_<quarter>.csv``, listed in the catalog's associated files with
      relationship ``Data``. Without it the PDF is still PDF/A-3u, with no attachment.
    * Metadata: title from the HTML ``<title>``, language, creator ``cxloop``, creation
      and modification date = the quarter's logical cycle date; the file identifier is
      a hash of the HTML and the attachment. Same context → byte-identical PDF.
    * Safety: values are autoescaped by the template, and the renderer can fetch
      nothing but ``templates/`` files and ``data:`` URIs (``TemplatesOnlyFetcher``).
    """
    fetcher = url_fetcher or TemplatesOnlyFetcher(TEMPLATES_DIR)
    laid = report_layout(context)
    html = render_report_html(laid)
    digest = hashlib.sha256(html.encode("utf-8"))
    attachments = []
    attachment = register_attachment(context, fetcher)
    if attachment is not None:
        digest.update(context[REGISTER_CSV_KEY])
        attachments.append(attachment)
    league = laid["appendix"]["league_csv"]
    if league is not None:
        data = league_csv_bytes(league["rows"], context.get("lang", "ru"))
        digest.update(data)
        attachments.append(
            csv_attachment(
                context,
                fetcher,
                data,
                league["name"],
                "league_attachment",
                quarter=context.get("quarter_label", context["quarter"]),
            )
        )
    stamp = archive_timestamp(context).strftime("%Y-%m-%dT%H:%M:%SZ")
    return write_html_pdf(
        html, out_path, url_fetcher=fetcher, identifier=digest.hexdigest()[:32], stamp=stamp, attachments=attachments
    )


def write_html_pdf(
    html: str,
    out_path: Path,
    *,
    url_fetcher: TemplatesOnlyFetcher | None = None,
    identifier: str | None = None,
    stamp: str | None = None,
    attachments: list | None = None,
) -> Path:
    """Render report HTML (resolved against ``templates/``, so ``report.css`` applies) to a
    PDF/A-3u at ``out_path`` the way every report is: WeasyPrint with ``url_fetcher``
    (default ``TemplatesOnlyFetcher``), file identifier ``identifier`` (default: a hash of
    the HTML), creation and modification date ``stamp`` (ISO, UTC) when given, the
    ``attachments``; written to a sibling file and renamed. Returns the path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fetcher = url_fetcher or TemplatesOnlyFetcher(TEMPLATES_DIR)
    options: dict[str, Any] = {
        "pdf_variant": PDF_VARIANT,
        "pdf_identifier": (identifier or hashlib.sha256(html.encode("utf-8")).hexdigest()[:32]).encode(),
        "attachments": attachments or None,
    }
    document = HTML(string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=fetcher).render(**options)
    if stamp is not None:
        document.metadata.created = document.metadata.modified = stamp
    # Write to a sibling and rename, so a crash never leaves a half PDF that delivery would send.
    tmp = out_path.with_suffix(out_path.suffix + ".part")
    document.write_pdf(tmp, finisher=unique_associated_files, **options)
    tmp.replace(out_path)
    return out_path


def report_path(out_dir: Path, quarter: str, scope: str, lang: str = "ru") -> Path:
    return Path(out_dir) / "reports" / quarter / f"cx-report_{quarter}_{scope}_{lang}.pdf"


def write_reports(
    session: Session,
    quarter: str,
    config: AppConfig,
    out_dir: Path,
    scopes: list[str] | None = None,
    lang: str = "ru",
    surveys: Mapping[str, ScopeSurvey] | None = None,
    register_csv: bytes | None = None,
) -> dict[str, ReportFile]:
    """Build and render the quarter's reports: national plus every region unless ``scopes`` says otherwise.

    ``surveys``: scope -> its survey findings where the caller holds them
    (``tasks.reports.scope_survey``); a scope without reads its own from the database.
    ``register_csv``: ``register_csv_bytes(session, quarter, lang)`` where the caller made
    it already (the fan-out, once for all its tasks); else exported here.

    Every PDF embeds the quarter's measure register (``register_csv_bytes``, exported
    once for all scopes: the content of ``out/register/measures_<quarter>.csv``, with
    personal data redacted from titles and descriptions should any be there).
    Out: scope -> ReportFile at ``out_dir/reports/<quarter>/cx-report_<quarter>_<scope>_<lang>.pdf``.
    """
    quarter = str(Quarter.parse(quarter))
    scopes = scopes if scopes is not None else report_scopes(config.regions)
    register_csv = register_csv if register_csv is not None else register_csv_bytes(session, quarter, lang)
    reports: dict[str, ReportFile] = {}
    for scope in scopes:
        context = build_report_context(session, quarter, scope, config, lang, (surveys or {}).get(scope))
        context.setdefault(REGISTER_CSV_KEY, register_csv)
        path = render_report_pdf(context, report_path(out_dir, quarter, scope, lang))
        reports[scope] = ReportFile(
            scope=scope, path=path, key_messages=list(context["key_messages"]), sha256=file_sha256(path)
        )
        log.info("report %s %s written (%d bytes)", quarter, scope, path.stat().st_size)
    return reports
