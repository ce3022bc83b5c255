"""The quarterly PDF as a file to archive and to read: PDF/A-3u with the measure register
embedded, a running header and "page X of Y" on every page, long tables split over pages
with their header row repeated, long lists continued in appendices, markup from the
database printed as text without a single network request, no personal data, and PNG
renders of the first pages (``tests/output/``) for a person to look at.

Everything runs on real SQLite databases filled here (a region with 120 offices and 120
measures), rendered by the production code (``write_reports``) and read back with pypdf
and poppler's ``pdftoppm``.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from cxloop.config import load_config
from cxloop.domain import ITEMS, NATIONAL, RAYS
from cxloop.quarters import Quarter
from demo.people import NAMES as _NAMES
from demo.people import fake_email as _fake_email
from demo.people import fake_phone as _fake_phone
from models.db import dispose_engines, session_scope, upgrade
from models.tables import (
    EffectEvaluation,
    Feedback,
    IndexResult,
    IngestedFile,
    Measure,
    MeasureHistory,
    PainPoint,
    Quarantine,
    SurveyAnswer,
)
from tasks.measures.export import export_register_csv
from tasks.reports.attachments import REGISTER_CSV_KEY, league_csv_name, register_csv_bytes, register_csv_name
from tasks.reports.context import build_report_context
from tasks.reports.context_measures import REGISTER_GROUPS
from tasks.reports.layout import APPENDIX_MAX_ROWS, LEAGUE_BODY_ROWS, REGISTER_BODY_ROWS, report_layout
from tasks.reports.render import render_report_pdf, write_reports

ROOT = Path(__file__).resolve().parents[3]
PNG_DIR = ROOT / "tests" / "output"
Q, PREV = "2026Q3", "2026Q2"
REGION, REGION_NAME = "52", "Нижегородская область"
N_OFFICES = 120  # offices of region 52 (5 in the shipped registry + 115 added here)
N_MEASURES = 120
# measure i goes to a register group by i % 10 (see populate_big): new 0-1, approved and
# in progress 2-4, proposed earlier and awaiting a decision 5, overdue 6-7, evaluated 8,
# implemented (effect not evaluated yet) 9
GROUP_SIZES = {
    "new": N_MEASURES // 5,
    "awaiting": N_MEASURES // 10,
    "in_progress": 3 * N_MEASURES // 10,
    "implemented": N_MEASURES // 10,
    "overdue": N_MEASURES // 5,
    "evaluated": N_MEASURES // 10,
}
PDFA_NS = "http://www.aiim.org/pdfa/ns/id/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


# --------------------------------------------------------------------------- data


def _config_dir(tmp: Path, extra_offices: list[tuple[str, str, str, str]]) -> Path:
    """The shipped configuration with more offices in the registry (a region edits
    ``offices.csv`` exactly like this)."""
    folder = tmp / "config"
    shutil.copytree(ROOT / "config", folder)
    with (folder / "offices.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(extra_offices)
    return folder


def planted_personal_data(seed: int = 20261) -> dict[str, list[str]]:
    """Personal data in the shapes the demo plants (``demo.generate``): its fake
    phones, e-mails and names, plus SNILS and passport numbers as its sentences write them."""
    rng = np.random.default_rng(seed)
    return {
        "phones": sorted({_fake_phone(rng) for _ in range(12)}),
        "emails": sorted({_fake_email(rng) for _ in range(8)}),
        "names": list(_NAMES),
        "ids": [f"123-456-789 {n:02d}" for n in (17, 42, 93)] + [f"4510 1234{n:02d}" for n in (17, 42)],
    }


def _pii_sentences(pii: dict[str, list[str]]) -> list[str]:
    values = [v for group in pii.values() for v in group]
    return [f"Меня зовут {v}, пишите, звоните: {v}." for v in values]


def populate_big(url: str, pii: dict[str, list[str]]) -> None:
    """Two quarters of results; region 52 has 120 offices and 120 measures spread over
    the register groups. The planted personal data sits where clients' words end up:
    feedback texts, quarantine reasons, and staff's register history (who, comment)."""
    rng = np.random.default_rng(7)
    sentences = _pii_sentences(pii)
    offices = [f"52-{i:02d}" for i in range(1, 6)] + [f"52-{i}" for i in range(101, 101 + N_OFFICES - 5)]
    with session_scope(url) as s:
        for quarter, shift in ((PREV, -1.6), (Q, 0.0)):
            for ctype, base in (("citizen", 80.4), ("employer", 78.2), ("composite", 79.3)):
                rays = dict(zip(RAYS, (base + 5.0, base + 1.0, base - 9.0, base - 2.0, base + 5.0), strict=True))
                for level, unit, region, n in (("country", "RU", None, 2400), ("region", REGION, REGION, 1500)):
                    s.add(
                        IndexResult(
                            quarter=quarter,
                            level=level,
                            unit_code=unit,
                            region_code=region,
                            client_type=ctype,
                            **{k: v + shift for k, v in rays.items()},
                            index=base + shift,
                            ci_low=base + shift - 1.1,
                            ci_high=base + shift + 1.1,
                            n=n,
                            stars=3,
                            sufficient_sample=True,
                            change=1.6 if quarter == Q else None,
                        )
                    )
            for region, value in (("66", 76.8), ("10", 71.2)):
                s.add(
                    IndexResult(
                        quarter=quarter,
                        level="region",
                        unit_code=region,
                        region_code=region,
                        client_type="composite",
                        index=value + shift,
                        ci_low=value - 2,
                        ci_high=value + 2,
                        n=300,
                        stars=3,
                        sufficient_sample=True,
                    )
                )
        for i, code in enumerate(offices):
            value = float(np.round(60 + 35 * rng.random(), 1))
            small = i % 17 == 16
            s.add(
                IndexResult(
                    quarter=Q,
                    level="office",
                    unit_code=code,
                    region_code=REGION,
                    client_type="composite",
                    index=value,
                    ci_low=value - 4.0,
                    ci_high=value + 4.0,
                    n=12 if small else 40 + i,
                    stars=None if small else 3,
                    sufficient_sample=not small,
                    change=float(rng.normal(0, 2)),
                )
            )

        # Intake: files, quarantined rows whose reason quotes personal data, accepted feedback with it.
        n_answers = 300
        f = IngestedFile(
            sha256="c" * 64,
            channel="star_survey",
            path="star_survey_52.xlsx",
            quarter=Q,
            received=420,
            accepted=n_answers,
            quarantined=len(sentences),
            duplicates=420 - n_answers - len(sentences),
        )
        s.add(f)
        s.flush()
        for i, sentence in enumerate(sentences):
            s.add(
                Quarantine(
                    ingested_file_id=f.id,
                    channel="star_survey",
                    source_file=f.path,
                    source_row=i + 2,
                    field="comment",
                    rule="bad_date",
                    reason=f"дата не распознана: {sentence}",
                    quarter=Q,
                )
            )
        for i in range(n_answers):
            client = "citizen" if i % 5 else "employer"
            fb = Feedback(
                dedup_key=f"s{i}",
                channel="star_survey",
                source_file=f.path,
                source_row=i + 2,
                received_at=date(2026, 7, 1 + i % 28),
                quarter=Q,
                office_code=offices[i % 5],
                region_code=REGION,
                client_type=client,
                text=sentences[i % len(sentences)],
            )
            s.add(fb)
            s.flush()
            level = rng.normal(0, 0.8)
            items = {k: int(np.clip(np.round(3.6 + level + rng.normal(0, 0.7)), 1, 5)) for k in ITEMS}
            effort = np.mean([items[k] for k in ("E1", "E2", "E3", "E4")])
            s.add(
                SurveyAnswer(
                    feedback_id=fb.id,
                    **items,
                    overall=int(np.clip(np.round(1.9 * effort + rng.normal(0, 1)), 1, 10)),
                    nps=int(np.clip(np.round(2 * effort - 1 + rng.normal(0, 1.5)), 0, 10)),
                    ces=int(np.clip(np.round(1.4 * effort + rng.normal(0, 1)), 1, 7)),
                )
            )

        themes = [
            "waiting_time",
            "contact_reachability",
            "reminders_notifications",
            "process_clarity",
            "online_service_usability",
            "documents_effort",
            "staff_attitude",
            "office_comfort",
        ]
        for unit, level in ((REGION, "region"), ("ALL", "country")):
            for rank, theme in enumerate(themes, start=1):
                neg = 60 - 6 * rank
                s.add(
                    PainPoint(
                        quarter=Q,
                        level=level,
                        unit_code=unit,
                        region_code=unit,
                        theme=theme,
                        journey_stage="first_contact",
                        mentions=neg + 10,
                        negative_mentions=neg,
                        texts_total=420,
                        negative_share=round(100 * neg / 420, 1),
                        ray="effort",
                        ray_score=70.0,
                        trend=None,
                        reach_offices=3,
                        offices_total=N_OFFICES,
                        component_reach=round(100 * neg / 420, 2),
                        component_severity=1.2,
                        component_trend=1.0,
                        component_driver=1.3,
                        component_coverage=1.0,
                        priority=round(neg * 1.56, 1),
                        rank=rank,
                    )
                )

        common = dict(
            journey_stage="periodic_meetings",
            type="process_optimisation",
            owner="Служба дизайна КО",
            kpi_metric="item:P3",
            kpi_baseline=61.0,
            kpi_target=70.0,
        )
        evaluated = []
        for i in range(1, N_MEASURES + 1):
            kind = i % 10
            if kind in (0, 1):
                status, proposed, due = "proposed", Q, date(2026, 12, 20)  # new this quarter
            elif kind in (6, 7):
                status, proposed, due = "in_progress", "2026Q1", date(2026, 8, 1)  # overdue at the quarter's end
            elif kind == 8:
                status, proposed, due = "evaluated", "2025Q4", date(2026, 3, 1)
            elif kind == 5:
                status, proposed, due = "proposed", "2026Q2", date(2026, 12, 31)  # no decision yet
            else:
                status = "approved" if kind == 2 else "in_progress" if kind < 9 else "implemented"
                proposed, due = "2026Q2", date(2026, 12, 31)
            m = Measure(
                code=f"M-52-{i:03d}",
                title=f"Мера {i}: напоминания и запись",
                description=f"Описание меры {i}",
                theme=themes[i % len(themes)],
                region_code=REGION,
                offices=offices[i % len(offices)],
                status=status,
                proposed_quarter=proposed,
                due_date=due,
                effect_verdict="effective" if status == "evaluated" else None,
                **common,
            )
            s.add(m)
            if status == "evaluated":
                evaluated.append(m)
        s.flush()
        for j, m in enumerate(evaluated):
            s.add(
                EffectEvaluation(
                    measure_id=m.id,
                    quarter=Q,
                    kpi_metric="item:P3",
                    method="did",
                    estimate=2.0 + j / 4,
                    ci_low=0.5 + j / 4,
                    ci_high=3.5 + j / 4,
                    p_value=0.01,
                    n_treated_units=2,
                    n_control_units=8,
                    n_obs=400,
                    verdict="effective",
                )
            )
        for k, m in enumerate(evaluated):
            # who changed what: staff names and comments quoting clients never leave the history
            s.add(
                MeasureHistory(
                    measure_id=m.id,
                    at=datetime(2026, 9, 1, tzinfo=UTC),
                    who=pii["names"][k % 10],
                    from_value="implemented",
                    to_value="evaluated",
                    comment=sentences[k % len(sentences)],
                )
            )


