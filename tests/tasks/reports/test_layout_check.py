"""The layout check (tools/layout_check.py) on the reports a manager gets: every demo
report in Russian, English and Finnish has nothing outside the page's content area,
no words printed over each other or over a chart's points, and no heading left alone
at the foot of a page; and the check does see each of these when a page has them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from models.db import session_scope
from tasks.reports.render import write_html_pdf, write_reports
from tools.layout_check import Finding, PageArea, check_pdf, page_area

MM = 72 / 25.4


def test_content_area_is_read_from_the_stylesheet():
    area = page_area()  # templates/report.css: A4, margin 20mm 15mm 18mm 15mm
    assert math.isclose(area.width, 595.2756, abs_tol=0.01) and math.isclose(area.height, 841.8898, abs_tol=0.01)
    assert [round(v / MM, 3) for v in (area.top, area.right, area.bottom, area.left)] == [20, 15, 18, 15]
    assert area.content == pytest.approx((15 * MM, 20 * MM, area.width - 15 * MM, area.height - 18 * MM))
    css = "/* @page { margin: 1in } */ @page { size: A4 landscape; margin: 10mm 20mm; @top-center { content: 'x' } }"
    landscape = page_area(css)
    assert (round(landscape.width), round(landscape.height)) == (842, 595)
    assert [round(v / MM) for v in (landscape.top, landscape.right, landscape.bottom, landscape.left)] == [
        10,
        20,
        10,
        20,
    ]
    assert page_area("@page { size: 100pt 200pt; margin: 5pt }") == PageArea(100, 200, 5, 5, 5, 5)
    with pytest.raises(ValueError, match="no @page rule"):
        page_area("body { margin: 0 }")


# A page with each problem the check is for, rendered like every report (report.css, WeasyPrint, PDF/A-3u).
BROKEN_HTML = """<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">
<link rel="stylesheet" href="report.css"></head><body>
<div class="running-header">Заголовок страницы</div>
<h2>Слишком широкая таблица</h2>
<table style="width: auto"><tr>
  <td style="white-space: nowrap">Первый столбец с длинным текстом, который не переносится</td>
  <td style="white-space: nowrap">Второй столбец с длинным текстом, который не переносится</td>
  <td style="white-space: nowrap">Вывод-за-краем</td>
</tr></table>
<p style="position: relative; height: 12pt"><span style="position: absolute; left: 0">Наложение</span><span
  style="position: absolute; left: 6pt">Наложение</span></p>
<div style="height: 600pt"></div>
<h2>Заголовок без продолжения</h2>
<p class="note">примечание под заголовком</p>
<div style="break-before: page"><p>Текст следующей страницы.</p></div>
</body></html>"""


def test_the_check_finds_text_outside_the_page_overlaps_and_orphaned_headings(tmp_path):
    pdf = write_html_pdf(BROKEN_HTML, tmp_path / "broken.pdf")
    findings = check_pdf(pdf)
    outside = [f for f in findings if f.kind == "outside"]
    assert outside and {f.page for f in outside} == {1}
    assert any(f.what == "text" and f.text == "Вывод-за-краем" for f in outside), outside
    right_edge = page_area().content[2]
    assert all(f.box[2] > right_edge for f in outside)
    assert any(f.what == "rect" for f in outside) or any(f.what == "text" for f in outside)
    overlaps = [f for f in findings if f.kind == "overlap"]
    # the two words print over each other, so their letters interleave into one "word"
    assert len(overlaps) == 1 and sorted(overlaps[0].text) == sorted("Наложение" * 2), overlaps
    orphans = [f for f in findings if f.kind == "orphan_heading"]
    assert [(f.page, f.text) for f in orphans] == [(1, "Заголовок без продолжения")]
    # the running header sits in the top margin: allowed there
    assert not any("Заголовок страницы" in f.text for f in findings)
    line = str(next(f for f in outside if f.text == "Вывод-за-краем"))
    assert line.startswith("page 1: text 'Вывод-за-краем' outside the content area (x ")
    assert isinstance(findings[0], Finding)


def test_the_check_passes_a_clean_page(tmp_path):
    html = BROKEN_HTML.split("<h2>Слишком")[0] + "<h2>Всё на месте</h2><p>Текст.</p></body></html>"
    assert check_pdf(write_html_pdf(html, tmp_path / "clean.pdf")) == []


@pytest.mark.slow
def test_every_demo_report_in_every_language_is_laid_out_within_the_page(demo_reports, tmp_path):
    """The demo's Russian reports of every quarter as the cycle wrote them, and its last
    quarter rendered in English and Finnish from the same database."""
    out = demo_reports["out"]
    pdfs = sorted((out / "reports").glob("*/cx-report_*_ru.pdf"))
    assert len(pdfs) == 4 * len(demo_reports["quarters"])
    last = demo_reports["quarters"][-1]
    with session_scope(demo_reports["url"]) as session:
        for lang in ("en", "fi"):
            reports = write_reports(session, last, demo_reports["config"], tmp_path, lang=lang)
            pdfs += [r.path for r in reports.values()]
    assert len(pdfs) == 4 * len(demo_reports["quarters"]) + 8
    problems = [f"{Path(p).name}: {finding}" for p in pdfs for finding in check_pdf(p)]
    assert problems == [], "\n".join(problems)
