"""The files a report PDF carries: the measure register and the office ranking as CSV.

The CSV bytes (the quarter's register export with personal data redacted, the
office ranking too long to print) and their PDF/A-3 associated files, dated with
the quarter's logical cycle date. ``tasks.reports.render`` attaches them to the PDF.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from cxloop.i18n import NP_, Marked, gettext
from cxloop.quarters import Quarter
from tasks.measures.export import EXPORT_COLUMNS, export_register_csv
from tasks.reports.strings import layout_lang, layout_text
from tasks.validate.redaction import redact

if TYPE_CHECKING:  # WeasyPrint is loaded where a PDF is made, not where the register CSV is (flows/fanout.py)
    from weasyprint import Attachment
    from weasyprint.urls import URLFetcher

log = logging.getLogger(__name__)

#: Context key of the measure register to embed (CSV bytes from ``register_csv_bytes``).
REGISTER_CSV_KEY = "register_csv"

#: Columns of the office ranking's CSV (``league_csv_bytes``): key of the league row, heading.
LEAGUE_CSV_COLUMNS: tuple[tuple[str, Marked], ...] = (
    ("place", NP_("office ranking CSV", "Place")),
    ("code", NP_("office ranking CSV", "Office code")),
    ("name", NP_("office ranking CSV", "Office")),
    ("region_code", NP_("office ranking CSV", "Region")),
    ("index", NP_("office ranking CSV", "Index (0–100)")),
    ("ci_low", NP_("office ranking CSV", "95%% CI low")),
    ("ci_high", NP_("office ranking CSV", "95%% CI high")),
    ("stars", NP_("office ranking CSV", "Stars")),
    ("change", NP_("office ranking CSV", "Change")),
    ("n", NP_("office ranking CSV", "Respondents")),
    ("sufficient", NP_("office ranking CSV", "Sufficient sample")),
)
_YES_NO = (NP_("office ranking CSV", "no"), NP_("office ranking CSV", "yes"))


def league_csv_name(quarter: str, scope: str) -> str:
    """File name of the office ranking attached to a report whose ranking is too long to print."""
    return f"offices_{Quarter.parse(quarter)}_{scope}.csv"


def league_csv_bytes(rows: list[dict[str, Any]], lang: str = "ru") -> bytes:
    """The office ranking as CSV (UTF-8 with BOM, as the register's: Excel opens it as is).

    One row per office in the report's order (ranked offices, then those with too small a
    sample, without a place); headings in ``lang``; numbers as numbers (index and interval
    with one decimal, a point as decimal sign), an empty cell where there is no value."""
    _ = gettext(layout_lang(lang))
    yes_no = [_.label(w) for w in _YES_NO]

    def cell(key: str, value: Any) -> Any:
        if value is None or value == "—":
            return ""
        if key == "sufficient":
            return yes_no[bool(value)]
        if isinstance(value, float):
            return f"{value:.1f}"
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_.label(label) for _key, label in LEAGUE_CSV_COLUMNS])
    for row in rows:
        writer.writerow([cell(key, row.get(key)) for key, _label in LEAGUE_CSV_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def register_csv_name(quarter: str) -> str:
    """File name of the embedded register: the same as the quarter's export in ``out/register/``."""
    return f"measures_{Quarter.parse(quarter)}.csv"


def register_csv_bytes(session: Session, quarter: str, lang: str = "ru") -> bytes:
    """The measure register as the quarter's CSV export has it: ``export_register_csv``
    judged at the quarter's logical cycle date (overdue flags as of that day), headers in
    ``lang``. This is the file every report of the quarter embeds.

    A measure's title and description are typed by people and may quote a client; the
    report travels by e-mail, so those cells pass through ``tasks.validate.redaction.redact``
    first. With nothing personal in them (the normal case) the bytes are exactly the
    export's; otherwise only the cells that held personal data differ.
    """
    with tempfile.TemporaryDirectory(prefix="cxloop-register-") as tmp:
        path = export_register_csv(
            session, Path(tmp) / register_csv_name(quarter), Quarter.parse(quarter).cycle_date, lang
        )
        data = path.read_bytes()
    return _redact_register_csv(data, [EXPORT_COLUMNS.index(c) for c in ("title", "description")])


def _redact_register_csv(data: bytes, columns: list[int]) -> bytes:
    """``data`` (UTF-8 with BOM, ``\\n`` line ends, as ``export_register_csv`` writes it)
    with personal data replaced in the given columns; the very same bytes when none."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    changed = 0
    for row in rows[1:]:
        for i in columns:
            if i < len(row) and row[i]:
                clean = redact(row[i]) or ""
                if clean != row[i]:
                    row[i], changed = clean, changed + 1
    if not changed:
        return data
    log.warning("register CSV for the report: personal data replaced in %d cell(s)", changed)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def archive_timestamp(context: dict) -> datetime:
    """The report's date in the PDF (metadata, attachment): the quarter's logical cycle
    date at 00:00 UTC, not the wall clock, so the same data gives the same bytes."""
    day = Quarter.parse(context["quarter"]).cycle_date
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def csv_attachment(
    context: dict, fetcher: URLFetcher, data: bytes, name: str, description: str, **values: Any
) -> Attachment:
    """CSV bytes as a PDF/A-3 associated file (relationship ``Data``: the data the
    report's tables are drawn from), dated with the quarter's logical cycle date."""
    from weasyprint import Attachment

    stamp = archive_timestamp(context)
    return Attachment(
        file_obj=io.BytesIO(data),
        url_fetcher=fetcher,
        name=name,
        description=layout_text(context.get("lang", "ru"), description, **values),
        created=stamp,
        modified=stamp,
        relationship="Data",
    )


def register_attachment(context: dict, fetcher: URLFetcher) -> Attachment | None:
    """The register CSV of ``context`` as a PDF/A-3 associated file, or None."""
    data = context.get(REGISTER_CSV_KEY)
    if not data:
        return None
    return csv_attachment(
        context,
        fetcher,
        data,
        register_csv_name(context["quarter"]),
        "attachment",
        date=archive_timestamp(context).date().isoformat(),
    )


def unique_associated_files(document: Any, pdf: Any) -> None:
    """WeasyPrint finisher: list each embedded file once in the catalog's ``/AF`` array.

    WeasyPrint 70 puts every attachment there twice for PDF/A-3 (once from the
    ``/EmbeddedFiles`` name tree, once from the ``/Filespec`` objects; Kozea/WeasyPrint
    issue #2917). Harmless for readers, but an archive file should say it once.
    """
    import pydyf

    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))