@pytest.fixture(scope="module")
def pii():
    return planted_personal_data()


@pytest.fixture(scope="module")
def big(tmp_path_factory, pii):
    tmp = tmp_path_factory.mktemp("bigreport")
    extra = [
        (f"52-{i}", f"ЦЗН Нижегородской области, отделение № {i}", REGION, REGION_NAME)
        for i in range(101, 101 + N_OFFICES - 5)
    ]
    config = load_config(_config_dir(tmp, extra))
    url = f"sqlite:///{tmp / 'cx.db'}"
    upgrade(url)
    populate_big(url, pii)
    with session_scope(url) as s:
        reports = write_reports(s, Q, config, tmp / "out", scopes=[NATIONAL, REGION])
        # what the templates were given, for the expected headings (in whatever wording the catalogs have)
        contexts = {scope: build_report_context(s, Q, scope, config) for scope in reports}
    pages = {scope: page_texts(r.path) for scope, r in reports.items()}
    yield {"url": url, "config": config, "reports": reports, "contexts": contexts, "pages": pages, "tmp": tmp}
    dispose_engines()


def page_texts(path: Path) -> list[str]:
    """Each page's text with whitespace folded (table cells wrap) and automatic
    hyphenation (U+2010 at a line end, narrow table headings) undone."""
    texts = []
    for page in PdfReader(str(path)).pages:
        text = (page.extract_text() or "").replace("\u2010\n", "").replace("-\n", "-")
        texts.append(re.sub(r"\s+", " ", text))
    return texts


