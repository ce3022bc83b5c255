"""The quarterly PDF report: built from a real SQLite database, read back with pypdf."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from cxloop.config import load_config
from cxloop.domain import RAYS
from cxloop.i18n import gettext
from cxloop.paths import TEMPLATES_DIR
from models.db import dispose_engines, session_scope, upgrade
from models.tables import (
    EffectEvaluation,
    Feedback,
    IndexResult,
    IngestedFile,
    Measure,
    PainPoint,
    Quarantine,
)
from tasks.reports import charts
from tasks.reports.context import build_report_context
from tasks.reports.message import render_email
from tasks.reports.render import TemplatesOnlyFetcher, render_report_pdf, write_reports
from tasks.reports.strings import fmt_num, star_text

ROOT = Path(__file__).resolve().parents[3]
EVIL = '<img src="http://example.com/x.png"> file:///etc/passwd'
OVERDUE_TITLE = "SMS-напоминания за сутки до встречи"
OTHER_REGION_TITLE = "Электронная очередь в Екатеринбурге"


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config")


def _index(quarter, level, unit, region, ctype, index, n=200, change=None, sufficient=True, stars=None, rays=None):
    rays = rays or {r: index + d for r, d in zip(RAYS, (4.0, 2.0, -6.0, -1.0, 1.0), strict=True)}
    return IndexResult(
        quarter=quarter,
        level=level,
        unit_code=unit,
        region_code=region,
        client_type=ctype,
        **rays,
        index=index,
        ci_low=index - 2.2,
        ci_high=index + 2.2,
        n=n,
        stars=stars,
        sufficient_sample=sufficient,
        change=change,
    )


def populate(url: str) -> None:
    """Two quarters of results for the country and regions 52 / 66 / 10."""
    with session_scope(url) as s:
        for q, shift in (("2026Q2", -2.1), ("2026Q3", 0.0)):
            for ctype, base in (("citizen", 85.0), ("employer", 83.6), ("composite", 84.3)):
                s.add(
                    _index(
                        q,
                        "country",
                        "RU",
                        None,
                        ctype,
                        base + shift,
                        n=900,
                        stars=4,
                        change=2.1 if (q == "2026Q3" and ctype == "composite") else None,
                    )
                )
            for ctype, base in (("citizen", 82.0), ("employer", 81.4), ("composite", 81.7)):
                rays = None
                if q == "2026Q3":
                    # effort drops by 4.9 points against Q2 in region 52 (the others rise 2.1): the biggest ray change
                    rays = {r: base + d for r, d in zip(RAYS, (4.0, 2.0, -13.0, -1.0, 1.0), strict=True)}
                s.add(_index(q, "region", "52", "52", ctype, base + shift, n=300, stars=4, rays=rays))
            s.add(_index(q, "region", "66", "66", "composite", 77.5 + shift, n=250, stars=3))
            s.add(_index(q, "region", "10", "10", "composite", 71.0, n=12, sufficient=False))
        q = "2026Q3"
        s.add(_index(q, "office", "52-01", "52", "composite", 88.2, n=60, stars=4, change=1.5))
        s.add(_index(q, "office", "52-02", "52", "composite", 76.4, n=45, stars=3, change=-0.8))
        s.add(_index(q, "office", "52-03", "52", "composite", 70.0, n=12, sufficient=False))
        s.add(_index(q, "office", "66-01", "66", "composite", 79.9, n=80, stars=3))

        f1 = IngestedFile(
            sha256="a" * 64,
            channel="star_survey",
            path="star_survey_52.csv",
            quarter=q,
            received=120,
            accepted=110,
            quarantined=6,
            duplicates=4,
        )
        f2 = IngestedFile(
            sha256="b" * 64,
            channel="review_book",
            path="review_book_52.xlsx",
            quarter=q,
            received=50,
            accepted=45,
            quarantined=3,
            duplicates=2,
        )
        s.add(f1)
        s.add(f2)
        s.flush()
        # the same content received again: must not be counted twice
        s.add(
            IngestedFile(
                sha256="a" * 64,
                channel="star_survey",
                path="star_survey_52.csv",
                quarter=q,
                received=120,
                accepted=0,
                quarantined=0,
                duplicates=120,
                repeat_of=f1.id,
            )
        )
        for i in range(6):
            s.add(
                Quarantine(
                    ingested_file_id=f1.id,
                    channel="star_survey",
                    source_file="star_survey_52.csv",
                    source_row=i + 2,
                    field="received_at",
                    rule="bad_date",
                    reason="дата 31.02.2026 не существует (тел. +7 912 345-67-89)",
                    quarter=q,
                )
            )
        for i in range(3):
            s.add(
                Quarantine(
                    ingested_file_id=f2.id,
                    channel="review_book",
                    source_file="review_book_52.xlsx",
                    source_row=i + 2,
                    field="office_code; received_at",
                    rule="unknown_office; bad_date",
                    reason="офис не найден; дата не распознана",
                    quarter=q,
                )
            )
        for i, (channel, region) in enumerate(
            [("star_survey", "52")] * 3 + [("review_book", "52")] * 2 + [("pos", "66")] * 4
        ):
            s.add(
                Feedback(
                    dedup_key=f"k{i}",
                    channel=channel,
                    source_file="x",
                    source_row=i,
                    received_at=date(2026, 8, 1),
                    quarter=q,
                    office_code=f"{region}-01",
                    region_code=region,
                    client_type="citizen",
                    text=f"Иванов Иван, тел. +7 912 345-67-89 {EVIL}",
                )
            )

        for region in ("52", "ALL"):
            level = "country" if region == "ALL" else "region"
            s.add(
                PainPoint(
                    quarter=q,
                    level=level,
                    unit_code=region,
                    region_code=region,
                    theme="waiting_time",
                    journey_stage="first_contact",
                    mentions=52,
                    negative_mentions=40,
                    texts_total=216,
                    negative_share=18.5,
                    ray="effort",
                    ray_score=62.0,
                    trend=3.2,
                    signal="rise",
                    reach_offices=2,
                    offices_total=5,
                    component_reach=12.95,
                    component_severity=1.52,
                    component_trend=1.25,
                    component_driver=1.4,
                    component_coverage=1.0,
                    priority=55.0,
                    rank=1,
                )
            )
            s.add(
                PainPoint(
                    quarter=q,
                    level=level,
                    unit_code=region,
                    region_code=region,
                    theme="documents_effort",
                    journey_stage="benefits",
                    mentions=30,
                    negative_mentions=22,
                    texts_total=216,
                    negative_share=10.2,
                    ray="effort",
                    ray_score=62.0,
                    trend=None,
                    priority=31.0,
                    rank=2,
                    recurring=True,
                )
            )
        # An office row of the region must not show in the region's table.
        s.add(
            PainPoint(
                quarter=q,
                level="office",
                unit_code="52-01",
                region_code="52",
                theme="office_comfort",
                journey_stage="first_contact",
                mentions=9,
                negative_mentions=9,
                texts_total=40,
                negative_share=22.5,
                ray="comfort",
                priority=99.0,
                rank=1,
            )
        )

        common = dict(
            theme="reminders_notifications",
            journey_stage="periodic_meetings",
            type="process_optimisation",
            owner="Служба дизайна КО",
            kpi_metric="item:P3",
            kpi_baseline=61.0,
            kpi_target=70.0,
        )
        s.add(
            Measure(
                code="M-52-001",
                title=OVERDUE_TITLE,
                region_code="52",
                offices="52-01,52-02",
                status="in_progress",
                proposed_quarter="2026Q1",
                due_date=date(2026, 8, 15),
                **common,
            )
        )
        s.add(
            Measure(
                code="M-52-002",
                title="Памятка о следующих шагах",
                region_code="52",
                offices="52-02",
                status="proposed",
                proposed_quarter="2026Q3",
                due_date=date(2026, 12, 20),
                **common,
            )
        )
        evaluated = Measure(
            code="M-52-003",
            title="Онлайн-запись на приём",
            region_code="52",
            offices="52-01",
            status="evaluated",
            proposed_quarter="2025Q4",
            due_date=date(2026, 3, 1),
            implemented_on=date(2026, 2, 20),
            effect_verdict="effective",
            **common,
        )
        s.add(evaluated)
        s.add(
            Measure(
                code="M-66-001",
                title=OTHER_REGION_TITLE,
                region_code="66",
                offices="66-01",
                status="approved",
                proposed_quarter="2026Q2",
                due_date=date(2026, 7, 1),
                **common,
            )
        )
        s.flush()
        s.add(
            EffectEvaluation(
                measure_id=evaluated.id,
                quarter=q,
                kpi_metric="item:P3",
                method="did",
                estimate=6.2,
                ci_low=2.1,
                ci_high=10.3,
                p_value=0.01,
                n_treated_units=2,
                n_control_units=3,
                n_obs=240,
                verdict="effective",
            )
        )


@pytest.fixture(scope="module")
def db_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('reportdb') / 'cx.db'}"
    upgrade(url)
    populate(url)
    yield url
    dispose_engines()


@pytest.fixture(scope="module")
def reports(db_url, config, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    with session_scope(db_url) as s:
        return write_reports(s, "2026Q3", config, out, scopes=["national", "52"])


def pdf_text(path: Path) -> tuple[str, int]:
    reader = PdfReader(str(path))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    # table cells wrap: undo hyphen breaks and fold every run of whitespace into one space
    text = re.sub(r"\s+", " ", text.replace("-\n", "-"))
    return text, len(reader.pages)


def test_national_report_shows_index_stars_pain_points_register_and_league(reports):
    report = reports["national"]
    assert report.path.name == "cx-report_2026Q3_national_ru.pdf"
    assert report.path.parent.parts[-2:] == ("reports", "2026Q3")
    text, pages = pdf_text(report.path)
    assert pages >= 3
    assert "84,3" in text  # composite index
    assert "★★★★☆" in text
    assert "+2,1" in text  # change vs previous quarter
    assert "Очереди и долгое ожидание" in text  # theme label from config, not the id
    assert OVERDUE_TITLE in text and "просрочена" in text
    assert OTHER_REGION_TITLE in text  # national register covers every region
    assert "недостаточная выборка" in text  # region 10 and office 52-03
    assert f"стр. 1 из {pages}" in text and f"стр. {pages} из {pages}" in text
    assert "3-й квартал 2026" in text and "Изменение к 2 кв. 2026" in text  # quarters named, not coded
    assert "5 октября 2026 г." in text  # the cycle date in the footnote
    assert "разность разностей" in text and "2,10…10,30" in text  # effect with its interval
    # intake: two first receipts, the repeated file is not counted again
    assert re.search(r"Итого\s*170\s*155\s*9\s*6", text), text
    # rows that broke two rules count for each; the reason text (it may quote values) is not shown.
    # Fields read as plain words; rule ids without a label (these test-only ones) show unchanged.
    assert "bad_date дата 9" in text and "unknown_office офис 3" in text
    assert "received_at" not in text and "office_code" not in text


def test_region_report_is_limited_to_its_region(reports):
    text, pages = pdf_text(reports["52"].path)
    assert "Нижегородская область" in text
    assert "81,7" in text
    assert OVERDUE_TITLE in text
    assert OTHER_REGION_TITLE not in text
    assert "66-01" not in text and "52-01" in text
    # 52-03 has 12 respondents: marked, and it gets no place in the ranking
    assert re.search(r"—\s*ЦЗН г\. Дзержинска \(52-03\)\s*недостаточная выборка", text), text
    assert f"стр. {pages} из {pages}" in text
    # accepted feedback of this region only (5 rows), quarter-wide totals labelled as such
    assert "Все поступления квартала (все регионы)" in text
    assert re.search(r"Итого\s*5\b", text)
    # pain points: the region's rows with their why-sentence and components, not its offices' rows
    assert "Место 1" in text and "в 2 из 5 офисов" in text, text
    assert "рост (контрольная карта)" in text
    assert "12,95 × 1,52 × 1,25 × 1,40 × 1,00" in text
    assert "Помещения, доступность" not in text.split("Болевые точки")[1].split("Парето")[0]


def test_personal_data_in_feedback_and_quarantine_reasons_never_reaches_the_report(reports):
    for report in reports.values():
        text, _ = pdf_text(report.path)
        assert "Иванов" not in text
        assert "345-67-89" not in text


def test_key_messages_are_written_from_the_data(reports):
    messages = reports["52"].key_messages
    assert 3 <= len(messages) <= 5
    assert "81,7" in messages[0] and "★★★★☆" in messages[0]
    assert any("минимизация усилий" in m and "−4,9" in m for m in messages)
    assert any("Очереди и долгое ожидание" in m and "18,5" in m for m in messages)
    assert any("Просрочено мер: 1" in m for m in messages)
    assert any("M-52-003" in m and "2,10…10,30" in m for m in messages)


def test_rendering_is_deterministic(db_url, config, reports, tmp_path):
    with session_scope(db_url) as s:
        again = write_reports(s, "2026Q3", config, tmp_path, scopes=["52"])
    assert again["52"].sha256 == reports["52"].sha256


def test_empty_quarter_renders_with_no_data_markers(db_url, config, tmp_path):
    with session_scope(db_url) as s:
        ctx = build_report_context(s, "2024Q1", "66", config)
    assert ctx["key_messages"][0] == "Индекс за квартал не рассчитан: нет данных опроса."
    path = render_report_pdf(ctx, tmp_path / "empty.pdf")
    text, pages = pdf_text(path)
    assert "нет данных" in text
    assert f"стр. 1 из {pages}" in text


def test_unknown_scope_is_refused(db_url, config):
    with session_scope(db_url) as s, pytest.raises(ValueError, match="unknown scope"):
        build_report_context(s, "2026Q3", "99", config)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x.png",
        "https://example.com/style.css",
        "file:///etc/passwd",
        (TEMPLATES_DIR / ".." / "pyproject.toml").as_uri(),
        "ftp://example.com/x",
    ],
)
def test_url_fetcher_refuses_everything_outside_templates(url):
    fetcher = TemplatesOnlyFetcher()
    with pytest.raises(ValueError, match="refused"):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_url_fetcher_serves_templates_and_data_uris():
    fetcher = TemplatesOnlyFetcher()
    css = fetcher.fetch((TEMPLATES_DIR / "report.css").as_uri())
    assert b"@page" in css.read()
    data = fetcher.fetch("data:text/plain;base64,aGVsbG8=")
    assert data.read() == b"hello"
    assert fetcher.refused == []


def test_markup_in_a_database_string_is_printed_as_text_and_fetches_nothing(db_url, config, tmp_path):
    with session_scope(db_url) as s:
        ctx = build_report_context(s, "2026Q3", "52", config)
    # A register field typed by a person (measure title) carrying markup and a local file URL.
    ctx["register"]["overdue"][0]["title"] = EVIL
    ctx["key_messages"] = [*ctx["key_messages"][:2], EVIL]
    fetcher = TemplatesOnlyFetcher()
    path = render_report_pdf(ctx, tmp_path / "evil.pdf", url_fetcher=fetcher)
    text, _ = pdf_text(path)
    assert '<img src="http://example.com/x.png">' in text
    # the stylesheet and the charts (data: URIs) are all the renderer asked for
    css = (TEMPLATES_DIR / "report.css").as_uri()
    assert css in fetcher.requested
    assert all(u == css or u.startswith("data:image/svg+xml;base64,") for u in fetcher.requested), fetcher.requested
    assert fetcher.refused == []


def test_fetcher_blocks_urls_even_if_markup_reached_the_renderer(tmp_path):
    """Defence in depth: were a template ever to print markup unescaped, nothing is fetched."""
    from weasyprint import HTML

    fetcher = TemplatesOnlyFetcher()
    html = (
        '<p>x</p><img src="http://example.com/x.png"><img src="file:///etc/passwd">'
        '<link rel="stylesheet" href="../pyproject.toml">'
    )
    HTML(string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=fetcher).write_pdf(tmp_path / "x.pdf")
    assert "http://example.com/x.png" in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert (TEMPLATES_DIR.parent / "pyproject.toml").as_uri() in fetcher.refused
    assert set(fetcher.refused) == set(fetcher.requested)


def test_charts_are_deterministic_vector_svg():
    labels = {
        "friendliness": "дружелюбие",
        "usefulness": "полезность",
        "effort": "усилия",
        "personalisation": "адресность",
        "comfort": "комфорт",
    }
    series = {
        "Граждане": dict(zip(labels, (80, 70, 60, None, 90), strict=True)),
        "Работодатели": dict(zip(labels, (85, 75, 65, 70, 80), strict=True)),
    }
    a, b = charts.radar_svg(series, labels), charts.radar_svg(series, labels)
    assert a == b and a.startswith("<svg") and "дружелюбие" in a and "Работодатели" in a
    assert "http://purl.org" not in a  # RDF metadata dropped
    p = charts.pareto_svg([("Очереди", 40), ("Документы", 22)], chart_id="p")
    assert p == charts.pareto_svg([("Очереди", 40), ("Документы", 22)], chart_id="p")
    assert 'id="p-' in p and "Очереди" in p
    f = charts.forest_svg([("M-1", 6.2, 2.1, 10.3), ("M-2", -1.0, -3.0, 1.0)])
    assert "M-1" in f and "M-2" in f


def test_number_and_star_formatting():
    assert fmt_num(84.26, "ru") == "84,3"
    assert fmt_num(-7.04, "ru", sign=True) == "−7,0"
    assert fmt_num(2.1, "en", sign=True) == "+2.1"
    assert fmt_num(-0.01, "ru", sign=True) == "0,0"
    assert fmt_num(None) == "—"
    assert fmt_num(-7.04, "fi", sign=True) == "−7,0" and fmt_num(-7.04, "en") == "−7.0"
    assert fmt_num(12345.6, "ru") == "12\u00a0345,6" and fmt_num(12345.6, "en") == "12,345.6"
    assert star_text(4) == "★★★★☆"
    assert star_text(None) == "—"


# What each language must show: headings, number format, quarter and page words, first key message.
LANGUAGE_MARKS = {
    "en": {
        "words": [
            "page 1 of",
            "Q3 2026",
            "Client-centricity star",
            "Key messages",
            "Pain points (by priority)",
            "Waiting time",
            "insufficient sample",
            "Change vs Q2 2026",
            "Register of corrective measures",
            "1 Jul",
            "30 Sept 2026",
            "5 October 2026",
        ],
        "numbers": ["81.7", "+2.1", "−4.9", "12.95 × 1.52 × 1.25 × 1.40 × 1.00", "2.10…10.30"],
        "not": ["81,7", "Главное", "Квартал"],
        "first_message": "The composite client-centricity index is 81.7 out of 100",
    },
    "fi": {
        "words": [
            "sivu 1/",
            "3. neljännes 2026",
            "Asiakaslähtöisyyden tähti",
            "Neljänneksen tärkeimmät havainnot",
            "Kipupisteet tärkeysjärjestyksessä",
            "Odotusaika",
            "liian pieni otos",
            "Muutos vrt. Q2/2026",
            "Korjaavien toimenpiteiden rekisteri",
            "Toimistojen vertailu",
            "Sija 1",
            "2/5 toimistossa",
            "1. heinäkuuta",
            "30. syyskuuta 2026",
            "5. lokakuuta 2026",
            "Henkilöasiakkaat",
            "Yhteensä",
        ],
        "numbers": ["81,7", "+2,1", "−4,9", "12,95 × 1,52 × 1,25 × 1,40 × 1,00", "2,10…10,30"],
        "not": ["81.7", "page 1 of", "Key messages", "Waiting time", "insufficient sample"],
        "first_message": "Asiakaslähtöisyyden yhdistelmäindeksi on 81,7/100",
    },
}


@pytest.mark.parametrize("lang", ["en", "fi"])
def test_other_languages_render_with_their_labels(db_url, config, tmp_path, lang):
    marks = LANGUAGE_MARKS[lang]
    with session_scope(db_url) as s:
        ctx = build_report_context(s, "2026Q3", "52", config, lang=lang)
    assert ctx["key_messages"][0].startswith(marks["first_message"]), ctx["key_messages"][0]
    text, pages = pdf_text(render_report_pdf(ctx, tmp_path / f"{lang}.pdf"))
    missing = [w for w in marks["words"] + marks["numbers"] if w not in text]
    assert missing == [], (missing, text)
    assert [w for w in marks["not"] if w in text] == []
    assert (f"sivu {pages}/{pages}" if lang == "fi" else f"page {pages} of {pages}") in text


@pytest.mark.parametrize("lang", ["ru", "fi"])
def test_no_english_interface_string_is_left_in_a_translated_report(db_url, config, tmp_path, lang):
    """Every catalog string whose translation differs from the English msgid must not appear
    in English in the report (a template or builder that bypassed the catalogs would show it)."""
    from cxloop.i18n import POT_PATH, placeholders, read_catalog

    _ = gettext(lang)
    with session_scope(db_url) as s:
        ctx = build_report_context(s, "2026Q3", "national", config, lang=lang)
    text, _pages = pdf_text(render_report_pdf(ctx, tmp_path / f"national_{lang}.pdf"))
    english = []
    for m in read_catalog(POT_PATH):
        if not m.id or not isinstance(m.id, str) or placeholders(m.id) or len(m.id) < 6:
            continue  # whole strings without values; short ones ("Code") could be inside other words
        source = m.id % {}
        translated = _.pgettext(m.context, m.id) if m.context else _(m.id)
        # As a word, not inside an id the report shows unchanged ("office" in "unknown_office").
        if translated != source and re.search(rf"(?<!\w){re.escape(source)}(?!\w)", text):
            english.append(source)
    assert english == []


def test_emails_are_written_in_the_report_language(config):
    messages = ["Индекс <b>81,7</b> & рост"]
    ru = render_email("2026Q3", "52", config, messages, "cx-report_2026Q3_52_ru.pdf", "ru")
    fi = render_email("2026Q3", "52", config, messages, "cx-report_2026Q3_52_fi.pdf", "fi")
    en = render_email("2026Q3", "national", config, messages, "cx-report_2026Q3_national_en.pdf", "en")
    assert ru.subject == "Клиентский опыт: отчёт за 3-й квартал 2026 (2026Q3) — Нижегородская область (52)"
    assert fi.subject.startswith("Asiakaskokemusraportti: 3. neljännes 2026 (2026Q3)")
    assert en.subject == "Client experience: report for Q3 2026 (2026Q3) — National report"
    assert fi.text.startswith("Hei,") and "3. neljännes 2026." in fi.text and "Raportti (PDF) liitteenä" in fi.text
    assert "Neljänneksen tärkeimmät havainnot" in fi.html and 'lang="fi"' in fi.html
    assert "Во вложении квартальный отчёт" in ru.text and "<strong>3-й квартал 2026</strong>" in ru.html
    # the plain text is not escaped, the HTML is
    assert messages[0] in ru.text and "Индекс &lt;b&gt;81,7&lt;/b&gt; &amp; рост" in ru.html


def test_page_counter_is_built_from_the_catalog_and_escaped():
    from tasks.reports.strings import page_counter_css

    assert page_counter_css(gettext("ru")) == '"стр. " counter(page) " из " counter(pages)'
    assert page_counter_css(gettext("fi")) == '"sivu " counter(page) "/" counter(pages)'

    # A translation may reorder the values; quotes, backslashes and markup cannot escape the CSS string.
    def hostile(message, **values):
        return 'total {pages}, "now" \\ </style><script> {page}'.format(**values)

    css = str(page_counter_css(hostile))
    assert css.startswith('"total " counter(pages) ')
    assert css.endswith(" counter(page)")
    assert "</style>" not in css and '"now"' not in css and "\\22 now\\22 " in css


def test_measure_spanning_regions_shows_in_each_of_its_regions_only():
    from cxloop.config import load_config
    from cxloop.domain import NATIONAL
    from models.tables import Measure
    from tasks.reports.context_measures import measure_in_scope

    cfg = load_config(Path(__file__).resolve().parents[3] / "config")
    m = Measure(
        code="M-X",
        title="SMS",
        theme="reminders_notifications",
        type="new_experience",
        region_code="ALL",
        offices="52-01,66-01",
        owner="wg",
        status="implemented",
        proposed_quarter="2026Q1",
        kpi_metric="item:P3",
    )
    offices = {o.office_code: o.region_code for o in cfg.offices}
    assert (
        measure_in_scope(m, "52", offices)
        and measure_in_scope(m, "66", offices)
        and measure_in_scope(m, NATIONAL, offices)
    )
    assert not measure_in_scope(m, "10", offices)
