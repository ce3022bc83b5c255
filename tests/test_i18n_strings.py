"""The last interface strings that lived in Python dicts now come from the Babel catalogs:
the PDF's layout words, the register's column headers and co-design forms, the
importance-performance chart's defaults and tick labels, and the quarantine reasons of
the report in plain words.

"From the catalog" is checked against the .po files themselves: each text must be the
msgstr of its entry in ``locale/<lang>/LC_MESSAGES/cxloop.po`` (read with Babel, not
through the code under test), so a dict left in the code, or a translation changed in
one place only, fails here.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from cxloop.domain import RAY_ITEMS
from cxloop.i18n import LANGUAGES, LOCALES, POT_PATH, Marked, gettext, message_keys, po_path, read_catalog

ROOT = Path(__file__).resolve().parent.parent
EXPECTATIONS = sorted((ROOT / "expectations").glob("*.json"))
#: Suites of the feedback intake, whose rules and fields fill the report's quarantine table
#: (measure_register.json checks register imports, reported by the import itself).
INTAKE_SUITES = [p for p in EXPECTATIONS if p.stem != "measure_register"]


@pytest.fixture(scope="module")
def po():
    """lang -> (msgctxt, msgid) -> msgstr, read straight from the .po files."""
    out = {}
    for lang in LANGUAGES:
        catalog = read_catalog(po_path(lang), locale=LOCALES[lang])
        out[lang] = {(m.context, m.id): m.string for m in catalog if m.id and isinstance(m.id, str)}
    return out


def _key(entry: str | Marked) -> tuple[str | None, str]:
    return (entry.context, entry.message) if isinstance(entry, Marked) else (None, entry)


def _msgstr(po, lang: str, entry: str | Marked, **values) -> str:
    text = po[lang][_key(entry)]
    assert text, (lang, entry)
    return text % values


def _in_template(entries) -> list:
    template = message_keys(read_catalog(POT_PATH))
    return [e for e in entries if _key(e) not in template]


# --------------------------------------------------------------------------- the PDF's layout words


def test_layout_words_come_from_the_catalogs(po):
    from tasks.reports.strings import LAYOUT_TEXT as _LAYOUT_TEXT
    from tasks.reports.strings import layout_text as _layout_text
    from tasks.reports.strings import layout_texts as _layout_texts

    assert all(isinstance(e, (str, Marked)) for e in _LAYOUT_TEXT.values())  # msgids, not a table per language
    assert _in_template(_LAYOUT_TEXT.values()) == []
    values = {
        "more": dict(shown=15, total=40, number=2),
        "rows": dict(first=16, last=40),
        "register_csv": dict(name="measures_2026Q3.csv"),
        "attachment": dict(date="2026-10-05"),
        "more_csv": dict(shown=30, total=2400, name="offices_2026Q3_national.csv"),
        "league_attachment": dict(quarter="Q3 2026"),
    }
    seen: dict[str, set[str]] = {key: set() for key in _LAYOUT_TEXT}
    for lang in LANGUAGES:
        words = _layout_texts(lang)
        assert words == {k: _msgstr(po, lang, _LAYOUT_TEXT[k]) for k in ("appendix", "continued")}
        seen["appendix"].add(words["appendix"])
        seen["continued"].add(words["continued"])
        for key, kw in values.items():
            text = _layout_text(lang, key, **kw)
            assert text == _msgstr(po, lang, _LAYOUT_TEXT[key], **kw)
            assert all(str(v) in text for v in kw.values()) and "%(" not in text
            seen[key].add(text)
    assert all(len(texts) == len(LANGUAGES) for texts in seen.values()), seen  # every language its own words
    # The wording the dicts had, kept.
    assert _layout_texts("ru") == {"appendix": "Приложение", "continued": "продолжение"}
    assert (
        _layout_text("ru", "more", shown=15, total=40, number=2) == "Строки 1–15 из 40; продолжение — в приложении 2."
    )
    assert _layout_text("fi", "rows", first=16, last=40) == "rivit 16–40"
    assert (
        _layout_text("en", "attachment", date="2026-10-05")
        == "Register of corrective measures as of 2026-10-05 (CSV, UTF-8)"
    )
    assert _layout_texts("de") == _layout_texts("en")  # a language without a catalog reads English


def test_report_layout_notes_are_in_the_report_language():
    from tasks.reports.attachments import REGISTER_CSV_KEY
    from tasks.reports.layout import report_layout

    def context(lang):
        rows = [{"code": f"M-{i}"} for i in range(20)]
        return {
            "lang": lang,
            "quarter": "2026Q3",
            REGISTER_CSV_KEY: b"x",
            "register": {"new": rows, "in_progress": [], "overdue": [], "evaluated": []},
            "league": {"offices": [{"unit": i} for i in range(35)]},
        }

    ru = report_layout(context("ru"))["appendix"]
    fi = report_layout(context("fi"))["appendix"]
    assert ru["more"]["new"] == "Строки 1–15 из 20; продолжение — в приложении 1."
    assert ru["more"]["league"] == "Строки 1–30 из 35; продолжение — в приложении 2."
    assert ru["register"]["rows_text"]["new"] == "строки 16–20" and ru["league"]["rows_text"] == "строки 31–35"
    assert fi["more"]["new"] == "Rivit 1–15 (yhteensä 20); taulukko jatkuu liitteessä 1."
    assert ru["register_csv"] == "Реестр мер целиком приложен к этому PDF-файлу: measures_2026Q3.csv (CSV)."
    assert fi["register_csv"] == "Koko toimenpiderekisteri on tämän PDF-tiedoston liitteenä: measures_2026Q3.csv (CSV)."
    assert fi["words"] == {"appendix": "Liite", "continued": "jatkoa"}


# --------------------------------------------------------------------------- the measure register


def test_register_headers_and_codesign_forms_come_from_the_catalogs(po):
    from tasks.measures.export import EXPORT_COLUMNS, REGISTER_COLUMN_MSGIDS, REGISTER_LABELS
    from tasks.measures.status import CODESIGN_FORM_LABELS, CODESIGN_FORM_MSGIDS, CODESIGN_FORMS, codesign_label

    assert _in_template(REGISTER_COLUMN_MSGIDS.values()) == []
    assert _in_template(CODESIGN_FORM_MSGIDS.values()) == []
    assert set(REGISTER_LABELS) == set(LANGUAGES) == set(CODESIGN_FORM_LABELS)
    for lang in LANGUAGES:
        assert REGISTER_LABELS[lang] == {c: _msgstr(po, lang, e) for c, e in REGISTER_COLUMN_MSGIDS.items()}
        assert CODESIGN_FORM_LABELS[lang] == {f: _msgstr(po, lang, e) for f, e in CODESIGN_FORM_MSGIDS.items()}
        assert set(REGISTER_LABELS[lang]) == set(EXPORT_COLUMNS)
        assert set(CODESIGN_FORM_LABELS[lang]) == set(CODESIGN_FORMS)
    # Every language has its own headers (KPI is KPI in Russian and English alike).
    for column in EXPORT_COLUMNS:
        headers = {REGISTER_LABELS[lang][column] for lang in LANGUAGES}
        assert len(headers) == (2 if column == "kpi_metric" else 3), (column, headers)
    for form in CODESIGN_FORMS:
        assert len({CODESIGN_FORM_LABELS[lang][form] for lang in LANGUAGES}) == 3
    # The wording of the old tables, kept (files exported before still import), "%%" read as "%".
    assert REGISTER_LABELS["ru"]["code"] == "Код" and REGISTER_LABELS["fi"]["code"] == "Tunnus"
    assert REGISTER_LABELS["ru"]["effect_ci_low"] == "95% ДИ от"
    assert REGISTER_LABELS["en"]["effect_ci_high"] == "95% CI high"
    assert REGISTER_LABELS["fi"]["effect_ci_low"] == "95 % LV alaraja"
    assert REGISTER_LABELS["fi"]["kpi_metric"] == "Mittari"
    assert CODESIGN_FORM_LABELS["ru"]["client_test"] == "тестирование с клиентами"
    assert CODESIGN_FORM_LABELS["fi"]["workshop"] == "työpaja"
    assert codesign_label("observation", "fi") == "havainnointi"
    assert codesign_label("observation", "de") == "observation"  # English for other languages


@pytest.mark.parametrize("lang", LANGUAGES)
def test_register_import_accepts_the_headers_and_forms_of_every_language(tmp_path, lang):
    from tasks.measures.export import EXPORT_COLUMNS, REGISTER_LABELS
    from tasks.measures.register_file import read_register_file
    from tasks.measures.status import CODESIGN_FORM_LABELS, CODESIGN_FORMS, codesign_form_id

    labels = REGISTER_LABELS[lang]
    path = tmp_path / f"register_{lang}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([labels[c] for c in EXPORT_COLUMNS])
        writer.writerow(["M-1" if c == "code" else "1" if c == "version" else "" for c in EXPORT_COLUMNS])
    register = read_register_file(path)
    assert register.ignored == []
    assert {c: label for c, (_pos, label) in register.columns.items()} == {c: labels[c] for c in EXPORT_COLUMNS}
    for form in CODESIGN_FORMS:
        assert codesign_form_id(CODESIGN_FORM_LABELS[lang][form]) == form
        assert codesign_form_id(CODESIGN_FORM_LABELS[lang][form].upper()) == form


@pytest.mark.parametrize(
    "lang, title", [("ru", "Реестр мер"), ("en", "Measure register"), ("fi", "Toimenpiderekisteri")]
)
def test_register_xlsx_sheet_and_headers_are_in_the_language(db_url, tmp_path, lang, title):
    from openpyxl import load_workbook

    from models.db import session_scope
    from tasks.measures.export import EXPORT_COLUMNS, REGISTER_LABELS, export_register_xlsx

    with session_scope(db_url) as s:
        path = export_register_xlsx(s, tmp_path / "register.xlsx", date(2026, 10, 5), lang)
    ws = load_workbook(path).active
    assert ws.title == title
    assert [c.value for c in ws[1]] == [REGISTER_LABELS[lang][c] for c in EXPORT_COLUMNS]


# --------------------------------------------------------------------------- the importance-performance chart


def test_chart_defaults_come_from_the_catalogs_and_differ_per_language(po):
    from tasks.reports import charts

    assert all(isinstance(e, (str, Marked)) for e in charts._IPA_TEXT.values())
    assert _in_template(charts._IPA_TEXT.values()) == []
    texts = {lang: charts._ipa_texts(lang) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert texts[lang] == {k: _msgstr(po, lang, e) for k, e in charts._IPA_TEXT.items()}
    for key in charts._IPA_TEXT:
        assert len({texts[lang][key] for lang in LANGUAGES}) == 3, key
    assert texts["ru"]["fix_first"] == "исправлять в первую очередь"
    assert texts["fi"]["x_label"] == "tärkeys (osuus selitetystä vaihtelusta), %"
    assert charts._ipa_texts("de") == texts["en"]


def test_chart_shows_the_default_captions_and_the_locale_numbers():
    import pandas as pd

    from tasks.reports import charts

    frame = pd.DataFrame({"ray": ["friendliness", "effort"], "importance": [0.625, 0.375], "performance": [82.5, 61.5]})
    fi = charts.importance_performance_svg(frame, labels={}, lang="fi")
    texts = charts._ipa_texts("fi")
    for key in ("fix_first", "keep_up", "x_label", "y_label"):  # the other two captions wrap onto two lines
        assert texts[key] in fi, key
    assert "korjaa ensin" in fi and "tulos (säteen arvo 0–100)" in fi
    assert "fix first" not in fi
    # Tick labels: the locale's decimal symbol, the true minus sign.
    assert charts._number_formatter("ru", 1)(-2.25, 0) == "−2,2"
    assert charts._number_formatter("fi", 1)(0.5, 0) == "0,5"
    assert charts._number_formatter("en", 1)(0.5, 0) == "0.5"
    assert charts._number_formatter("ru")(-0.2, 0) == "0"  # rounds to zero: no sign
    assert charts._number_formatter("xx", 1)(1.5, 0) == "1.5"


# --------------------------------------------------------------------------- quarantine reasons in plain words


def _suite_items(paths):
    for path in paths:
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            yield expectation["type"], expectation["kwargs"].get("column")


def test_every_expectation_type_has_a_plain_label_in_every_language(po):
    from tasks.reports.strings import QUARANTINE_RULE_LABELS, quarantine_rule_label

    assert _in_template(QUARANTINE_RULE_LABELS.values()) == []
    rules = {rule for rule, _column in _suite_items(EXPECTATIONS)} | {"parse"}
    assert len(rules) >= 7
    for rule in sorted(rules):
        labels = {lang: quarantine_rule_label(rule, lang) for lang in LANGUAGES}
        assert labels == {lang: _msgstr(po, lang, QUARANTINE_RULE_LABELS[rule]) for lang in LANGUAGES}
        assert len(set(labels.values())) == 3 and rule not in labels.values(), (rule, labels)
        assert all("_" not in text for text in labels.values())  # words, not ids
    assert quarantine_rule_label("expect_column_values_to_not_be_null", "en") == "value missing"
    assert quarantine_rule_label("parse", "ru") == "строку не удалось прочитать"
    assert quarantine_rule_label("bad_date", "fi") == "bad_date"  # unknown ids show unchanged


def test_every_intake_field_has_a_plain_label_in_every_language():
    from cxloop.domain import ITEMS
    from tasks.reports.strings import QUARANTINE_FIELD_LABELS, quarantine_field_label

    assert _in_template(QUARANTINE_FIELD_LABELS.values()) == []
    fields = {column for _rule, column in _suite_items(INTAKE_SUITES) if column} | {"(row)"}
    assert {"office_code", "received_at", "rating", "client_type", "text", "F1"} <= fields
    for field_id in sorted(fields):
        assert field_id in QUARANTINE_FIELD_LABELS or field_id in ITEMS, field_id
        labels = {lang: quarantine_field_label(field_id, lang) for lang in LANGUAGES}
        # ("channel" is "channel" in English, but never in Russian or Finnish)
        assert field_id not in (labels["ru"], labels["fi"]) and len(set(labels.values())) == 3, (field_id, labels)
    assert quarantine_field_label("office_code", "en") == "office"
    assert quarantine_field_label("received_at", "ru") == "дата"
    assert quarantine_field_label("C4", "fi") == f"vastaus C4 ({gettext('fi')('external comfort and convenience')})"
    assert quarantine_field_label("answer_id_nobody_knows", "ru") == "answer_id_nobody_knows"
    assert all(item in fields for items in RAY_ITEMS.values() for item in items)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_context_reasons_rows_carry_plain_words(db_url, config, lang):
    from models.db import session_scope
    from models.tables import IngestedFile, Quarantine
    from tasks.reports.context import build_report_context
    from tasks.reports.render import render_report_html

    q = "2026Q3"
    with session_scope(db_url) as s:
        f = IngestedFile(
            sha256="c" * 64,
            channel="star_survey",
            path="star_survey.csv",
            quarter=q,
            received=20,
            accepted=10,
            quarantined=10,
            duplicates=0,
        )
        s.add(f)
        s.flush()
        rows = (
            [("expect_column_values_to_not_be_null", "region_code")] * 4
            + [("expect_column_values_to_be_in_set", "office_code")] * 3
            + [("expect_column_values_to_be_between; expect_column_values_to_not_be_null", "F1; received_at")] * 2
            + [("parse", "(row)"), ("bad_date", "received_at")]
        )
        for i, (rule, fld) in enumerate(rows):
            s.add(
                Quarantine(
                    ingested_file_id=f.id,
                    channel="star_survey",
                    source_file="star_survey.csv",
                    source_row=i + 2,
                    field=fld,
                    rule=rule,
                    reason="—",
                    quarter=q,
                )
            )
    with session_scope(db_url) as s:
        ctx = build_report_context(s, q, "national", config, lang=lang)
    _ = gettext(lang)
    reasons = ctx["channels"]["reasons"]
    # Counting as before: one row per (rule, field), a two-rule row counted for each.
    assert [(r["rule"], r["field"], r["count"]) for r in reasons] == [
        ("expect_column_values_to_not_be_null", "region_code", 4),
        ("expect_column_values_to_be_in_set", "office_code", 3),
        ("expect_column_values_to_be_between", "F1", 2),
        ("expect_column_values_to_not_be_null", "received_at", 2),
        ("bad_date", "received_at", 1),
        ("parse", "(row)", 1),
    ]
    plain = [(r["rule_label"], r["field_label"]) for r in reasons]
    rule = lambda text: _.pgettext("quarantine rule", text)  # noqa: E731
    fld = lambda text: _.pgettext("quarantine field", text)  # noqa: E731
    ray = _("friendliness and partnership")
    assert plain == [
        (rule("value missing"), fld("region")),
        (rule("value not allowed"), fld("office")),
        (rule("value out of range"), _.pgettext("quarantine field", "answer %(item)s (%(ray)s)", item="F1", ray=ray)),
        (rule("value missing"), fld("date")),
        ("bad_date", fld("date")),
        (rule("row could not be read"), fld("whole row")),
    ]
    if lang == "ru":
        assert plain[0] == ("нет значения", "регион") and plain[2][1] == "ответ F1 (дружелюбие и партнёрство)"
    html = render_report_html(ctx)
    for label, field_label in plain:
        assert f"<td>{label}</td><td>{field_label}</td>" in html
    assert "expect_column" not in html and "region_code" not in html


def test_the_catalogs_module_imports_no_task():
    code = "import sys, cxloop.i18n; print(sorted(m for m in sys.modules if m == 'tasks' or m.startswith('tasks.')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