# --------------------------------------------------------------------------- PDF/A-3u


def _xmp_pdfaid(reader: PdfReader) -> dict[str, str]:
    """pdfaid:* properties of the XMP packet (as attributes or child elements)."""
    xml = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    root = ET.fromstring(xml)
    found: dict[str, str] = {}
    for desc in root.iter(f"{{{RDF_NS}}}Description"):
        for key, value in desc.attrib.items():
            if key.startswith(f"{{{PDFA_NS}}}"):
                found[key.split("}")[1]] = value
        for child in desc:
            if child.tag.startswith(f"{{{PDFA_NS}}}"):
                found[child.tag.split("}")[1]] = (child.text or "").strip()
    return found


def _fonts(reader: PdfReader):
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            yield font, (descendants[0].get_object() if descendants else font)


def test_reports_are_pdfa_3u_with_the_quarter_register_embedded(big):
    as_of = Quarter.parse(Q).cycle_date
    with session_scope(big["url"]) as s:
        expected = export_register_csv(s, big["tmp"] / "export" / "register.csv", as_of).read_bytes()
    assert expected.count(b"\nM-52-") == N_MEASURES
    ctx = big["contexts"]
    for scope, report in big["reports"].items():
        raw = report.path.read_bytes()
        assert raw.startswith(b"%PDF-1.7"), scope
        reader = PdfReader(str(report.path))
        assert not reader.is_encrypted
        assert _xmp_pdfaid(reader) == {"part": "3", "conformance": "U"}, scope
        # sRGB output intent with its ICC profile
        intents = reader.trailer["/Root"]["/OutputIntents"]
        assert [i.get_object()["/S"] for i in intents] == ["/GTS_PDFA1"]
        assert intents[0].get_object()["/DestOutputProfile"].get_object().get_data()[36:40] == b"acsp"
        # the register, byte for byte as the quarter's CSV export, declared as an associated file
        assert reader.attachments == {register_csv_name(Q): [expected]}, scope
        (spec,) = [a.get_object() for a in reader.trailer["/Root"]["/AF"]]
        assert spec["/AFRelationship"] == "/Data" and spec["/F"] == register_csv_name(Q)
        stream = spec["/EF"]["/F"].get_object()
        assert stream["/Subtype"] == "/text/csv" and stream["/Params"]["/Size"] == len(expected)
        # level U: every font embedded and mapped to Unicode
        fonts = list(_fonts(reader))
        assert fonts
        for font, described in fonts:
            descriptor = described["/FontDescriptor"].get_object()
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), font
            assert "/ToUnicode" in font, font
        # metadata: title, language and the cycle's logical date, not the wall clock
        info = reader.metadata
        assert info.title == f"{ctx[scope]['title']} — {ctx[scope]['scope_name']} — {ctx[scope]['quarter_label']}"
        assert info.creator == "cxloop"
        assert info["/CreationDate"] == info["/ModDate"] == "D:" + as_of.strftime("%Y%m%d") + "000000Z"
        assert reader.trailer["/Root"]["/Lang"] == "ru"


def test_register_csv_bytes_is_the_export_judged_at_the_cycle_date(big, tmp_path):
    with session_scope(big["url"]) as s:
        attached = register_csv_bytes(s, Q, lang="en")
        exported = export_register_csv(s, tmp_path / "r.csv", date(2026, 10, 5), lang="en").read_bytes()
        earlier = export_register_csv(s, tmp_path / "e.csv", date(2026, 7, 1), lang="en").read_bytes()
    assert Quarter.parse(Q).cycle_date == date(2026, 10, 5)
    assert attached == exported
    assert attached != earlier  # measures due in August are overdue on the cycle date, not on 1 July


def test_personal_data_typed_into_a_measure_is_redacted_in_the_embedded_register(tmp_path, pii):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    upgrade(url)
    phone, email, name = pii["phones"][0], pii["emails"][0], pii["names"][0]
    common = dict(
        theme="waiting_time",
        type="new_experience",
        region_code="52",
        offices="52-01",
        owner="Служба КО",
        status="approved",
        proposed_quarter=Q,
        kpi_metric="item:P3",
        due_date=date(2026, 12, 1),
    )
    try:
        with session_scope(url) as s:
            s.add(
                Measure(
                    code="M-52-001", title="Электронная очередь", description="Талоны, табло, запись онлайн", **common
                )
            )
            s.add(
                Measure(
                    code="M-52-002",
                    title=f"Перезвонить: {phone}",
                    description=f"Со слов клиентки: «Меня зовут {name}, пишите на {email}»",
                    **common,
                )
            )
            s.add(
                Measure(
                    code="M-52-003",
                    title="Памятка, шаги; сроки",
                    description='Текст "в кавычках",\nв две строки',
                    **common,
                )
            )
        with session_scope(url) as s:
            attached = register_csv_bytes(s, Q)
            exported = export_register_csv(s, tmp_path / "r.csv", Quarter.parse(Q).cycle_date).read_bytes()
    finally:
        dispose_engines()
    text = attached.decode("utf-8-sig")
    assert phone not in text and email not in text and name.split()[1] not in text
    assert "[PHONE]" in text and "[EMAIL]" in text
    assert attached.startswith(b"\xef\xbb\xbf")
    # every other cell and row is the export's, byte for byte (quotes and line breaks included)
    mine, theirs = (
        list(csv.reader(text.splitlines(keepends=True))),
        list(csv.reader(exported.decode("utf-8-sig").splitlines(keepends=True))),
    )
    assert len(mine) == len(theirs) == 4 and mine[0] == theirs[0]
    assert [mine[1], mine[3]] == [theirs[1], theirs[3]]
    diff = [i for i, (a, b) in enumerate(zip(mine[2], theirs[2], strict=True)) if a != b]
    assert [theirs[0][i] for i in diff] == ["Мера", "Описание"]


# --------------------------------------------------------------------------- pages and tables


def test_every_page_has_the_running_header_and_page_x_of_y(big):
    contexts = big["contexts"]
    for scope, pages in big["pages"].items():
        n = len(pages)
        assert 8 <= n <= 40, (scope, n)  # body ~10 pages + the two appendices
        header = f"{contexts[scope]['scope_name']} · {contexts[scope]['quarter_label']}"
        assert (REGION_NAME if scope == REGION else "национальный") in header and "2026" in header
        for i, text in enumerate(pages, start=1):
            assert header in text, (scope, i, text[:200])
            assert f"стр. {i} из {n}" in text, (scope, i, text[-200:])


def _pages_with(pages: list[str], pattern: str) -> list[int]:
    return [i for i, text in enumerate(pages) if re.search(pattern, text)]


def test_long_tables_split_over_pages_with_their_header_repeated(big):
    pages = big["pages"][REGION]
    t = big["contexts"][REGION]["t"]
    register_header = " ".join(
        [t["code"], f"{t['measure']} / {t['theme']}", t["owner"], t["status"], t["due"], t["kpi"], t["verdict"]]
    )
    league_header = " ".join([t["place"], t["unit"], t["index"], t["ci"], t["stars"]])
    assert register_header.startswith("Код Мера / Тема Ответственный") and league_header.startswith(
        "Место Подразделение"
    )
    register_pages = _pages_with(pages, r"M-52-\d{3} Мера \d+: напоминания и запись .{0,60}Служба дизайна КО")
    league_pages = _pages_with(pages, r"ЦЗН Нижегородской области, отделение № 1\d\d \(52-1\d\d\)")
    assert len(register_pages) >= 4 and len(league_pages) >= 3, (register_pages, league_pages)
    for i in register_pages:
        assert register_header in pages[i], (i, pages[i][:300])
    for i in league_pages:
        assert league_header in pages[i], (i, pages[i][:300])
    # a continued table: rows on a page that starts with no section or group heading
    appendix_start = next(
        i for i, t in enumerate(pages) if "Приложение 1. Реестр корректирующих мер (продолжение)" in t
    )
    continued = [i for i in register_pages if i > appendix_start and not re.search(r"\(\d+\): строки", pages[i])]
    assert continued, "no register page without a heading: the long table did not run over a page"


def test_long_lists_continue_in_appendices_row_for_row(big):
    pages = big["pages"][REGION]
    text = " ".join(pages)
    # every measure and every office is printed once: moved to the appendix, not copied
    # (an evaluated measure is printed a second time, in the effects table)
    for i in range(1, N_MEASURES + 1):
        n = len(re.findall(rf"M-52-{i:03d} Мера {i}:", text))
        assert n == (2 if i % 10 == 8 else 1), (i, n)
    assert len(re.findall(r"\(52-(?:0[1-5]|1\d\d|2[01]\d)\) ", text)) == N_OFFICES
    start = next(i for i, t in enumerate(pages) if "Приложение 1. " in t)
    body, appendix = " ".join(pages[:start]), " ".join(pages[start:])
    # the body keeps the first rows of each long list, with the full counts, and says where the rest is
    counts = {
        "Новые меры квартала": GROUP_SIZES["new"],
        "Предложены ранее, ждут решения": GROUP_SIZES["awaiting"],
        "Утверждены и в работе": GROUP_SIZES["in_progress"],
        "Внедрены, эффект ещё не оценён": GROUP_SIZES["implemented"],
        "Просроченные меры": GROUP_SIZES["overdue"],
        "Оценённые меры": GROUP_SIZES["evaluated"],
    }
    long_groups = {h: n for h, n in counts.items() if n > REGISTER_BODY_ROWS}
    assert 0 < len(long_groups) < len(counts)  # the data has long groups and a short one
    for heading, total in counts.items():
        assert f"{heading} ({total})" in body
        assert (f"{heading} ({total}): строки {REGISTER_BODY_ROWS + 1}–{total}" in appendix) == (heading in long_groups)
    assert body.count(f"Строки 1–{REGISTER_BODY_ROWS} из ") == len(long_groups)
    assert f"Строки 1–{REGISTER_BODY_ROWS} из {GROUP_SIZES['in_progress']}; продолжение — в приложении 1." in body
    assert f"Строки 1–{LEAGUE_BODY_ROWS} из {N_OFFICES}; продолжение — в приложении 2." in body
    assert f"Реестр мер целиком приложен к этому PDF-файлу: {register_csv_name(Q)} (CSV)." in body
    assert f"Приложение 2. Рейтинг офисов (продолжение, строки {LEAGUE_BODY_ROWS + 1}–{N_OFFICES})" in appendix


def test_report_layout_moves_rows_and_keeps_short_lists_whole(big):
    ctx = big["contexts"][REGION]
    with session_scope(big["url"]) as s:
        small = build_report_context(s, Q, "66", big["config"])
    laid = report_layout(ctx, league_rows=25, register_rows=7)
    for key in REGISTER_GROUPS:
        full = ctx["register"][key]
        assert laid["register"]["totals"][key] == len(full)
        assert laid["register"][key] + laid["appendix"]["register"]["rest"][key] == full
        assert len(laid["register"][key]) == min(7, len(full))
    assert laid["league"]["offices"] + laid["appendix"]["league"]["rows"] == ctx["league"]["offices"]
    assert (laid["appendix"]["register"]["number"], laid["appendix"]["league"]["number"]) == (1, 2)
    assert (
        ctx["register"]["overdue"] is not laid["register"]["overdue"]
        and len(ctx["register"]["overdue"]) == GROUP_SIZES["overdue"]
    )
    # region 66 has two measures at most and five offices: no appendix, nothing said about one
    short = report_layout(small)
    assert short["appendix"]["register"] is None and short["appendix"]["league"] is None
    assert set(short["appendix"]["more"].values()) == {""} and short["appendix"]["register_csv"] == ""
    assert report_layout({**small, REGISTER_CSV_KEY: b"x"})["appendix"]["register_csv"].endswith("(CSV).")


def _many_offices(ctx: dict, n: int) -> list[dict]:
    """``n`` league rows in the shape the context has (synthetic offices, ranked, the last 20 too small)."""
    template = ctx["league"]["offices"][0]
    rows = []
    for i in range(n):
        small = i >= n - 20
        rows.append(
            {
                **template,
                "place": "—" if small else str(i + 1),
                "code": f"77-{i:04d}",
                "region_code": "77",
                "name": f"Офис № {i}",
                "index": None if small else 90 - i * 0.01,
                "ci_low": None if small else 85.0,
                "ci_high": None if small else 95.0,
                "change": None,
                "stars": None if small else 4,
                "index_text": "—" if small else "x",
                "n": 5 if small else 120,
                "sufficient": not small,
            }
        )
    return rows


def test_a_list_too_long_for_an_appendix_goes_to_an_attached_csv(big, tmp_path):
    """The national report of 2,400 offices would print ~60 pages of ranking: above
    APPENDIX_MAX_ROWS the body keeps the first rows and the whole ranking is a CSV
    embedded in the PDF (PDF/A-3 associated file); the register likewise relies on its CSV."""
    ctx = dict(big["contexts"][NATIONAL])
    n = LEAGUE_BODY_ROWS + APPENDIX_MAX_ROWS + 1
    offices = _many_offices(ctx, n)
    ctx["league"] = {**ctx["league"], "offices": offices}
    register_csv = b"\xef\xbb\xbfcode\r\nM-1\r\n"
    ctx[REGISTER_CSV_KEY] = register_csv
    many = [
        dict(ctx["register"]["in_progress"][0], code=f"M-77-{i:03d}")
        for i in range(APPENDIX_MAX_ROWS + REGISTER_BODY_ROWS + 1)
    ]
    ctx["register"] = {**ctx["register"], "in_progress": many}

    laid = report_layout(ctx)
    name = league_csv_name(Q, NATIONAL)
    assert name == "offices_2026Q3_national.csv"
    assert laid["appendix"]["league"] is None and laid["appendix"]["register"] is None
    assert laid["appendix"]["league_csv"] == {"name": name, "rows": offices}
    assert laid["league"]["offices"] == offices[:LEAGUE_BODY_ROWS]
    assert laid["appendix"]["more"]["league"] == (
        f"Строки 1–{LEAGUE_BODY_ROWS} из {n}; все строки — в приложенном к этому PDF-файлу {name} (CSV)."
    )
    assert laid["register"]["in_progress"] == many[:REGISTER_BODY_ROWS]
    assert register_csv_name(Q) in laid["appendix"]["more"]["in_progress"]
    # one row shorter: the appendix, as before
    shorter = report_layout({**ctx, "league": {**ctx["league"], "offices": offices[:-1]}})
    assert shorter["appendix"]["league_csv"] is None and len(shorter["appendix"]["league"]["rows"]) == APPENDIX_MAX_ROWS
    # without the register's CSV the register's rest is printed, however long
    assert (
        report_layout({**ctx, REGISTER_CSV_KEY: b""})["appendix"]["register"]["rest"]["in_progress"]
        == many[REGISTER_BODY_ROWS:]
    )

    path = render_report_pdf(ctx, tmp_path / "national.pdf")
    reader = PdfReader(str(path))
    assert set(reader.attachments) == {register_csv_name(Q), name}
    assert reader.attachments[register_csv_name(Q)] == [register_csv]
    specs = {a.get_object()["/F"]: a.get_object() for a in reader.trailer["/Root"]["/AF"]}
    assert set(specs) == {register_csv_name(Q), name} and all(v["/AFRelationship"] == "/Data" for v in specs.values())
    table = list(csv.reader(reader.attachments[name][0].decode("utf-8-sig").splitlines()))
    assert table[0] == [
        "Место",
        "Код офиса",
        "Офис",
        "Регион",
        "Индекс (0–100)",
        "95% ДИ от",
        "95% ДИ до",
        "Звёзды",
        "Изменение",
        "Респондентов",
        "Достаточная выборка",
    ]
    assert [r[1] for r in table[1:]] == [o["code"] for o in offices]
    assert table[1] == ["1", "77-0000", "Офис № 0", "77", "90.0", "85.0", "95.0", "4", "", "120", "да"]
    assert table[-1][:2] == ["", offices[-1]["code"]] and table[-1][-1] == "нет" and table[-1][4] == ""
    text = " ".join(page_texts(path))
    assert "Офис № 100 " not in text and "M-77-100" not in text  # neither list is printed past the body
    assert "Приложение" not in text
    assert len(reader.pages) < 25


# --------------------------------------------------------------------------- personal data


def test_no_planted_personal_data_in_any_page_metadata_or_attachment(big, pii):
    needles = [v for group in pii.values() for v in group] + [n.split()[1] for n in pii["names"]]
    assert len(needles) > 30
    for scope, report in big["reports"].items():
        reader = PdfReader(str(report.path))
        text = " ".join(big["pages"][scope])
        metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
        info = " ".join(str(v) for v in reader.metadata.values())
        attached = " ".join(b.decode("utf-8-sig") for blobs in reader.attachments.values() for b in blobs)
        # the planted data is in the database: measure descriptions, feedback, quarantine, history
        for where, content in (("text", text), ("xmp", metadata), ("info", info), ("attachment", attached)):
            leaked = [n for n in needles if n in content]
            assert not leaked, (scope, where, len(leaked))


# --------------------------------------------------------------------------- markup and the network


class _Recorder(BaseHTTPRequestHandler):
    """Answers everything with a tiny PNG and writes down what was asked."""

    requests: list[str] = []
    PNG = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2219bc80000000049454e44ae426082"
    )

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css" if self.path.endswith(".css") else "image/png")
        self.end_headers()
        self.wfile.write(b"body { background: url(/from-css.png) }" if self.path.endswith(".css") else self.PNG)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def recorder(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    handler = type("Handler", (_Recorder,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_markup_from_the_database_prints_as_text_and_the_renderer_requests_nothing(recorder, tmp_path):
    base, requests = recorder
    img = f'<img src="{base}/pixel.png">'
    link = f"<link rel=stylesheet href={base}/evil.css>"
    iframe = "<iframe src=file:///etc/passwd>"
    styled = f'<b style="background:url({base}/bg.png)">x</b>'
    attach = f"<link rel=attachment href={base}/steal>"
    # Control: the same markup, were it ever given to WeasyPrint as HTML with its default
    # fetcher, does reach the server, so an empty request log below means something.
    from weasyprint import HTML

    HTML(string=f"<p>{img}{link}{styled}</p>").write_pdf(tmp_path / "control.pdf")
    assert {"/pixel.png", "/evil.css", "/bg.png"} <= set(requests), requests
    requests.clear()

    # Every kind of database string the report prints, and a registry entry, carry markup.
    config_dir = _config_dir(tmp_path, [("66-90", iframe, "66", "Свердловская область")])
    config = load_config(config_dir)
    url = f"sqlite:///{tmp_path / 'evil.db'}"
    upgrade(url)
    with session_scope(url) as s:
        for level, unit, region in (("region", "66", "66"), ("office", "66-90", "66"), ("office", "66-01", "66")):
            s.add(
                IndexResult(
                    quarter=Q,
                    level=level,
                    unit_code=unit,
                    region_code=region,
                    client_type="composite",
                    index=80.0,
                    ci_low=78.0,
                    ci_high=82.0,
                    n=120,
                    stars=4,
                    sufficient_sample=True,
                )
            )
        f = IngestedFile(
            sha256="d" * 64, channel=attach, path="x.csv", quarter=Q, received=3, accepted=2, quarantined=1
        )
        s.add(f)
        s.flush()
        s.add(
            Quarantine(
                ingested_file_id=f.id,
                channel="pos",
                source_file="x.csv",
                source_row=2,
                field=styled,
                rule=link,
                reason=img,
                quarter=Q,
            )
        )
        s.add(
            PainPoint(
                quarter=Q,
                level="region",
                unit_code="66",
                region_code="66",
                theme=attach,
                journey_stage="exit",
                mentions=9,
                negative_mentions=8,
                texts_total=40,
                negative_share=20.0,
                ray="effort",
                priority=5.0,
                rank=1,
            )
        )
        m = Measure(
            code="M-66-900",
            title=img,
            description=iframe,
            theme="waiting_time",
            type="new_experience",
            region_code="66",
            offices="66-90",
            owner=link,
            status="evaluated",
            proposed_quarter="2026Q1",
            kpi_metric=styled,
            effect_verdict="effective",
        )
        s.add(m)
        s.flush()
        s.add(
            EffectEvaluation(
                measure_id=m.id,
                quarter=Q,
                kpi_metric=styled,
                method=attach,
                estimate=3.0,
                ci_low=1.0,
                ci_high=5.0,
                p_value=0.01,
                n_treated_units=1,
                n_control_units=4,
                n_obs=90,
                verdict="effective",
            )
        )
    try:
        with session_scope(url) as s:
            reports = write_reports(s, Q, config, tmp_path / "out", scopes=["66"])
    finally:
        dispose_engines()

    assert requests == []
    reader = PdfReader(str(reports["66"].path))
    text = " ".join(page_texts(reports["66"].path))
    # URLs wrap after "/" in narrow cells: compare without the line breaks
    flat = re.sub(r"\s+", "", text)
    for markup in (img, link, iframe, styled, attach):
        assert re.sub(r"\s+", "", markup) in flat, markup
    assert img in text  # a short one in a wide cell comes out whole
    assert list(reader.attachments) == [register_csv_name(Q)]  # <link rel=attachment> attached nothing
    assert "root:" not in text  # /etc/passwd was not read


# --------------------------------------------------------------------------- PNG for people


def _png_pages(pdf: Path, stem: str) -> list[Path]:
    exe = shutil.which("pdftoppm")
    if exe is None:
        pytest.fail("pdftoppm not found: install Debian's poppler-utils (`make system-deps` does it)")
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    for old in PNG_DIR.glob(f"{stem}-*.png"):
        old.unlink()
    subprocess.run(
        [exe, "-r", "60", "-png", "-f", "1", "-l", "2", str(pdf), str(PNG_DIR / stem)], check=True, timeout=60
    )
    return sorted(PNG_DIR.glob(f"{stem}-*.png"))


def test_first_pages_render_to_png_for_a_person_to_look_at(big):
    for scope, report in big["reports"].items():
        pngs = _png_pages(report.path, f"report_{Q}_{scope}")
        assert len(pngs) == 2, pngs
        for png in pngs:
            with Image.open(png) as im:
                assert abs(im.width - 496) <= 2 and abs(im.height - 702) <= 2, im.size  # A4 at 60 dpi
                grey = im.convert("L")
                levels = len(grey.getcolors(256))
                ink = sum(n for n, v in grey.getcolors(256) if v < 200) / (im.width * im.height)
            # text, charts and table rules: many grey levels and a fair share of ink, not a blank page
            assert levels > 40 and 0.02 < ink < 0.6, (png.name, levels, ink)
